"""Structure-aware chunking: sections first, then paragraphs, then sentences, to a token budget.

A chunk never crosses a page, and crosses a section boundary only to absorb a section too small to
stand alone. It is always the exact span ``text[char_start:char_end]`` of the document, so an answer
can highlight precisely where it came from.

The chunker streams: it walks the document window by window and hands the token counter at most
``window_chars`` characters per call, so the memory it needs does not grow with the document (a
tokenizer keeps tens of bytes per character of its input; a 50 MB one-line text handed over whole
took gigabytes). Chunks come out as they are finished (``iter_chunks``).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ingest.document import Block, BlockKind, ParsedDocument

TokenCounter = Callable[[Sequence[str]], list[int]]

# A sentence ends at . ! ? (plus closing quotes/brackets) followed by space and a capital, digit,
# quote or bracket; or at a line break followed by a blank line.
_SENTENCE_END = re.compile(r"""(?<=[.!?])["')\]]*\s+(?=["'(\[A-Z0-9])|\n\s*\n""")
_WORD = re.compile(r"\S+")

WINDOW_CHARS = 1 << 16  # characters of text per token-counting call
_WINDOW_PIECES = 2048  # and at most this many pieces per call

_Span = TypeVar("_Span", bound=tuple[Any, ...])  # (start, end, ...) of a piece of the text
_Raw = tuple[int, int, tuple[str, ...], int | None]  # a finished chunk before its tokens are counted


@dataclass(frozen=True, slots=True)
class ChunkSpan:
    char_start: int
    char_end: int
    heading_path: tuple[str, ...]
    page: int | None
    token_count: int


@dataclass(frozen=True, slots=True)
class _Unit:
    """A sentence (or a line of code, or a window of a very long sentence)."""

    start: int
    end: int
    tokens: int
    paragraph_start: bool


@dataclass(slots=True)
class _Section:
    heading_path: tuple[str, ...]
    page: int | None
    blocks: list[Block]


class _Lookahead:
    """A section's units, read lazily, with just enough look-ahead to size the next paragraph."""

    def __init__(self, units: Iterator[_Unit]) -> None:
        self._units = units
        self._ahead: deque[_Unit] = deque()

    def __iter__(self) -> Iterator[_Unit]:
        return self

    def __next__(self) -> _Unit:
        return self._ahead.popleft() if self._ahead else next(self._units)

    def empty(self) -> bool:
        return not self._fill(0)

    def paragraph_exceeds(self, unit: _Unit, limit: int) -> bool:
        """Whether ``unit`` and the rest of its paragraph hold more than ``limit`` tokens; reads
        ahead only until the answer is known (at most a chunk's worth of units)."""
        total = unit.tokens
        index = 0
        while total <= limit:
            if not self._fill(index) or self._ahead[index].paragraph_start:
                return False
            total += self._ahead[index].tokens
            index += 1
        return True

    def _fill(self, index: int) -> bool:
        while len(self._ahead) <= index:
            following = next(self._units, None)
            if following is None:
                return False
            self._ahead.append(following)
        return True


class Chunker:
    def __init__(
        self,
        count_tokens: TokenCounter,
        max_tokens: int = 200,
        overlap_tokens: int = 30,
        *,
        window_chars: int = WINDOW_CHARS,
    ) -> None:
        if overlap_tokens >= max_tokens:
            raise ValueError("overlap must be smaller than the chunk budget")
        self.count_tokens = count_tokens
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens
        self.min_tokens = max_tokens // 4
        self.window_chars = window_chars

    def chunk(self, document: ParsedDocument) -> list[ChunkSpan]:
        return list(self.iter_chunks(document))

    def iter_chunks(self, document: ParsedDocument) -> Iterator[ChunkSpan]:
        """The document's chunks in order, counted a window at a time."""
        text = document.text
        for batch in self._windows(self._raw_chunks(document)):
            yield from self._counted(text, batch)

    def _counted(self, text: str, raws: list[_Raw]) -> Iterator[ChunkSpan]:
        if not raws:
            return
        counts = self.count_tokens([text[start:end] for start, end, _, _ in raws])
        for (start, end, path, page), count in zip(raws, counts, strict=True):
            yield ChunkSpan(start, end, path, page, count)

    def _raw_chunks(self, document: ParsedDocument) -> Iterator[_Raw]:
        text = document.text
        pending: list[_Unit] = []
        pending_path: tuple[str, ...] = ()
        pending_page: int | None = None
        pending_has_body = False

        for section in _sections(document.blocks):
            units = _Lookahead(self._units(text, section.blocks))
            if units.empty():
                continue
            small_carry = (
                pending and sum(u.tokens for u in pending) < self.min_tokens and section.page == pending_page
            )
            if pending and not small_carry:
                yield (pending[0].start, pending[-1].end, pending_path, pending_page)
                pending = []
            if pending and pending_has_body:
                pending_path = _common_prefix(pending_path, section.heading_path)
            else:  # nothing pending, or only bare parent headings: the chunk is about this section
                pending_path, pending_page = section.heading_path, section.page
            has_body = any(block.kind != BlockKind.HEADING for block in section.blocks)
            pending_has_body = (pending_has_body and bool(pending)) or has_body
            pending, pending_path = yield from self._pack(units, pending, pending_path, section)

        if pending:
            yield (pending[0].start, pending[-1].end, pending_path, pending_page)

    def _pack(
        self,
        units: _Lookahead,
        current: list[_Unit],
        path: tuple[str, ...],
        section: _Section,
    ) -> Generator[_Raw, None, tuple[list[_Unit], tuple[str, ...]]]:
        """Greedily fill chunks with a section's units, yielding each finished chunk; returns the
        unfinished last chunk and its path.

        ``path`` belongs to the chunk in progress (it may have absorbed a smaller section before);
        chunks started here belong to this section alone.
        """
        tokens = sum(u.tokens for u in current)
        for unit in units:
            overflow = not self._fits(current, tokens, unit)
            # Prefer to break between paragraphs once a chunk is reasonably full.
            paragraph_break = (
                unit.paragraph_start
                and tokens >= 0.6 * self.max_tokens
                and units.paragraph_exceeds(unit, self.max_tokens - tokens)
            )
            if current and (overflow or paragraph_break):
                yield (current[0].start, current[-1].end, path, section.page)
                path = section.heading_path
                current = self._overlap(current) if not unit.paragraph_start else []
                tokens = sum(u.tokens for u in current)
                if not self._fits(current, tokens, unit):
                    current, tokens = [], 0
            current.append(unit)
            tokens += unit.tokens
        return current, path

    def _fits(self, current: list[_Unit], tokens: int, unit: _Unit) -> bool:
        """Room for ``unit`` in the chunk so far: the token budget, and a character bound that only
        text of enormous "words" (one token per hundreds of characters) ever reaches."""
        if tokens + unit.tokens > self.max_tokens:
            return False
        return not current or unit.end - current[0].start <= self.window_chars

    def _overlap(self, emitted: list[_Unit]) -> list[_Unit]:
        """Trailing sentences of the previous chunk, up to the overlap budget, to carry over."""
        carried: list[_Unit] = []
        budget = self.overlap_tokens
        for unit in reversed(emitted[1:]):
            if unit.tokens > budget:
                break
            carried.insert(0, unit)
            budget -= unit.tokens
        return carried

    def _units(self, text: str, blocks: list[Block]) -> Iterator[_Unit]:
        """Sentences (lines, for code) with their token counts, counted one window at a time."""
        for window in self._windows(self._pieces(text, blocks)):
            yield from self._counted_units(text, window)

    def _windows(self, spans: Iterable[_Span]) -> Iterator[list[_Span]]:
        """``spans`` (start, end, ...) in consecutive groups of at most one window of text (or
        ``_WINDOW_PIECES`` pieces), so the token counter never gets more at once; the last group
        may be empty."""
        window: list[_Span] = []
        chars = 0
        for span in spans:
            window.append(span)
            chars += span[1] - span[0]
            if chars >= self.window_chars or len(window) >= _WINDOW_PIECES:
                yield window
                window, chars = [], 0
        yield window

    def _pieces(self, text: str, blocks: list[Block]) -> Iterator[tuple[int, int, bool]]:
        for block in blocks:
            if block.kind == BlockKind.CODE:
                spans = _line_spans(text, block.start, block.end)
            else:
                spans = _sentence_spans(text, block.start, block.end)
            for start, end, first in _strip_spans(text, spans):
                yield from _bounded(text, start, end, first, self.window_chars)

    def _counted_units(self, text: str, pieces: list[tuple[int, int, bool]]) -> Iterator[_Unit]:
        if not pieces:
            return
        counts = self.count_tokens([text[start:end] for start, end, _ in pieces])
        for (start, end, first), count in zip(pieces, counts, strict=True):
            if count <= self.max_tokens:
                yield _Unit(start, end, count, first)
            else:
                yield from self._split_long(text, start, end, count, first)

    def _split_long(self, text: str, start: int, end: int, tokens: int, first: bool) -> list[_Unit]:
        """A sentence longer than a whole chunk is cut at word boundaries (the unavoidable case)."""
        words = [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]
        pieces = max(2, -(-tokens * 11 // (self.max_tokens * 10)))  # ceil(tokens*1.1/max)
        per_piece = -(-len(words) // pieces)
        windows = [words[i : i + per_piece] for i in range(0, len(words), per_piece)]
        counts = self.count_tokens([text[w[0][0] : w[-1][1]] for w in windows])
        return [
            _Unit(w[0][0], w[-1][1], count, first and i == 0)
            for i, (w, count) in enumerate(zip(windows, counts, strict=True))
        ]


def _sections(blocks: list[Block]) -> Iterator[_Section]:
    section: _Section | None = None
    for block in blocks:
        key = (block.heading_path, block.page)
        if section is None or block.kind == BlockKind.HEADING or (section.heading_path, section.page) != key:
            if section is not None:
                yield section
            section = _Section(block.heading_path, block.page, [block])
        else:
            section.blocks.append(block)
    if section is not None:
        yield section


def _sentence_spans(text: str, start: int, end: int) -> Iterator[tuple[int, int, bool]]:
    cursor = start
    first = True
    for match in _SENTENCE_END.finditer(text, start, end):
        yield (cursor, match.start(), first)
        cursor, first = match.end(), False
    yield (cursor, end, first)


def _line_spans(text: str, start: int, end: int) -> Iterator[tuple[int, int, bool]]:
    cursor = start
    first = True
    while (newline := text.find("\n", cursor, end)) != -1:
        yield (cursor, newline, first)
        cursor, first = newline + 1, False
    yield (cursor, end, first)


def _strip_spans(text: str, spans: Iterator[tuple[int, int, bool]]) -> Iterator[tuple[int, int, bool]]:
    """Trim whitespace from each span and drop empty ones, keeping the paragraph-start flag."""
    carry_first = False
    for start, end, first in spans:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start == end:
            carry_first = carry_first or first
            continue
        yield (start, end, first or carry_first)
        carry_first = False


def _bounded(text: str, start: int, end: int, first: bool, limit: int) -> Iterator[tuple[int, int, bool]]:
    """A piece of at most ``limit`` characters, cut at the last space before the limit (or at the
    limit, in text with no spaces), so no single sentence is ever counted whole however long it is."""
    while end - start > limit:
        cut = max(text.rfind(space, start + 1, start + limit) for space in " \n\t")
        resume = cut + 1
        if cut <= start:
            cut = resume = start + limit
        while cut > start and text[cut - 1].isspace():
            cut -= 1
        yield (start, cut, first)
        start, first = resume, False
        while start < end and text[start].isspace():
            start += 1
    if start < end:
        yield (start, end, first)


def _common_prefix(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    prefix: list[str] = []
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        prefix.append(x)
    return tuple(prefix) or a
