"""What a loader hands to the chunker: the extracted text plus its structure.

Offsets are character offsets into ``ParsedDocument.text``. Keeping them exact lets an answer
highlight the precise span a citation came from, so every loader must guarantee
``text[block.start:block.end]`` is the block's content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class BlockKind(StrEnum):
    HEADING = "heading"
    PARAGRAPH = "paragraph"
    CODE = "code"
    LIST_ITEM = "list_item"
    TABLE = "table"


@dataclass(frozen=True, slots=True)
class Block:
    """One structural unit of a document (a heading, a paragraph, a code block ...)."""

    start: int
    end: int
    kind: BlockKind
    heading_path: tuple[str, ...] = ()
    page: int | None = None  # 1-based, only for paged formats


@dataclass(slots=True)
class ParsedDocument:
    text: str
    blocks: list[Block]
    title: str
    mime_type: str
    metadata: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def block_text(self, block: Block) -> str:
        return self.text[block.start : block.end]


class LoaderError(Exception):
    """A file that cannot be turned into text; the message is shown to the user as the skip reason."""


class TextAssembler:
    """Builds ``text`` and ``blocks`` together so offsets cannot drift.

    Loaders that extract text from a structured format (HTML, PDF, DOCX) append blocks one by one;
    blocks are separated by a blank line in the extracted text.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self.blocks: list[Block] = []

    def add(
        self,
        content: str,
        kind: BlockKind,
        heading_path: tuple[str, ...] = (),
        page: int | None = None,
    ) -> None:
        content = content.strip()
        if not content:
            return
        if self._parts:
            self._parts.append("\n\n")
            self._length += 2
        start = self._length
        self._parts.append(content)
        self._length += len(content)
        self.blocks.append(Block(start, self._length, kind, heading_path, page))

    @property
    def text(self) -> str:
        return "".join(self._parts)
