"""Decide how to parse a file from its bytes, not its name.

File names lie (a PDF saved as ``.txt``, a PNG renamed ``.md``); trusting them either feeds binary
noise into the index or skips a perfectly good document. The extension only breaks ties between
text formats that look alike.
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ingest.archive import ArchiveBombError, check_entry_count
from ingest.document import LoaderError

HEAD_SIZE = 8192

MIME_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "html": "text/html",
    "markdown": "text/markdown",
    "rst": "text/x-rst",
    "text": "text/plain",
}

_MARKDOWN_EXTS = {".md", ".markdown", ".mdown", ".mkd"}
_RST_EXTS = {".rst", ".rest"}
_HTML_EXTS = {".html", ".htm", ".xhtml"}

# (magic prefix, mime type). Checked after PDF and ZIP, which we can parse.
_BINARY_MAGICS: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"\x1f\x8b", "application/gzip"),
    (b"BZh", "application/x-bzip2"),
    (b"\xfd7zXZ\x00", "application/x-xz"),
    (b"\x28\xb5\x2f\xfd", "application/zstd"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"\x7fELF", "application/x-executable"),
    (b"\xca\xfe\xba\xbe", "application/java-vm"),
    (b"\x00asm", "application/wasm"),
    (b"SQLite format 3\x00", "application/vnd.sqlite3"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
    (b"ID3", "audio/mpeg"),
    (b"OggS", "audio/ogg"),
    (b"fLaC", "audio/flac"),
)

# Text-based formats we recognise but do not parse; better to say so than to index their markup.
_UNSUPPORTED_TEXT_MAGICS: tuple[tuple[bytes, str, str], ...] = (
    (b"{\\rtf", "application/rtf", "RTF documents are not supported"),
    (b"%!PS", "application/postscript", "PostScript files are not supported"),
)

_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)

_LEADING_JUNK = re.compile(r"\A(?:\s+|<!--.*?-->|<\?xml[^>]*\?>)*", re.DOTALL)
_HTML_START = re.compile(r"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]", re.IGNORECASE)
_SVG_START = re.compile(r"(?:<!doctype\s+svg[^>]*>\s*)?<svg[\s>]", re.IGNORECASE)
_HTML_NEAR_START = re.compile(r"<head[\s>]|<body[\s>]", re.IGNORECASE)
_ANY_TAG = re.compile(r"<(?:[a-zA-Z][a-zA-Z0-9]*)(?:\s[^<>]*)?/?>")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class SniffResult:
    mime_type: str
    kind: str  # pdf, docx, html, markdown, rst, text, binary, unsupported
    reason: str | None = None

    @property
    def supported(self) -> bool:
        return self.kind not in ("binary", "unsupported")


def sniff(path: Path, head: bytes | None = None) -> SniffResult:
    """Classify a file; ``head`` is its leading bytes (or all of them), read from ``path`` if omitted."""
    if head is None:
        with path.open("rb") as fh:
            head = fh.read(HEAD_SIZE)
    start = head[:HEAD_SIZE]
    ext = _text_extension(path)

    if start.lstrip(b"\x00\t\n\r ").startswith(b"%PDF-"):
        return SniffResult(MIME_TYPES["pdf"], "pdf")
    if start.startswith(b"PK\x03\x04"):
        return _sniff_zip(path, head, ext)
    for magic, mime in _BINARY_MAGICS:
        if start.startswith(magic):
            return _binary(mime)
    if start[8:12] == b"WEBP" and start.startswith(b"RIFF"):
        return _binary("image/webp")
    if start[4:8] == b"ftyp":
        return _binary("video/mp4")
    for magic, mime, reason in _UNSUPPORTED_TEXT_MAGICS:
        if start.startswith(magic):
            return SniffResult(mime, "unsupported", reason)

    text = _decode_head(start)
    if text is None:
        return _binary("application/octet-stream")
    return _sniff_text(text, ext)


def decode_text(data: bytes) -> str:
    """Decode a text file whatever its encoding, with ``\\n`` line ends so offsets are stable."""
    text: str | None = None
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as exc:
                raise LoaderError(f"invalid {codec} text: {exc}") from exc
            break
    if text is None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            if b"\x00" in data:
                raise LoaderError("not a text file (contains NUL bytes)") from None
            # cp1252 is a superset of latin-1's printable range, so it is the usual legacy encoding.
            text = data.decode("cp1252", errors="replace")
    # NUL cannot be stored in PostgreSQL text; replacing it one-for-one keeps offsets valid.
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "\ufffd")


def _text_extension(path: Path) -> str:
    """The extension that names the format; Sphinx publishes its sources as ``page.rst.txt``."""
    suffixes = [s.lower() for s in path.suffixes]
    if len(suffixes) >= 2 and suffixes[-1] == ".txt" and suffixes[-2] in _MARKDOWN_EXTS | _RST_EXTS:
        return suffixes[-2]
    return suffixes[-1] if suffixes else ""


def _binary(mime: str) -> SniffResult:
    what = mime if mime != "application/octet-stream" else "unknown type"
    return SniffResult(mime, "binary", f"binary file ({what})")


def _sniff_zip(path: Path, head: bytes, ext: str) -> SniffResult:
    try:
        names = _zip_names(path, head)
    except ArchiveBombError as exc:
        if ext == ".docx":
            return SniffResult(MIME_TYPES["docx"], "docx")  # the Word loader refuses it, same reason
        return SniffResult("application/zip", "unsupported", str(exc))
    if names is None:
        if ext == ".docx":
            # Let the Word loader report the corruption in its own words.
            return SniffResult(MIME_TYPES["docx"], "docx")
        return SniffResult("application/zip", "unsupported", "corrupt zip archive")
    if "word/document.xml" in names:
        return SniffResult(MIME_TYPES["docx"], "docx")
    if "xl/workbook.xml" in names:
        return SniffResult("application/zip", "unsupported", "Excel workbooks are not supported")
    if "ppt/presentation.xml" in names:
        return SniffResult("application/zip", "unsupported", "PowerPoint files are not supported")
    return SniffResult("application/zip", "unsupported", "zip archive, not a Word document")


def _zip_names(path: Path, head: bytes) -> set[str] | None:
    """The archive's member names; the entries are counted first, as ``zipfile`` builds an object
    for every one (ArchiveBombError past the limit)."""
    try:
        return _names(io.BytesIO(head))
    except (zipfile.BadZipFile, OSError, ValueError):
        pass  # head may be only the start of the archive; the directory is at the end
    try:
        with path.open("rb") as fh:
            return _names(fh)
    except (zipfile.BadZipFile, OSError, ValueError):
        return None


def _names(fh: BinaryIO) -> set[str]:
    check_entry_count(fh)
    with zipfile.ZipFile(fh) as zf:
        return set(zf.namelist())


def _decode_head(start: bytes) -> str | None:
    """The head as text, or None if it does not look like text in any encoding we accept."""
    for bom, codec in _BOMS:
        if start.startswith(bom):
            decoder = _incremental(codec)
            try:
                return decoder.decode(start, final=False)
            except UnicodeDecodeError:
                return None
    if b"\x00" in start:
        return None
    try:
        text = _incremental("utf-8").decode(start, final=False)
    except UnicodeDecodeError:
        try:
            text = start.decode("cp1252")
        except UnicodeDecodeError:
            return None
    if text and len(_CONTROL_CHARS.findall(text)) > max(2, len(text) // 100):
        return None
    return text


def _incremental(codec: str) -> codecs.IncrementalDecoder:
    return codecs.getincrementaldecoder(codec)()


def _sniff_text(text: str, ext: str) -> SniffResult:
    body = _LEADING_JUNK.sub("", text.lstrip("\ufeff"), count=1)
    if _SVG_START.match(body):
        return SniffResult("image/svg+xml", "unsupported", "SVG images are not supported")
    if _HTML_START.match(body) or (body.startswith("<") and _HTML_NEAR_START.search(body[:1024])):
        return SniffResult(MIME_TYPES["html"], "html")
    if ext in _MARKDOWN_EXTS:
        return SniffResult(MIME_TYPES["markdown"], "markdown")
    if ext in _RST_EXTS:
        return SniffResult(MIME_TYPES["rst"], "rst")
    if ext in _HTML_EXTS and _ANY_TAG.search(text):
        return SniffResult(MIME_TYPES["html"], "html")
    return SniffResult(MIME_TYPES["text"], "text")
