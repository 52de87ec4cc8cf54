"""Deterministic fake answer models for tests and benchmarks (the test suite registers the
scripted one as ``fake``; the others are named by ``generator.testing:factory``).

It answers with scripted replies (or echoes the last user message), streams it word by word, and
counts tokens as words, so budget and streaming logic can be asserted exactly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from generator.base import Generation, GenerationOptions, Message


class ScriptedGenerator:
    thread_safe = True

    def __init__(
        self,
        model: str = "",
        *,
        reply: str | None = None,
        replies: list[str] | None = None,
        context_window: int = 512,
        decline_logprob: float = -12.0,
        decline_threshold: float | None = None,
        **_: object,
    ):
        self.name = f"fake:{model or 'scripted'}"
        self.reply = reply
        self.replies = list(replies or [])  # used one per call, in order, before ``reply``
        self._context_window = context_window
        self.decline_logprob = decline_logprob  # what ``reply_logprob`` says of a declining reply
        self.decline_threshold = decline_threshold
        self.scored: list[str] = []
        self.calls: list[tuple[list[Message], GenerationOptions]] = []
        self.warmed = False

    @property
    def context_window(self) -> int:
        return self._context_window

    def warm_up(self) -> None:
        self.warmed = True

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(m.content.split()) + 4 for m in messages)  # 4 per message for the template

    def _text(self, messages: Sequence[Message], options: GenerationOptions) -> str:
        self.calls.append((list(messages), options))
        if self.replies:
            text = self.replies.pop(0)
        else:
            text = self.reply if self.reply is not None else messages[-1].content
        words = text.split(" ")[: options.max_tokens]
        out = " ".join(words)
        for stop in options.stop:
            out = out.split(stop, 1)[0]
        return out

    def reply_logprob(self, messages: Sequence[Message], reply_start: str, max_tokens: int = 3) -> float:
        self.scored.append(reply_start)
        return self.decline_logprob

    def generate(self, messages: Sequence[Message], options: GenerationOptions) -> Generation:
        text = self._text(messages, options)
        return Generation(text, self.count_tokens(messages), len(text.split()), "stop")

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        words = self._text(messages, options).split(" ")
        for i, word in enumerate(words):
            yield word if i == 0 else " " + word


def scripted_generator(**options: Any) -> ScriptedGenerator:
    return ScriptedGenerator(**options)


class PassageCopier(ScriptedGenerator):
    """Answers with the first sentence of passage [1], cited: what small models often do."""

    def _text(self, messages: Sequence[Message], options: GenerationOptions) -> str:
        from generator.citations import sentence_spans
        from generator.prompt import parse_messages

        self.calls.append((list(messages), options))
        _, passages = parse_messages(messages)
        if not passages:
            return messages[-1].content.split("\n")[-1]  # a rewrite request: echo the last line
        start, end = sentence_spans(passages[0].text)[0]
        return f"{passages[0].text[start:end].rstrip('.')} [1]."


def passage_copier(**options: Any) -> PassageCopier:
    return PassageCopier(**options)


class JsonCopier(PassageCopier):
    """A backend that can write JSON: asked for it, the copied sentence as ``{"answer": ...}``."""

    structured_output = True

    def _text(self, messages: Sequence[Message], options: GenerationOptions) -> str:
        import json

        text = super()._text(messages, options)
        return json.dumps({"answer": text}) if options.json_schema else text


def json_copier(**options: Any) -> JsonCopier:
    return JsonCopier(**options)


class PassageTeacher(ScriptedGenerator):
    """A distilling teacher: asked for a question, it asks which command a passage's first
    "run X" step runs; asked to answer (the answer prompt), it copies that command, cited."""

    def _text(self, messages: Sequence[Message], options: GenerationOptions) -> str:
        import re

        self.calls.append((list(messages), options))
        found = re.search(r"Step (\d+): run (\S+) on host (\d+)", messages[-1].content)
        if not found:
            return "I cannot think of a question."
        step, command, host = found.groups()
        if messages[0].content.startswith("Write one short question"):
            return f"Which command runs on host {host} in step {step}?"
        return f"{command} [1]"


def passage_teacher(**options: Any) -> PassageTeacher:
    return PassageTeacher(**options)


class SlowTalker(PassageCopier):
    """A slow, long-winded model for disconnect tests: its answer is passage [1]'s first sentence
    cited, then filler words, one every ``delay_s``, up to ``words`` (and the token budget). Like
    the llama.cpp backend it is not thread-safe, so answers queue for it one at a time. It records
    each stream's words produced and whether the stream was closed before its end."""

    thread_safe = False

    def __init__(
        self, words: int = 2000, delay_s: float = 0.02, context_window: int = 8192, **options: object
    ) -> None:
        super().__init__(context_window=context_window, **options)  # type: ignore[arg-type]
        self.words, self.delay_s = words, delay_s
        self.streams: list[dict[str, object]] = []  # {"words": produced, "closed": closed early}

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        import time

        record: dict[str, object] = {"words": 0, "closed": False}
        self.streams.append(record)
        first = self._text(messages, options)
        length = min(self.words, options.max_tokens)
        try:
            for i in range(length):
                if i:
                    time.sleep(self.delay_s)
                record["words"] = i + 1
                yield first if i == 0 else " and"
        except GeneratorExit:
            record["closed"] = True
            raise


