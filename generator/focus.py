"""Cut the retrieved passages down to the sentences that bear on the question.

On a 2-core CPU a small model reads about a hundred prompt tokens per second, so every sentence in
the prompt costs time before the first answer token; small models also answer better from a few
relevant sentences than from whole pages. Sentences are scored by the share of the question's
(locally idf-weighted) content words they contain, with a small preference for better-ranked
passages; the best ones are kept in their original order, and passages left without a sentence
drop out of the prompt.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from generator.citations import content_words, sentence_spans
from generator.prompt import Passage

RANK_PENALTY = 0.1  # score lost per rank step: ties go to the better-ranked passage


def focus(question: str, passages: Sequence[Passage], max_sentences: int) -> list[tuple[int, Passage]]:
    """(index into ``passages``, that passage showing only its kept sentences), best rank first;
    everything unchanged when there are no more sentences than ``max_sentences``."""
    candidates = [
        (index, span, content_words(passage.text[span[0] : span[1]]))
        for index, passage in enumerate(passages)
        for span in sentence_spans(passage.text)
    ]
    if max_sentences <= 0 or len(candidates) <= max_sentences:
        return list(enumerate(passages))
    asked = content_words(question)
    frequency = {w: sum(w in words for _, _, words in candidates) for w in asked}
    weight = {w: math.log(1 + len(candidates) / (1 + frequency[w])) for w in asked}
    mass = sum(weight.values()) or 1.0

    def score(position: int) -> float:
        index, _, words = candidates[position]
        return sum(weight[w] for w in asked & words) / mass - RANK_PENALTY * index

    best = sorted(range(len(candidates)), key=lambda p: (-score(p), p))[:max_sentences]
    kept: dict[int, list[tuple[int, int]]] = {}
    for position in sorted(best):
        index, span, _ = candidates[position]
        kept.setdefault(index, []).append(span)
    return [(index, replace(passages[index], shown=tuple(spans))) for index, spans in sorted(kept.items())]
