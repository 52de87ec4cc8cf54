"""Small helpers shared by the loaders, mostly for keeping offsets into raw text exact."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

from ingest.document import Block, BlockKind, LoaderError

_WS = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Line:
    """A line of the source without its newline, and where it starts in the text."""

    start: int
    text: str

    @property
    def end(self) -> int:
        return self.start + len(self.text)

    @property
    def blank(self) -> bool:
        return not self.text.strip()

    @property
    def indent(self) -> int:
        return len(self.text) - len(self.text.lstrip())


def split_lines(text: str) -> list[Line]:
    lines: list[Line] = []
    pos = 0
    for raw in text.split("\n"):
        lines.append(Line(pos, raw))
        pos += len(raw) + 1
    return lines


def stem(filename: str) -> str:
    return PurePath(filename).stem or filename


def squash(text: str) -> str:
    """Collapse runs of whitespace so titles and extracted text read as one line."""
    return _WS.sub(" ", text).strip()


def trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Shrink ``[start, end)`` past surrounding whitespace; None if nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def make_block(
    text: str,
    start: int,
    end: int,
    kind: BlockKind,
    heading_path: tuple[str, ...] = (),
) -> Block | None:
    span = trimmed(text, start, end)
    if span is None:
        return None
    return Block(span[0], span[1], kind, heading_path)


class HeadingStack:
    """Tracks the enclosing section titles; a heading closes every section at its level or deeper."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []

    def enter(self, level: int, title: str) -> tuple[str, ...]:
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, title))
        return self.path

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(title for _, title in self._stack)


def require_blocks(blocks: list[Block]) -> None:
    if not blocks:
        raise LoaderError("empty document")