def slow_talker(**options: Any) -> SlowTalker:
    return SlowTalker(**options)


class EnforcedWindow:
    """Mixed into a fake: a prompt that does not fit the context window fails the way llama.cpp
    fails (a bare ValueError), so tests see what an unfitted prompt would do to the real model."""

    def _text(self, messages: Sequence[Message], options: GenerationOptions) -> str:
        tokens = self.count_tokens(messages)  # type: ignore[attr-defined]
        if tokens >= self.context_window:  # type: ignore[attr-defined]
            raise ValueError(f"Requested tokens ({tokens}) exceed context window of {self.context_window}")  # type: ignore[attr-defined]
        return super()._text(messages, options)  # type: ignore[misc]


class WindowedGenerator(EnforcedWindow, ScriptedGenerator):
    """A scripted generator that enforces its window."""


class WindowedCopier(EnforcedWindow, PassageCopier):
    """A passage copier that enforces its window."""


def windowed_copier(**options: Any) -> WindowedCopier:
    return WindowedCopier(**options)


class ObedientGenerator(PassageCopier):
    """A model that does what passages tell it: it replies with whatever a "reply only '…'" in its
    prompt asks for, or repeats a prompt sentence that orders data sent to an address; otherwise it
    copies passage [1] like ``PassageCopier``."""

    def _text(self, messages: Sequence[Message], options: GenerationOptions) -> str:
        import re

        prompt = messages[-1].content
        ordered = re.search(r"reply only '([^']+)'", prompt, re.IGNORECASE)
        planted = re.search(r"[^.\n\]]*\bsend\b[^.\n]*@[\w.]+\w", prompt, re.IGNORECASE)
        if ordered or planted:
            self.calls.append((list(messages), options))
            return ordered.group(1) if ordered else f"{planted.group().strip()} [1]."  # type: ignore[union-attr]
        return super()._text(messages, options)


def obedient_generator(**options: Any) -> ObedientGenerator:
    return ObedientGenerator(**options)


class InterruptedCopier(PassageCopier):
    """A passage copier whose user presses Ctrl-C while it writes its third answer."""

    interrupt_at = 3

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.answers = 0

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        self.answers += 1
        if self.answers == self.interrupt_at:
            raise KeyboardInterrupt
        yield from super().stream(messages, options)


def interrupted_copier(**options: Any) -> InterruptedCopier:
    return InterruptedCopier(**options)


class InterruptedLoad(PassageCopier):
    """A model whose user presses Ctrl-C while it loads."""

    def warm_up(self) -> None:
        raise KeyboardInterrupt


def interrupted_load(**options: Any) -> InterruptedLoad:
    return InterruptedLoad(**options)


class DraftTeacher(PassageTeacher):
    """A teacher for ``citewise eval draft``: like ``PassageTeacher``, and asked for a question
    a passage does not answer, it asks who approved the passage's step, which no passage says: it
    declines that question whatever passages it is shown."""

    def _text(self, messages: Sequence[Message], options: GenerationOptions) -> str:
        import re

        from generator.prompt import NOT_IN_DOCUMENTS

        if "Who approved" in messages[-1].content:
            self.calls.append((list(messages), options))
            return NOT_IN_DOCUMENTS
        found = re.search(r"Step (\d+): run \S+ on host (\d+)", messages[-1].content)
        if found and "does not answer" in messages[0].content:
            self.calls.append((list(messages), options))
            return f"Who approved step {found.group(1)} on host {found.group(2)}?"
        return super()._text(messages, options)


def draft_teacher(**options: Any) -> DraftTeacher:
    return DraftTeacher(**options)


class DoubtingCopier(PassageCopier):
    """A passage copier whose decline probability is high only for questions about Peru: what
    ``citewise eval calibrate`` should learn to act on."""

    def reply_logprob(self, messages: Sequence[Message], reply_start: str, max_tokens: int = 3) -> float:
        from generator.prompt import parse_messages

        self.scored.append(reply_start)
        question, _ = parse_messages(messages)
        return -0.2 if "peru" in question.lower() else -9.0


def doubting_copier(**options: Any) -> DoubtingCopier:
    return DoubtingCopier(**options)
