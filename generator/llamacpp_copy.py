"""Copy-constrained answers for GGUF models: the answer is a word-aligned span of one shown passage,
then that passage's citation, or the decline.

The same constraint the trained model decodes under (``generator.gpt.copying``), applied to
llama.cpp through a logits processor: tokens that would leave every span of the passages are masked
before sampling. A quoted value is then verbatim from a passage and its citation names the passage
it came from; the model still chooses *which* span. Once the span ends, the backend writes the
citation itself: the model picks the end (" [" or end of turn), the processor forces the rest of
" [n]" and the end of turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from generator.base import Message
from generator.gpt.copying import CopyConstraint, TokenBytes
from generator.prompt import NOT_IN_DOCUMENTS


def token_bytes(llm: Any) -> TokenBytes:
    """The vocabulary of a loaded ``llama_cpp.Llama`` as bytes (a few seconds for 150k tokens,
    once per model). Control tokens detokenise to nothing and are left out; end of turn ends a span."""
    pieces = {token: llm.detokenize([token], special=False) for token in range(llm.n_vocab())}
    ends = {llm.token_eos(), *_end_of_turn(llm)}
    decline = llm.tokenize(NOT_IN_DOCUMENTS.encode("utf-8"), add_bos=False, special=False)
    return TokenBytes.build(pieces, ends, decline)


class CopyProcessor:
    """A llama-cpp-python logits processor for one answer. The first call sees exactly the prompt,
    so the tokens after it are the answer so far."""

    def __init__(self, llm: Any, tokens: TokenBytes, messages: Sequence[Message]) -> None:
        self.constraint = CopyConstraint.for_prompt(tokens, messages)
        self.eos = llm.token_eos()
        self.ends = {self.eos, *_end_of_turn(llm)}
        self._llm = llm
        self._prompt: int | None = None
        self._forced: list[int] | None = None  # the rest of the citation, once the span ended
        self._number: int | None = None  # the passage of the span copied so far, where it may end
        self._span_end = 0

    @property
    def active(self) -> bool:
        """Only answer prompts (with passages) are held to copies."""
        return bool(self.constraint.texts)

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if self._prompt is None:
            self._prompt = len(input_ids)
        produced = [int(t) for t in input_ids[self._prompt :]]
        allowed = self.allowed(produced)
        masked = np.full_like(scores, -np.inf)
        index = np.fromiter(allowed, dtype=np.int64)
        masked[index] = scores[index]
        return masked

    def allowed(self, produced: list[int]) -> set[int]:
        if self._forced is not None:
            done = len(produced) - self._span_end
            return {self._forced[done]} if done < len(self._forced) else {self.eos}
        if produced and self._number is not None and produced[-1] in self._end_tokens():
            return self._start_citation(produced)  # the model ended the span
        constraint = self.constraint
        allowed = constraint.allowed(produced)
        if constraint.declined:
            return {self.eos}
        ends = allowed & constraint.tokens.span_ends
        allowed = self._not_closing(allowed - ends, produced)
        if ends:  # a span may end here: remember whose it is, offer the citation's first token
            self._number = constraint.citation()
            allowed |= self._end_tokens()
        return allowed or {self.eos}

    def _not_closing(self, allowed: set[int], produced: list[int]) -> set[int]:
        """Without the tokens that would copy a sentence's closing punctuation: the citation goes
        before it ("35 days [2]", not "35 days. [2]"). A full stop inside a word ("3.11") stays."""
        constraint = self.constraint
        positions = list(constraint.positions())
        decline = constraint.tokens.decline
        kept = (
            {decline[len(produced)]} & allowed
            if constraint.declining and len(produced) < len(decline)
            else set()
        )
        for token in allowed:
            piece = constraint.tokens.pieces.get(token, b"")
            if not piece.endswith(_CLOSING) or any(
                _inside(constraint.texts[index], offset, piece) for index, offset in positions
            ):
                kept.add(token)
        return kept

    def finish(self, text: str) -> str:
        """What the answer still needs after generation: its citation, when the model ended the span
        with end of turn (nothing after a decline or a written citation)."""
        if self.constraint.declined or self._number is None or text.rstrip().endswith("]"):
            return ""
        return f" [{self._number}]"

    def _end_tokens(self) -> set[int]:
        return self.ends | {self._citation()[0]}

    def _start_citation(self, produced: list[int]) -> set[int]:
        citation = self._citation()
        self._span_end = len(produced)
        self._forced = citation[1:] if produced[-1] == citation[0] else []
        return {self._forced[0]} if self._forced else {self.eos}

    def _citation(self) -> list[int]:
        return self._tokenize(f" [{self._number or 1}]")

    def _tokenize(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)


_CLOSING = (b".", b"!", b"?", b";", b":", b",")


def _inside(text: bytes, offset: int, piece: bytes) -> bool:
    """``piece`` copies ``text`` at ``offset`` and more of the same word follows it."""
    end = offset + len(piece)
    return text[offset:end] == piece and end < len(text) and not text[end : end + 1].isspace()


def _end_of_turn(llm: Any) -> set[int]:
    """The chat template's end-of-turn token (Qwen's <|im_end|>), when the vocabulary has one."""
    found = llm.tokenize(b"<|im_end|>", add_bos=False, special=True)
    return {found[0]} if len(found) == 1 else set()
