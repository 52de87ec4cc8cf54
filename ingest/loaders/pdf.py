"""PDF: text per page, so every block can cite its page number.

pypdf opens and validates the file (encryption, page tree, metadata); the page text comes from
pdfium, which keeps the spaces between words that pypdf drops on many TeX-made PDFs and is about
20x faster. pypdf's own extraction remains the fallback when pdfium cannot read a file.
"""

from __future__ import annotations

import io
import logging
import re
from typing import Any

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, PdfReadError

from ingest.document import BlockKind, LoaderError, ParsedDocument, TextAssembler
from ingest.loaders._common import require_blocks, squash, stem
from ingest.loaders.pdf_streams import check_streams
from ingest.loaders.pdf_text import (
    BULLET_GLYPHS,
    first_line,
    page_lines,
    paragraphs,
    running_line_keys,
    strip_running_lines,
    typical_line_length,
)
from ingest.sniff import MIME_TYPES

# pypdf warns per page about fonts it can only partly decode; the text is still extracted, and a
# file that yields none is reported as skipped, so these lines would only bury the progress bar.
logging.getLogger("pypdf").setLevel(logging.ERROR)

MAX_TITLE_LENGTH = 100
_PLACEHOLDER_TITLES = frozenset({"untitled", "title", "document", "none", "unknown", "slide 1", "page 1"})
_FILE_NAME_TITLE = re.compile(r"\.(?:pdf|docx?|odt|rtf|txt|tex|dvi|ps|indd|pptx?|xlsx?)$", re.IGNORECASE)
_TOOL_PREFIX = re.compile(r"^microsoft (?:word|powerpoint|excel) - ", re.IGNORECASE)


def load(data: bytes, *, filename: str) -> ParsedDocument:
    if not data.strip():
        raise LoaderError("empty document")
    reader = _open(data)
    try:
        page_count = len(reader.pages)
    except Exception as exc:  # pypdf raises many types for a broken page tree
        raise LoaderError(f"corrupt PDF: {exc}") from exc
    if page_count == 0:
        raise LoaderError("PDF has no pages")
    _check_streams(reader)

    warnings: list[str] = []
    texts = _pdfium_page_texts(data, page_count)
    if texts is None:
        texts = [_page_text(reader, i, warnings) for i in range(page_count)]
    raw_pages = [page_lines(text) for text in texts]
    running = running_line_keys(raw_pages)
    pages = [strip_running_lines(lines, running) for lines in raw_pages]
    typical = typical_line_length(pages)

    out = TextAssembler()
    empty_pages: list[int] = []
    for number, lines in enumerate(pages, start=1):
        before = len(out.blocks)
        for paragraph in paragraphs(lines, typical):
            kind = BlockKind.LIST_ITEM if paragraph[0] in BULLET_GLYPHS else BlockKind.PARAGRAPH
            out.add(paragraph, kind, page=number)
        if len(out.blocks) == before:
            empty_pages.append(number)
    if len(empty_pages) == page_count:
        raise LoaderError("PDF has no extractable text (scanned? OCR is not supported)")
    require_blocks(out.blocks)
    if empty_pages:
        warnings.append(_empty_pages_warning(empty_pages, page_count))

    return ParsedDocument(
        text=out.text,
        blocks=out.blocks,
        title=_title(reader, first_line(pages), filename),
        mime_type=MIME_TYPES["pdf"],
        metadata={"pages": page_count},
        warnings=warnings,
    )


def _open(data: bytes) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data))
    except Exception as exc:  # PdfReadError, but also ValueError/KeyError on mangled xrefs
        raise LoaderError(f"corrupt PDF: {exc}") from exc
    if reader.is_encrypted:
        try:
            result = reader.decrypt("")
        except (DependencyError, NotImplementedError) as exc:
            raise LoaderError(f"encrypted PDF cannot be decrypted: {exc}") from exc
        except PdfReadError as exc:
            raise LoaderError(f"corrupt PDF: {exc}") from exc
        if result == PasswordType.NOT_DECRYPTED:
            raise LoaderError("PDF is encrypted and needs a password")
    return reader


def _check_streams(reader: PdfReader) -> None:
    """Refuse a decompression bomb before pdfium inflates it (see ``pdf_streams``)."""
    try:
        check_streams(reader)
    except LoaderError:
        raise
    except Exception:  # an object pypdf cannot walk; pdfium may still read the page
        return


def _page_text(reader: PdfReader, index: int, warnings: list[str]) -> str:
    """One page's text; a single broken page should not cost the whole document."""
    try:
        return reader.pages[index].extract_text() or ""
    except DependencyError as exc:  # e.g. AES streams without the optional crypto library
        raise LoaderError(f"encrypted PDF cannot be decrypted: {exc}") from exc
    except Exception as exc:
        warnings.append(f"page {index + 1} could not be read: {exc}")
        return ""


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe]")


def _pdfium_page_texts(data: bytes, page_count: int) -> list[str] | None:
    """Every page's text, or None if pdfium cannot read this document (pypdf then extracts)."""
    try:
        import pypdfium2 as pdfium

        document = pdfium.PdfDocument(data)
    except Exception:
        return None
    try:
        if len(document) != page_count:
            return None
        texts = []
        for index in range(page_count):
            page = document[index]
            text = page.get_textpage().get_text_range()
            texts.append(_CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")))
        return texts
    except Exception:
        return None
    finally:
        document.close()


def _empty_pages_warning(empty: list[int], total: int) -> str:
    shown = ", ".join(str(n) for n in empty[:10]) + (", ..." if len(empty) > 10 else "")
    return f"{len(empty)} of {total} pages had no extractable text (pages {shown})"


def _title(reader: PdfReader, first: str, filename: str) -> str:
    meta_title = _metadata_title(reader.metadata)
    if meta_title:
        return meta_title
    if first and len(first) < MAX_TITLE_LENGTH:
        return squash(first)
    return stem(filename)


def _metadata_title(metadata: Any) -> str | None:
    try:
        raw = metadata.title if metadata is not None else None
    except Exception:  # a malformed info dictionary is not worth failing over
        return None
    if not raw:
        return None
    title = _TOOL_PREFIX.sub("", squash(str(raw)))
    if len(title) < 2 or not any(ch.isalpha() for ch in title):
        return None
    if title.lower() in _PLACEHOLDER_TITLES or _FILE_NAME_TITLE.search(title):
        return None
    return title
