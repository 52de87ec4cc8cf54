"""An answerer without a language model: the passage sentences that best match the question, cited.

It is the fastest backend and the fallback when no model is installed. Sentences are scored by
the question's content words they contain, weighted by how rare each word is among the passages
(so "backups" counts more than "team"); the best one or two sentences above a minimum overlap are
returned verbatim with their passage number, otherwise the answer is "The documents do not say."
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

from generator.base import Generation, GenerationOptions, Message
from generator.citations import content_words, sentence_spans
from generator.prompt import NOT_IN_DOCUMENTS, parse_messages

MIN_MATCHED_SHARE = 0.34  # of the question's weighted content words, for a sentence to count
MAX_SENTENCES = 2


class ExtractiveGenerator:
    thread_safe = True  # no model and no state: answers may run side by side
    name = "extractive"

    def __init__(self, model: str = "", **_: object) -> None:
        if model:
            raise ValueError("the extractive backend takes no model")

    @property
    def context_window(self) -> int:
        return 1_000_000  # no model window: every retrieved passage is considered

    def warm_up(self) -> None:
        return None

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(m.content.split()) for m in messages)

    def generate(self, messages: Sequence[Message], options: GenerationOptions) -> Generation:
        text = self._answer(messages)
        return Generation(text, self.count_tokens(messages), len(text.split()), "stop")

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        yield self._answer(messages)

    def _answer(self, messages: Sequence[Message]) -> str:
        question, passages = parse_messages(messages)
        wanted = content_words(question)
        if not wanted or not passages:
            return NOT_IN_DOCUMENTS
        documents = [content_words(p.text) for p in passages]
        weight = {w: math.log(1 + len(passages) / (1 + sum(w in d for d in documents))) + 0.1 for w in wanted}
        total = sum(weight.values())
        scored = []
        for rank, passage in enumerate(passages):
            for start, end in sentence_spans(passage.text):
                sentence = passage.text[start:end].strip()
                share = sum(weight[w] for w in wanted & content_words(sentence)) / total
                scored.append((share, -rank, -start, sentence, passage.number))
        scored.sort(reverse=True)
        chosen = [s for s in scored if s[0] >= MIN_MATCHED_SHARE][:MAX_SENTENCES]
        if not chosen:
            return NOT_IN_DOCUMENTS
        return " ".join(f"{_as_sentence(sentence)} [{number}]." for _, _, _, sentence, number in chosen)


def _as_sentence(text: str) -> str:
    return text.rstrip(" .!?;:")
