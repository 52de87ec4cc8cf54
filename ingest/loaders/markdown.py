"""Markdown, kept as raw source so a citation highlights exactly what the author wrote.

A line scanner rather than a full CommonMark parser: we only need block boundaries and the
heading outline, and a scanner keeps every offset trivially exact.
"""

from __future__ import annotations

import re

from ingest.document import Block, BlockKind, ParsedDocument
from ingest.loaders._common import (
    HeadingStack,
    Line,
    make_block,
    require_blocks,
    split_lines,
    stem,
)
from ingest.loaders._inline import markdown_title
from ingest.sniff import MIME_TYPES, decode_text

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?=[ \t]|$)")
_ATX_CLOSING = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_THEMATIC_BREAK = re.compile(r"^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])(?:[ \t]+|$)")
_TABLE_DELIMITER = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_FRONT_MATTER_TITLE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$", re.MULTILINE)


def load(data: bytes, *, filename: str) -> ParsedDocument:
    text = decode_text(data)
    lines = split_lines(text)
    body_from, fm_title = _front_matter(lines)
    parser = _Parser(text)
    parser.run(lines[body_from:])
    require_blocks(parser.blocks)
    title = fm_title or parser.first_h1 or stem(filename)
    return ParsedDocument(text=text, blocks=parser.blocks, title=title, mime_type=MIME_TYPES["markdown"])


def _front_matter(lines: list[Line]) -> tuple[int, str | None]:
    """Index of the first line after YAML front matter (0 if none) and its ``title:``."""
    if not lines or lines[0].text.rstrip() != "---":
        return 0, None
    for i in range(1, len(lines)):
        if lines[i].text.rstrip() in ("---", "..."):
            yaml = "\n".join(line.text for line in lines[1:i])
            match = _FRONT_MATTER_TITLE.search(yaml)
            title = match.group(1).strip("\"'").strip() if match else None
            return i + 1, title or None
    return 0, None  # unterminated: a thematic break, not front matter


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.blocks: list[Block] = []
        self.headings = HeadingStack()
        self.first_h1: str | None = None
        # The open paragraph or list item: kind and span of the lines collected so far.
        self._open: tuple[BlockKind, int, int] | None = None

    def run(self, lines: list[Line]) -> None:
        i = 0
        while i < len(lines):
            i = self._step(lines, i)
        self._close()

    def _step(self, lines: list[Line], i: int) -> int:
        line = lines[i]
        raw = line.text
        if line.blank:
            self._close()
            return i + 1
        fence = _FENCE.match(raw)
        if fence and not (fence.group(1)[0] == "`" and "`" in fence.group(2)):
            self._close()
            return self._fenced_code(lines, i, fence.group(1))
        if _ATX.match(raw):
            self._close()
            self._atx_heading(line)
            return i + 1
        setext = _SETEXT.match(raw)
        if setext and self._open is not None and self._open[0] is BlockKind.PARAGRAPH:
            level = 1 if setext.group(1)[0] == "=" else 2
            _, start, end = self._open
            self._open = None
            self._heading(start, end, level)
            return i + 1
        if _THEMATIC_BREAK.match(raw):
            self._close()
            return i + 1
        if self._open is None and self._is_indented_code(raw):
            return self._indented_code(lines, i)
        if raw.lstrip().startswith("|"):
            self._close()
            if not _TABLE_DELIMITER.match(raw):
                self._add(line.start, line.end, BlockKind.TABLE)
            return i + 1
        item = _LIST_ITEM.match(raw)
        in_paragraph = self._open is not None and self._open[0] is BlockKind.PARAGRAPH
        if item and not (in_paragraph and raw.lstrip()[0].isdigit()):  # "2. x" mid-sentence stays
            self._close()
            self._open = (BlockKind.LIST_ITEM, line.start + item.end(), line.end)
            return i + 1
        if self._open is None:
            self._open = (BlockKind.PARAGRAPH, line.start, line.end)
        else:
            self._open = (self._open[0], self._open[1], line.end)  # continuation line
        return i + 1

    def _is_indented_code(self, raw: str) -> bool:
        after_list = bool(self.blocks) and self.blocks[-1].kind is BlockKind.LIST_ITEM
        return not after_list and (raw.startswith("    ") or raw.startswith("\t"))

    def _fenced_code(self, lines: list[Line], i: int, fence: str) -> int:
        closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        j = i + 1
        while j < len(lines) and not closing.match(lines[j].text):
            j += 1
        if j > i + 1:
            self._add(lines[i + 1].start, lines[j - 1].end, BlockKind.CODE)
        return j + 1  # past the closing fence (or the end of the document)

    def _indented_code(self, lines: list[Line], i: int) -> int:
        j = i
        last = i
        while j < len(lines) and (lines[j].blank or self._is_indented_code(lines[j].text)):
            if not lines[j].blank:
                last = j
            j += 1
        self._add(lines[i].start, lines[last].end, BlockKind.CODE)
        return last + 1

    def _atx_heading(self, line: Line) -> None:
        match = _ATX.match(line.text)
        assert match is not None
        level = len(match.group(1))
        content = line.text[match.end() :]
        closing = _ATX_CLOSING.search(content)
        if closing:
            content = content[: closing.start()]
        start = line.start + match.end()
        self._heading(start, start + len(content), level)

    def _heading(self, start: int, end: int, level: int) -> None:
        block = make_block(self.text, start, end, BlockKind.HEADING)
        if block is None:
            return
        title = markdown_title(self.text[block.start : block.end])
        path = self.headings.enter(level, title)
        if level == 1 and self.first_h1 is None:
            self.first_h1 = title
        self.blocks.append(Block(block.start, block.end, BlockKind.HEADING, path))

    def _add(self, start: int, end: int, kind: BlockKind) -> None:
        block = make_block(self.text, start, end, kind, self.headings.path)
        if block is not None:
            self.blocks.append(block)

    def _close(self) -> None:
        if self._open is not None:
            kind, start, end = self._open
            self._open = None
            self._add(start, end, kind)
