"""reStructuredText, kept as raw source so citations point into the file the author wrote.

Docutils would resolve roles and includes we cannot follow offline and loses source offsets, so
a line scanner finds sections, literal blocks and directives instead.
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
from ingest.loaders._inline import rst_title
from ingest.sniff import MIME_TYPES, decode_text

_ADORNMENT = re.compile(r"^([=\-`:'\"~^_*+#<>])\1*[ \t]*$")
_BULLET = re.compile(r"^[ \t]*(?:[-*+•]|#\.|\d+[.)]|\(\d+\)|[a-zA-Z][.)]|\([a-zA-Z]\))[ \t]+(?=\S)")
_EXPLICIT = re.compile(r"^[ \t]*\.\.(?:[ \t]+|$)")
_DIRECTIVE = re.compile(r"\.\.[ \t]+(?:\|[^|]+\|[ \t]+)?([\w:+.-]+)[ \t]*::(?:[ \t]+|$)")
_FOOTNOTE = re.compile(r"\.\.[ \t]+\[[^\]]+\][ \t]*")
_OPTION = re.compile(r"^[ \t]+:[^:\s][^:]*:(?:[ \t]|$)")

CODE_DIRECTIVES = frozenset(
    {"code", "code-block", "sourcecode", "parsed-literal", "doctest", "testcode", "testoutput"}
    | {"testsetup", "testcleanup", "productionlist", "math", "ipython", "jupyter-execute"}
)
FILE_ARGUMENT_DIRECTIVES = frozenset({"figure"})
SKIPPED_DIRECTIVES = frozenset(
    {"toctree", "image", "include", "literalinclude", "contents", "index", "meta", "highlight"}
    | {"raw", "sectnum", "target-notes", "autosummary", "default-role", "role", "currentmodule"}
    | {"module", "moduleauthor", "sectionauthor", "tabularcolumns", "only", "ifconfig"}
)


def load(data: bytes, *, filename: str) -> ParsedDocument:
    text = decode_text(data)
    parser = _Parser(text)
    parser.parse(split_lines(text), sections=True)
    require_blocks(parser.blocks)
    title = parser.first_title or stem(filename)
    return ParsedDocument(text=text, blocks=parser.blocks, title=title, mime_type=MIME_TYPES["rst"])


def _adornment_char(line: Line) -> str | None:
    match = _ADORNMENT.match(line.text)
    return match.group(1) if match else None


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.blocks: list[Block] = []
        self.headings = HeadingStack()
        self.styles: list[tuple[str, bool]] = []  # adornment styles in order of first use
        self.first_title: str | None = None

    def parse(self, lines: list[Line], *, sections: bool) -> None:
        i = 0
        while i < len(lines):
            if lines[i].blank:
                i += 1
            elif sections and (consumed := self._section(lines, i)):
                i += consumed
            elif _EXPLICIT.match(lines[i].text):
                i = self._explicit_markup(lines, i)
            elif _adornment_char(lines[i]) and len(lines[i].text.strip()) >= 4:
                i += 1  # transition
            elif _BULLET.match(lines[i].text):
                i = self._list_item(lines, i)
            else:
                i = self._paragraph(lines, i)

    def _section(self, lines: list[Line], i: int) -> int:
        """Lines consumed by a section title starting at ``i`` (0 if there is none)."""
        first = lines[i]
        over = _adornment_char(first)
        if over and i + 2 < len(lines):
            title, under = lines[i + 1], lines[i + 2]
            width = len(first.text.rstrip())
            if (
                not title.blank
                and _adornment_char(under) == over
                and width >= len(title.text.strip())
                and not _adornment_char(title)
            ):
                self._heading(title, (over, True))
                return 3
        if i + 1 < len(lines) and not first.blank and first.indent == 0 and not over:
            under_char = _adornment_char(lines[i + 1])
            if under_char and len(lines[i + 1].text.rstrip()) >= len(first.text.rstrip()):
                self._heading(first, (under_char, False))
                return 2
        return 0

    def _heading(self, line: Line, style: tuple[str, bool]) -> None:
        block = make_block(self.text, line.start, line.end, BlockKind.HEADING)
        if block is None:
            return
        if style not in self.styles:
            self.styles.append(style)
        title = rst_title(self.text[block.start : block.end])
        if self.first_title is None:
            self.first_title = title
        path = self.headings.enter(self.styles.index(style) + 1, title)
        self.blocks.append(Block(block.start, block.end, BlockKind.HEADING, path))

    def _body_end(self, lines: list[Line], i: int, indent: int) -> int:
        """End (exclusive) of the block of lines after ``i`` indented deeper than ``indent``."""
        j = i + 1
        last = i
        while j < len(lines) and (lines[j].blank or lines[j].indent > indent):
            if not lines[j].blank:
                last = j
            j += 1
        return last + 1

    def _explicit_markup(self, lines: list[Line], i: int) -> int:
        line = lines[i]
        end = self._body_end(lines, i, line.indent)
        markup = line.text[line.indent :]
        directive = _DIRECTIVE.match(markup)
        footnote = _FOOTNOTE.match(markup)
        if directive:
            name = directive.group(1).lower().split(":")[-1]
            if "|" in markup.split("::", 1)[0] or name in SKIPPED_DIRECTIVES:
                return end
            body = self._directive_body(lines[i + 1 : end])
            if name in CODE_DIRECTIVES:
                if body:
                    self._add(body[0].start, body[-1].end, BlockKind.CODE)
            elif name in FILE_ARGUMENT_DIRECTIVES:
                self.parse(body, sections=False)
            else:
                argument = Line(line.start + line.indent + directive.end(), markup[directive.end() :])
                self.parse([argument, *body], sections=False)
        elif footnote:
            first = Line(line.start + line.indent + footnote.end(), markup[footnote.end() :])
            self.parse([first, *lines[i + 1 : end]], sections=False)
        # anything else is a comment, hyperlink target or substitution: not content
        return end

    @staticmethod
    def _directive_body(lines: list[Line]) -> list[Line]:
        """Body lines after the directive's option list."""
        k = 0
        while k < len(lines) and not lines[k].blank and _OPTION.match(lines[k].text):
            k += 1
        return lines[k:]

    def _list_item(self, lines: list[Line], i: int) -> int:
        line = lines[i]
        marker = _BULLET.match(line.text)
        assert marker is not None
        j = i + 1
        while (
            j < len(lines)
            and not lines[j].blank
            and lines[j].indent > line.indent
            and not _BULLET.match(lines[j].text)
        ):
            j += 1
        self._add(line.start + marker.end(), lines[j - 1].end, BlockKind.LIST_ITEM)
        return j

    def _paragraph(self, lines: list[Line], i: int) -> int:
        j = i
        while j < len(lines) and not lines[j].blank:
            j += 1
        start, end = lines[i].start, lines[j - 1].end
        content = self.text[start:end].strip()
        if content.startswith(">>>"):
            self._add(start, end, BlockKind.CODE)
        elif content.startswith("+-") and content.endswith("+"):
            self._add(start, end, BlockKind.TABLE)
        elif content != "::":
            self._add(start, end, BlockKind.PARAGRAPH)
        if content.endswith("::"):
            return self._literal_block(lines, j, lines[i].indent)
        return j

    def _literal_block(self, lines: list[Line], j: int, indent: int) -> int:
        k = j
        while k < len(lines) and lines[k].blank:
            k += 1
        if k == j or k >= len(lines) or lines[k].indent <= indent:
            return j
        end = self._body_end(lines, k, indent)
        self._add(lines[k].start, lines[end - 1].end, BlockKind.CODE)
        return end

    def _add(self, start: int, end: int, kind: BlockKind) -> None:
        block = make_block(self.text, start, end, kind, self.headings.path)
        if block is not None:
            self.blocks.append(block)
