"""Word documents via python-docx, using paragraph styles as the outline.

Body children are walked in XML order because ``Document.paragraphs`` and ``Document.tables``
are separate lists: reading them one after the other would move every table to the end.
"""

from __future__ import annotations

import io
import re
import zipfile

import docx
from docx.document import Document
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph

from ingest.archive import bounded_package
from ingest.document import BlockKind, LoaderError, ParsedDocument, TextAssembler
from ingest.loaders._common import HeadingStack, require_blocks, squash, stem
from ingest.sniff import MIME_TYPES

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)
TITLE_LEVEL = 0  # above Heading 1, so a document title encloses its sections


def load(data: bytes, *, filename: str) -> ParsedDocument:
    if not data:
        raise LoaderError("empty document")
    document = _open(data)
    out = TextAssembler()
    headings = HeadingStack()
    first_heading: str | None = None
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            _add_table(out, item, headings.path)
            continue
        text = squash(item.text)
        if not text:
            continue
        level = _heading_level(item)
        if level is not None:
            path = headings.enter(level, text)
            out.add(text, BlockKind.HEADING, path)
            if first_heading is None and level <= 1:
                first_heading = text
        else:
            out.add(item.text, _paragraph_kind(item), headings.path)
    require_blocks(out.blocks)
    core_title = squash(document.core_properties.title or "")
    return ParsedDocument(
        text=out.text,
        blocks=out.blocks,
        title=core_title or first_heading or stem(filename),
        mime_type=MIME_TYPES["docx"],
    )


def _open(data: bytes) -> Document:
    """The document, parsed from a bounded copy of the package (see ``ingest.archive``)."""
    try:
        package = bounded_package(data, keep=_is_xml_part)
        return docx.Document(io.BytesIO(package))
    except (zipfile.BadZipFile, PackageNotFoundError, KeyError) as exc:
        raise LoaderError(f"corrupt Word document: {exc}") from exc
    except ValueError as exc:  # e.g. a macro-enabled .docm or a template
        raise LoaderError(f"not a supported Word document: {exc}") from exc


def _is_xml_part(name: str) -> bool:
    """Parts that hold text or structure; media, fonts and embedded files are never inflated."""
    return name.lower().endswith((".xml", ".rels"))


def _style_name(paragraph: Paragraph) -> str:
    try:
        style = paragraph.style
    except (KeyError, ValueError):  # a style id missing from styles.xml
        return ""
    return (style.name or "") if style is not None else ""


def _heading_level(paragraph: Paragraph) -> int | None:
    name = _style_name(paragraph).strip()
    if name.lower() == "title":
        return TITLE_LEVEL
    match = _HEADING_STYLE.match(name)
    return int(match.group(1)) if match else None


def _paragraph_kind(paragraph: Paragraph) -> BlockKind:
    if _style_name(paragraph).lower().startswith("list"):
        return BlockKind.LIST_ITEM
    p_pr = paragraph._p.pPr
    if p_pr is not None and p_pr.numPr is not None:  # direct numbering without a List style
        return BlockKind.LIST_ITEM
    return BlockKind.PARAGRAPH


def _add_table(out: TextAssembler, table: Table, path: tuple[str, ...]) -> None:
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell is repeated once per grid column it spans
                continue
            seen.add(id(cell._tc))
            if text := squash(cell.text):
                cells.append(text)
        out.add(" | ".join(cells), BlockKind.TABLE, path)
