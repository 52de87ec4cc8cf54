"""Bounding what a PDF inflates before pdfium reads it.

pypdf caps every stream it decodes (75 MB by default), but pdfium, which extracts the page text,
inflates a content stream whole: an 800 KB PDF whose page inflates to 800 MB took pdfium to
1.6 GB. So before pdfium sees a file, every stream that text extraction decodes (page contents,
form XObjects drawn on the page, fonts and their ToUnicode maps, Type 3 glyph procedures) is
inflated here a step at a time, with a per-stream and a per-document byte budget. Image data is
not decoded to extract text, so images are not inflated (and not limited) here.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pypdf import PdfReader
from pypdf.errors import LimitReachedError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, PdfObject, StreamObject

from ingest.archive import ArchiveBombError, MiB

_STEP = 256 * 1024
_FONT_FILES = ("/FontFile", "/FontFile2", "/FontFile3")


@dataclass(frozen=True, slots=True)
class PdfStreamLimits:
    """The defaults are documented in docs/formats.md."""

    max_stream_bytes: int = 64 * MiB  # one stream, inflated (a dense vector page is a few MB)
    max_total_bytes: int = 512 * MiB  # every stream text extraction reads, inflated


DEFAULT_PDF_LIMITS = PdfStreamLimits()


def check_streams(reader: PdfReader, limits: PdfStreamLimits = DEFAULT_PDF_LIMITS) -> None:
    """Raise ArchiveBombError if any stream text extraction would inflate passes a limit."""
    total = 0
    for where, stream in _text_streams(reader):
        size = _inflated_size(stream, limits.max_stream_bytes)
        if size > limits.max_stream_bytes:
            raise ArchiveBombError(
                f"a PDF stream ({where}) inflates to more than the {limits.max_stream_bytes / MiB:.0f} MB "
                "limit for one stream: a decompression bomb?"
            )
        total += size
        if total > limits.max_total_bytes:
            raise ArchiveBombError(
                f"the PDF's page streams inflate to more than {limits.max_total_bytes / MiB:.0f} MB in total"
            )


def _text_streams(reader: PdfReader) -> Iterator[tuple[str, StreamObject]]:
    """Each stream pdfium decodes to extract text, once, with where it was found."""
    seen: set[int] = set()
    for number, page in enumerate(reader.pages, start=1):
        yield from _streams(page.get("/Contents"), f"page {number} contents", seen)
        yield from _resources(_inherited(page, "/Resources"), f"page {number}", seen, depth=0)


def _resources(
    value: PdfObject | None, where: str, seen: set[int], depth: int
) -> Iterator[tuple[str, StreamObject]]:
    resources = _resolve(value)
    if not isinstance(resources, DictionaryObject) or depth > 16 or _visited(value, seen):
        return
    xobjects = _resolve(resources.get("/XObject"))
    if isinstance(xobjects, DictionaryObject):
        for name in list(xobjects):
            ref = xobjects.raw_get(name)
            xobject = _resolve(ref)
            if isinstance(xobject, StreamObject) and xobject.get("/Subtype") == "/Form":
                yield from _streams(ref, f"{where} form {name}", seen)
                yield from _resources(xobject.get("/Resources"), f"{where} form {name}", seen, depth + 1)
    fonts = _resolve(resources.get("/Font"))
    if isinstance(fonts, DictionaryObject):
        for name in list(fonts):
            yield from _font(fonts.raw_get(name), f"{where} font {name}", seen, depth)


def _font(
    value: PdfObject | None, where: str, seen: set[int], depth: int
) -> Iterator[tuple[str, StreamObject]]:
    font = _resolve(value)
    if not isinstance(font, DictionaryObject) or _visited(value, seen):
        return
    yield from _streams(font.raw_get("/ToUnicode") if "/ToUnicode" in font else None, where, seen)
    descriptor = _resolve(font.get("/FontDescriptor"))
    if isinstance(descriptor, DictionaryObject):
        for key in _FONT_FILES:
            if key in descriptor:
                yield from _streams(descriptor.raw_get(key), where, seen)
    descendants = _resolve(font.get("/DescendantFonts"))
    if isinstance(descendants, ArrayObject):
        for descendant in descendants:
            yield from _font(descendant, where, seen, depth)
    procedures = _resolve(font.get("/CharProcs"))
    if isinstance(procedures, DictionaryObject):
        for name in list(procedures):
            yield from _streams(procedures.raw_get(name), f"{where} glyph {name}", seen)
        yield from _resources(font.get("/Resources"), where, seen, depth + 1)


def _streams(value: PdfObject | None, where: str, seen: set[int]) -> Iterator[tuple[str, StreamObject]]:
    """The streams ``value`` names: a stream, or an array of them (page contents)."""
    if value is None or _visited(value, seen):
        return
    resolved = _resolve(value)
    if isinstance(resolved, StreamObject):
        yield where, resolved
    elif isinstance(resolved, ArrayObject):
        for item in resolved:
            yield from _streams(item, where, seen)


def _visited(value: PdfObject | None, seen: set[int]) -> bool:
    """Whether this indirect object was already looked at (shared fonts, forms, loops)."""
    if not isinstance(value, IndirectObject):
        return False
    if value.idnum in seen:
        return True
    seen.add(value.idnum)
    return False


def _resolve(value: PdfObject | None) -> PdfObject | None:
    return value.get_object() if isinstance(value, IndirectObject) else value


def _inherited(page: DictionaryObject, key: str) -> PdfObject | None:
    """A page attribute, looked up the page tree as PDF inheritance says."""
    node: PdfObject | None = page
    for _ in range(64):
        node = _resolve(node)
        if not isinstance(node, DictionaryObject):
            return None
        if key in node:
            found: PdfObject = node.raw_get(key)
            return found
        node = node.get("/Parent")
    return None


def _inflated_size(stream: StreamObject, limit: int) -> int:
    """The stream's decoded size, counted up to just past ``limit``."""
    filters = stream.get("/Filter")
    names = (
        [str(f) for f in filters] if isinstance(filters, ArrayObject) else [str(filters)] if filters else []
    )
    if not names:
        return len(stream._data)  # pypdf keeps a stream's data as read (decrypted, not decoded) here
    if names == ["/FlateDecode"] or names == ["/Fl"]:
        return _flate_size(stream._data, limit)
    try:  # other filter chains are rare in content streams: pypdf decodes them with its own caps
        return len(stream.get_data())
    except LimitReachedError:
        return limit + 1
    except Exception:  # undecodable: pdfium will fail on it too, not inflate it
        return 0


def _flate_size(data: bytes, limit: int) -> int:
    """The inflated size, counted a step at a time up to just past ``limit``. Most writers put a
    zlib header on the data, some omit it; a damaged stream counts what inflated before the damage."""
    for wbits in (zlib.MAX_WBITS | 32, -zlib.MAX_WBITS):
        size = _count(zlib.decompressobj(wbits), data, limit)
        if size is not None:
            return size
    return 0


def _count(inflater: Any, data: bytes, limit: int) -> int | None:
    """Bytes ``inflater`` makes of ``data`` (keeping none of them); None if it is not deflate at all."""
    produced, pos, pending = 0, 0, b""
    try:
        while not inflater.eof and produced <= limit:
            if not pending:
                if pos >= len(data):
                    break
                pending = data[pos : pos + _STEP]
                pos += len(pending)
            produced += len(inflater.decompress(pending, _STEP))
            pending = inflater.unconsumed_tail
    except zlib.error:
        return produced or None
    return produced
