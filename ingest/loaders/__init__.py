"""One entry point from file bytes to a ParsedDocument, whatever the format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ingest.document import LoaderError, ParsedDocument
from ingest.loaders import docx, html, markdown, pdf, rst, text
from ingest.sniff import MIME_TYPES, sniff

Loader = Callable[..., ParsedDocument]  # load(data: bytes, *, filename: str)

LOADERS: dict[str, Loader] = {
    "pdf": pdf.load,
    "docx": docx.load,
    "html": html.load,
    "markdown": markdown.load,
    "rst": rst.load,
    "text": text.load,
}

__all__ = ["LOADERS", "Loader", "load_file"]


def load_file(path: Path, data: bytes) -> ParsedDocument:
    """Parse ``data`` (the contents of ``path``); every failure becomes a LoaderError with a reason."""
    if not data.strip():
        raise LoaderError("empty document")
    kind = sniff(path, head=data)
    loader = LOADERS.get(kind.kind)
    if loader is None:
        raise LoaderError(kind.reason or f"unsupported file type ({kind.mime_type})")
    try:
        document = loader(data, filename=path.name)
    except LoaderError:
        raise
    except Exception as exc:  # a parser bug or a malformed file we did not anticipate
        raise LoaderError(f"could not parse {kind.kind}: {exc}") from exc
    if not document.blocks:
        raise LoaderError("empty document")
    document.mime_type = MIME_TYPES[kind.kind]
    return document
