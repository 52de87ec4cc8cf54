"""PDF decompression bombs: a page (or a form drawn on it) whose stream inflates to hundreds of MB
is refused before pdfium inflates it, and the rest of the batch lands."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from ingest.archive import ArchiveBombError
from ingest.loaders import load_file
from ingest.loaders.pdf_streams import PdfStreamLimits, check_streams
from tests.ingest.helpers import ingest_paths, make_pdf, stored_names

MiB = 1024 * 1024
TEXT = b"BT /F1 12 Tf 72 720 Td (Quarterly figures follow.) Tj ET\n"


def _flate(prefix: bytes, padding: int) -> bytes:
    """``prefix`` then ``padding`` spaces, deflated in steps (a few hundred KB for 160 MB)."""
    deflate = zlib.compressobj(9)
    parts = [deflate.compress(prefix)]
    block = b" " * MiB
    parts += [deflate.compress(block) for _ in range(padding // MiB)]
    parts.append(deflate.flush())
    return b"".join(parts)


def pdf_file(path: Path, contents: bytes, form: bytes | None = None) -> Path:
    """A one-page PDF whose content stream is ``contents`` (deflated); ``form`` adds a form XObject."""
    resources = b"/Font << /F1 5 0 R >>" + (b" /XObject << /X1 6 0 R >>" if form else b"")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << "
        + resources
        + b" >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(contents) + contents + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    if form:
        objects.append(
            b"<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> "
            b"/Length %d /Filter /FlateDecode >>\nstream\n" % len(form) + form + b"\nendstream"
        )
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def test_a_page_stream_that_inflates_past_the_limit_is_refused(tmp_path: Path) -> None:
    path = pdf_file(tmp_path / "bomb.pdf", _flate(TEXT, 160 * MiB))
    assert path.stat().st_size < 1 * MiB
    with pytest.raises(ArchiveBombError, match=r"page 1 contents\) inflates to more than the 64 MB limit"):
        load_file(path, path.read_bytes())


def test_a_form_drawn_on_the_page_is_bounded_too(tmp_path: Path) -> None:
    contents = _flate(TEXT + b"/X1 Do\n", 0)
    path = pdf_file(tmp_path / "form.pdf", contents, form=_flate(TEXT, 160 * MiB))
    with pytest.raises(ArchiveBombError, match="page 1 form /X1"):
        load_file(path, path.read_bytes())


def test_the_same_pages_under_the_limit_load(tmp_path: Path) -> None:
    path = pdf_file(tmp_path / "fine.pdf", _flate(TEXT + b"/X1 Do\n", 2 * MiB), form=_flate(TEXT, 1 * MiB))
    doc = load_file(path, path.read_bytes())
    assert "Quarterly figures follow." in doc.text


def test_the_document_total_is_bounded(tmp_path: Path) -> None:
    from pypdf import PdfReader

    path = pdf_file(tmp_path / "two.pdf", _flate(TEXT + b"/X1 Do\n", 3 * MiB), form=_flate(TEXT, 3 * MiB))
    check_streams(PdfReader(path))  # fits the defaults
    with pytest.raises(ArchiveBombError, match="more than 5 MB in total"):
        check_streams(PdfReader(path), PdfStreamLimits(max_total_bytes=5 * MiB))


def test_a_real_multi_page_pdf_with_fonts_passes_the_check(tmp_path: Path) -> None:
    from pypdf import PdfReader

    pages = [[f"Page {n} explains one step of the procedure in plain words."] for n in range(30)]
    check_streams(PdfReader(make_pdf(tmp_path / "manual.pdf", pages, header="Manual", page_numbers=True)))


def test_a_pdf_bomb_in_a_folder_is_skipped_and_the_rest_lands(make_kb, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    pdf_file(corpus / "bomb.pdf", _flate(TEXT, 160 * MiB))
    make_pdf(corpus / "good.pdf", [["Revenue grew by twelve percent this quarter."]])
    kb = make_kb()
    kb.open(writable=True)
    report = ingest_paths(kb, [corpus])
    assert stored_names(kb) == {"good.pdf"}
    [error] = report.errors
    assert error.path.endswith("bomb.pdf") and "decompression bomb" in error.reason
