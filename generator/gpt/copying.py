"""Copy-constrained decoding: the trained model's answer is a span of a passage it was shown, or the
decline, and the backend writes the citation of the passage the span came from.

The answer prompt asks every model for "a few words copied from a passage, followed by that
passage's number". A small model trained from scratch learns *where* the answer is long before it
spells it out reliably, so its decoding is held to that form: each next token must continue a
word-aligned stretch of some shown passage (or the decline's tokens), and a span may end only at a
word boundary. Matching is on bytes, so characters split over several byte-level tokens copy too,
and ignores ASCII letter case (the teacher's and users' answers often capitalise a passage's words).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from generator.prompt import NOT_IN_DOCUMENTS, parse_messages

if TYPE_CHECKING:
    from generator.base import Message
    from generator.gpt.tokenizer import CorpusTokenizer

_MAX_TOKEN_BYTES = 32  # longer tokens are not looked up (corpus merges rarely get this long)


def byte_decoder() -> dict[str, int]:
    """The byte-level alphabet's characters back to their bytes: printable Latin-1 bytes stand for
    themselves, the rest were shifted to code points from 256 up, in byte order."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    shifted = [b for b in range(256) if b not in kept]
    table = {chr(b): b for b in kept}
    table.update({chr(256 + n): b for n, b in enumerate(shifted)})
    return table


@dataclass(frozen=True)
class TokenBytes:
    """Every ordinary token's bytes, and the tokens that end a copied span."""

    by_bytes: dict[bytes, tuple[int, ...]]  # lower-cased bytes -> the tokens spelling them
    pieces: dict[int, bytes]  # each ordinary token's lower-cased bytes
    span_ends: frozenset[int]  # tokens the model writes after its answer: " [" (the citation), <|end|>
    decline: tuple[int, ...]

    @classmethod
    def of(cls, tokenizer: CorpusTokenizer) -> TokenBytes:
        decoder = byte_decoder()
        specials = {tokenizer.end_of_turn, tokenizer.end_of_text, *tokenizer.roles.values()}
        pieces = {
            token_id: bytes(decoder[c] for c in tokenizer.token_text(token_id))
            for token_id in range(tokenizer.vocab_size)
            if token_id not in specials
        }
        ends = {tokenizer.end_of_turn, tokenizer.end_of_text}
        return cls.build(pieces, ends, tokenizer.encode(NOT_IN_DOCUMENTS))

    @classmethod
    def build(cls, pieces: dict[int, bytes], ends: set[int], decline: Sequence[int]) -> TokenBytes:
        """From every ordinary token's bytes (special tokens left out) and the end-of-answer
        tokens: any vocabulary, the trained model's or a GGUF model's."""
        ends = set(ends)
        kept: dict[int, bytes] = {}
        for token_id, piece in pieces.items():
            if piece.lstrip(b" ").startswith(b"["):
                ends.add(token_id)
            elif piece and len(piece) <= _MAX_TOKEN_BYTES:
                kept[token_id] = piece.lower()
        by_bytes: dict[bytes, tuple[int, ...]] = {}
        for token_id, piece in kept.items():
            by_bytes[piece] = (*by_bytes.get(piece, ()), token_id)
        return cls(by_bytes, kept, frozenset(ends), tuple(decline))


class CopyConstraint:
    """The tokens allowed next, for one answer; ``allowed`` is ``GPT.generate``'s hook."""

    def __init__(self, tokens: TokenBytes, passages: Sequence[tuple[int, str]]) -> None:
        self.tokens = tokens
        self.numbers = [number for number, _ in passages]
        self.texts = [" ".join(text.split()).encode().lower() for _, text in passages]
        # (passage, byte offset) where the span copied so far starts; at first every word start
        self.starts = [
            (index, offset)
            for index, text in enumerate(self.texts)
            for offset in range(len(text))
            if _is_word_byte(text[offset]) and (offset == 0 or not _is_word_byte(text[offset - 1]))
        ]
        self.copied = b""
        self.declining = True  # the tokens so far are a prefix of the decline
        self._seen = 0  # produced tokens taken into account

    @classmethod
    def for_prompt(cls, tokens: TokenBytes, messages: Sequence[Message]) -> CopyConstraint:
        _, passages = parse_messages(messages)
        return cls(tokens, [(p.number, p.text) for p in passages])

    def allowed(self, produced: list[int]) -> set[int]:
        for position in range(self._seen, len(produced)):
            self._advance(position, produced[position])
        self._seen = len(produced)
        ids: set[int] = set()
        decline = self.tokens.decline
        if self.declining and len(produced) < len(decline):
            ids.add(decline[len(produced)])
        elif self.declining:  # the decline is complete
            return set(self.tokens.span_ends)
        at_boundary = False
        for index, offset in set(self.positions()):
            text = self.texts[index]
            if offset >= len(text) or not _is_word_byte(text[offset]):
                at_boundary = True
            for width in range(1, min(_MAX_TOKEN_BYTES, len(text) - offset) + 1):
                ids.update(self.tokens.by_bytes.get(text[offset : offset + width], ()))
        if self.copied and at_boundary:
            ids |= self.tokens.span_ends
        return ids

    def finish(self, produced: list[int]) -> str:
        """What follows the tokens produced: the citation of a copied span, or nothing after the
        decline or when nothing was copied."""
        self.allowed(produced)
        number = None if self.declined else self.citation()
        return f" [{number}]" if number is not None else ""

    def citation(self) -> int | None:
        """The number of the first passage holding the copied span (None before anything was copied)."""
        if not self.copied or not self.starts:
            return None
        return self.numbers[min(index for index, _ in self.starts)]

    @property
    def declined(self) -> bool:
        return self.declining and self._seen >= len(self.tokens.decline)

    def positions(self) -> Iterator[tuple[int, int]]:
        width = len(self.copied)
        return ((index, start + width) for index, start in self.starts)

    def _advance(self, position: int, token: int) -> None:
        decline = self.tokens.decline
        self.declining = self.declining and position < len(decline) and decline[position] == token
        piece = self.tokens.pieces.get(token)
        if piece is None:
            self.starts = []
            return
        width = len(self.copied)
        self.starts = [
            (index, start)
            for index, start in self.starts
            if self.texts[index][start + width : start + width + len(piece)] == piece
        ]
        self.copied += piece


def _is_word_byte(byte: int) -> bool:
    return byte >= 128 or chr(byte).isalnum() or byte == ord("_")
