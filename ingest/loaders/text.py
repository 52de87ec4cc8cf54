"""Plain text: the file text itself is the document text, so citations point straight into the file.

Paragraphs are found by walking the text line by line in place (no list of lines, no copies), so a
multi-megabyte file costs its text and one small block per paragraph.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ingest.document import Block, BlockKind, ParsedDocument
from ingest.loaders._common import make_block, require_blocks, squash, stem
from ingest.sniff import MIME_TYPES, decode_text

MAX_TITLE_LENGTH = 100
_BLANK = re.compile(r"\s*")


def load(data: bytes, *, filename: str) -> ParsedDocument:
    text = decode_text(data)
    blocks = paragraph_blocks(text)
    require_blocks(blocks)
    title = _first_line(text, blocks[0]) or stem(filename)
    return ParsedDocument(text=text, blocks=blocks, title=title, mime_type=MIME_TYPES["text"])


def _first_line(text: str, block: Block) -> str:
    """The first line as a title, if it is short enough to be one (measured without copying it)."""
    newline = text.find("\n", block.start, block.end)
    end = block.end if newline == -1 else newline
    while end > block.start and text[end - 1].isspace():
        end -= 1
    return squash(text[block.start : end]) if end - block.start < MAX_TITLE_LENGTH else ""


def paragraph_blocks(text: str) -> list[Block]:
    """One PARAGRAPH block per run of non-blank lines."""
    blocks: list[Block] = []
    para_start: int | None = None
    para_end = 0
    for start, end in _lines(text):
        if _BLANK.fullmatch(text, start, end):
            if para_start is not None:
                _append(blocks, text, para_start, para_end)
                para_start = None
            continue
        if para_start is None:
            para_start = start
        para_end = end
    if para_start is not None:
        _append(blocks, text, para_start, para_end)
    return blocks


def _lines(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of every line, without its newline."""
    start = 0
    while (newline := text.find("\n", start)) != -1:
        yield start, newline
        start = newline + 1
    yield start, len(text)


def _append(blocks: list[Block], text: str, start: int, end: int) -> None:
    block = make_block(text, start, end, BlockKind.PARAGRAPH)
    if block is not None:
        blocks.append(block)
