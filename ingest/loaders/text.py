"""Plain text: the file text itself is the document text, so citations point straight into the file."""

from __future__ import annotations

from ingest.document import Block, BlockKind, ParsedDocument
from ingest.loaders._common import make_block, require_blocks, split_lines, squash, stem
from ingest.sniff import MIME_TYPES, decode_text

MAX_TITLE_LENGTH = 100


def load(data: bytes, *, filename: str) -> ParsedDocument:
    text = decode_text(data)
    blocks = paragraph_blocks(text)
    require_blocks(blocks)
    first = text[blocks[0].start : blocks[0].end].split("\n", 1)[0].strip()
    title = squash(first) if len(first) < MAX_TITLE_LENGTH else stem(filename)
    return ParsedDocument(text=text, blocks=blocks, title=title, mime_type=MIME_TYPES["text"])


def paragraph_blocks(text: str) -> list[Block]:
    """One PARAGRAPH block per run of non-blank lines."""
    blocks: list[Block] = []
    para_start: int | None = None
    para_end = 0
    for line in split_lines(text):
        if line.blank:
            if para_start is not None:
                _append(blocks, text, para_start, para_end)
                para_start = None
            continue
        if para_start is None:
            para_start = line.start
        para_end = line.end
    if para_start is not None:
        _append(blocks, text, para_start, para_end)
    return blocks


def _append(blocks: list[Block], text: str, start: int, end: int) -> None:
    block = make_block(text, start, end, BlockKind.PARAGRAPH)
    if block is not None:
        blocks.append(block)
