"""Structure-aware chunking: sections first, then paragraphs, then sentences, to a token budget.

A chunk never crosses a page, and crosses a section boundary only to absorb a section too small to
stand alone. It is always the exact span ``text[char_start:char_end]`` of the document, so an answer
can highlight precisely where it came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ingest.document import Block, BlockKind, ParsedDocument

TokenCounter = Callable[[Sequence[str]], list[int]]

# A sentence ends at . ! ? (plus closing quotes/brackets) followed by space and a capital, digit,
# quote or bracket; or at a line break followed by a blank line.
_SENTENCE_END = re.compile(r"""(?<=[.!?])["')\]]*\s+(?=["'(\[A-Z0-9])|\n\s*\n""")
_WORD = re.compile(r"\S+")


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


class Chunker:
    def __init__(self, count_tokens: TokenCounter, max_tokens: int = 200, overlap_tokens: int = 30) -> None:
        if overlap_tokens >= max_tokens:
            raise ValueError("overlap must be smaller than the chunk budget")
        self.count_tokens = count_tokens
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens
        self.min_tokens = max_tokens // 4

    def chunk(self, document: ParsedDocument) -> list[ChunkSpan]:
        text = document.text
        spans: list[tuple[int, int, tuple[str, ...], int | None]] = []
        pending: list[_Unit] = []
        pending_path: tuple[str, ...] = ()
        pending_page: int | None = None
        pending_has_body = False

        for section in _sections(document.blocks):
            units = self._units(text, section.blocks)
            if not units:
                continue
            small_carry = (
                pending and sum(u.tokens for u in pending) < self.min_tokens and section.page == pending_page
            )
            if pending and not small_carry:
                spans.append((pending[0].start, pending[-1].end, pending_path, pending_page))
                pending = []
            if pending and pending_has_body:
                pending_path = _common_prefix(pending_path, section.heading_path)
            else:  # nothing pending, or only bare parent headings: the chunk is about this section
                pending_path, pending_page = section.heading_path, section.page
            has_body = any(block.kind != BlockKind.HEADING for block in section.blocks)
            pending_has_body = (pending_has_body and bool(pending)) or has_body
            pending, pending_path = self._pack(units, pending, spans, pending_path, section)

        if pending:
            spans.append((pending[0].start, pending[-1].end, pending_path, pending_page))
        counts = self.count_tokens([text[start:end] for start, end, _, _ in spans]) if spans else []
        return [
            ChunkSpan(start, end, path, page, count)
            for (start, end, path, page), count in zip(spans, counts, strict=True)
        ]

    def _pack(
        self,
        units: list[_Unit],
        current: list[_Unit],
        spans: list[tuple[int, int, tuple[str, ...], int | None]],
        path: tuple[str, ...],
        section: _Section,
    ) -> tuple[list[_Unit], tuple[str, ...]]:
        """Greedily fill chunks with a section's units; returns the unfinished last chunk and its path.

        ``path`` belongs to the chunk in progress (it may have absorbed a smaller section before);
        chunks started here belong to this section alone.
        """
        tokens = sum(u.tokens for u in current)
        for index, unit in enumerate(units):
            overflow = tokens + unit.tokens > self.max_tokens
            # Prefer to break between paragraphs once a chunk is reasonably full.
            paragraph_break = (
                unit.paragraph_start
                and tokens >= 0.6 * self.max_tokens
                and tokens + _paragraph_tokens(units, index) > self.max_tokens
            )
            if current and (overflow or paragraph_break):
                spans.append((current[0].start, current[-1].end, path, section.page))
                path = section.heading_path
                current = self._overlap(current) if not unit.paragraph_start else []
                tokens = sum(u.tokens for u in current)
                if tokens + unit.tokens > self.max_tokens:
                    current, tokens = [], 0
            current.append(unit)
            tokens += unit.tokens
        return current, path

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

    def _units(self, text: str, blocks: list[Block]) -> list[_Unit]:
        pieces: list[tuple[int, int, bool]] = []
        for block in blocks:
            if block.kind == BlockKind.CODE:
                pieces.extend(_line_spans(text, block.start, block.end))
            else:
                pieces.extend(_sentence_spans(text, block.start, block.end))
        if not pieces:
            return []
        counts = self.count_tokens([text[start:end] for start, end, _ in pieces])
        units: list[_Unit] = []
        for (start, end, first), count in zip(pieces, counts, strict=True):
            if count <= self.max_tokens:
                units.append(_Unit(start, end, count, first))
            else:
                units.extend(self._split_long(text, start, end, count, first))
        return units

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


def _sections(blocks: list[Block]) -> list[_Section]:
    sections: list[_Section] = []
    for block in blocks:
        key = (block.heading_path, block.page)
        starts_new = block.kind == BlockKind.HEADING or not sections
        if not starts_new and (sections[-1].heading_path, sections[-1].page) != key:
            starts_new = True
        if starts_new:
            sections.append(_Section(block.heading_path, block.page, [block]))
        else:
            sections[-1].blocks.append(block)
    return sections


def _sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int, bool]]:
    spans: list[tuple[int, int, bool]] = []
    cursor = start
    for match in _SENTENCE_END.finditer(text, start, end):
        spans.append((cursor, match.start(), not spans))
        cursor = match.end()
    spans.append((cursor, end, not spans))
    return [(s, e, first) for s, e, first in _strip_spans(text, spans)]


def _line_spans(text: str, start: int, end: int) -> list[tuple[int, int, bool]]:
    spans: list[tuple[int, int, bool]] = []
    cursor = start
    for line in text[start:end].split("\n"):
        spans.append((cursor, cursor + len(line), not spans))
        cursor += len(line) + 1
    return list(_strip_spans(text, spans))


def _strip_spans(text: str, spans: list[tuple[int, int, bool]]) -> list[tuple[int, int, bool]]:
    """Trim whitespace from each span and drop empty ones, keeping the paragraph-start flag."""
    result: list[tuple[int, int, bool]] = []
    carry_first = False
    for start, end, first in spans:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start == end:
            carry_first = carry_first or first
            continue
        result.append((start, end, first or carry_first))
        carry_first = False
    return result


def _paragraph_tokens(units: list[_Unit], index: int) -> int:
    total = units[index].tokens
    for unit in units[index + 1 :]:
        if unit.paragraph_start:
            break
        total += unit.tokens
    return total


def _common_prefix(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    prefix: list[str] = []
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        prefix.append(x)
    return tuple(prefix) or a
