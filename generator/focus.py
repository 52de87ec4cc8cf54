"""Cut the retrieved passages down to the sentences that bear on the question.

On a 2-core CPU a small model reads about a hundred prompt tokens per second, so every sentence in
the prompt costs time before the first answer token; small models also answer better from a few
relevant sentences than from whole pages. Sentences are scored by the share of the question's
(locally idf-weighted) content words they contain, with a small preference for better-ranked
passages; the best ones are kept in their original order, and passages left without a sentence
drop out of the prompt.

Sentences that read as instructions to the model (``generator.injection``) are never candidates:
the model does not read them, however well they match the question.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from generator.citations import content_words
from generator.injection import clean_spans, flagged_units
from generator.prompt import Passage

RANK_PENALTY = 0.1  # score lost per rank step: ties go to the better-ranked passage


def focus(question: str, passages: Sequence[Passage], max_sentences: int) -> list[tuple[int, Passage]]:
    """(index into ``passages``, that passage showing only its kept sentences), best rank first;
    everything but flagged sentences when there are no more than ``max_sentences``."""
    passages = [quarantine(passage) for passage in passages]
    candidates = [
        (index, span, content_words(passage.text[span[0] : span[1]]))
        for index, passage in enumerate(passages)
        for span in readable_spans(passage)
    ]
    if max_sentences <= 0 or len(candidates) <= max_sentences:
        return [(index, passage) for index, passage in enumerate(passages) if readable_spans(passage)]
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


def quarantine(passage: Passage) -> Passage:
    """The passage with its instruction-like sentences flagged and left out of what is shown;
    unchanged when it has none (or was quarantined already)."""
    if passage.flagged:
        return passage
    flagged = flagged_units(passage.text)
    if not flagged:
        return passage
    return replace(passage, flagged=tuple(flagged), shown=tuple(clean_spans(passage.text, flagged)))


def readable_spans(passage: Passage) -> list[tuple[int, int]]:
    """The spans the model may read: the shown ones, or every sentence; none when all are flagged."""
    if passage.shown or passage.flagged:
        return list(passage.shown)
    return clean_spans(passage.text, ())
