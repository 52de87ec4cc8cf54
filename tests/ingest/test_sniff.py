from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from ingest.document import LoaderError
from ingest.sniff import decode_text, sniff
from tests.ingest.helpers import make_docx, make_pdf

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_pdf_is_recognised_by_content_not_extension(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "report.txt", [["hello"]])
    result = sniff(path)
    assert (result.kind, result.mime_type) == ("pdf", "application/pdf")


def test_docx_is_a_zip_with_word_document(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "doc.bin")
    assert sniff(path).kind == "docx"


def test_other_zip_is_unsupported_with_reason(tmp_path: Path) -> None:
    path = tmp_path / "notes.docx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    result = sniff(path)
    assert result.kind == "unsupported"
    assert result.reason == "zip archive, not a Word document"


def test_zip_is_read_from_head_when_it_holds_the_whole_file(tmp_path: Path) -> None:
    docx_bytes = make_docx(tmp_path / "a.docx").read_bytes()
    assert sniff(tmp_path / "missing.docx", head=docx_bytes).kind == "docx"


def test_binary_named_markdown_is_rejected(tmp_path: Path) -> None:
    result = sniff(write(tmp_path, "picture.md", PNG))
    assert result.kind == "binary"
    assert result.reason == "binary file (image/png)"
    assert not result.supported


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"\x1f\x8b\x08\x00", "application/gzip"),
        (b"\x7fELF\x02\x01\x01", "application/x-executable"),
    ],
)
def test_known_binary_magics(tmp_path: Path, data: bytes, mime: str) -> None:
    result = sniff(write(tmp_path, "x.txt", data))
    assert (result.kind, result.mime_type) == ("binary", mime)


def test_nul_bytes_mean_binary(tmp_path: Path) -> None:
    result = sniff(write(tmp_path, "data.txt", b"abc\x00def\x00" * 10))
    assert result.kind == "binary"
    assert result.reason and result.reason.startswith("binary file")


def test_utf16_with_bom_is_text_despite_nuls(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.txt", "Hello wörld\n".encode("utf-16"))
    assert sniff(path).kind == "text"
    assert decode_text(path.read_bytes()) == "Hello wörld\n"


@pytest.mark.parametrize(
    "content",
    [
        "<!DOCTYPE html><html><body><p>x</p></body></html>",
        "\ufeff  <!-- generated -->\n<html lang='en'><p>x</p></html>",
        "<?xml version='1.0'?>\n<!doctype HTML>\n<html></html>",
        "<div>\n<head><title>t</title></head><body>x</body>",
    ],
)
def test_html_is_recognised_by_content(tmp_path: Path, content: str) -> None:
    path = write(tmp_path, "page.txt", content.encode("utf-8"))
    assert sniff(path).kind == "html"


def test_markdown_mentioning_body_tag_stays_markdown(tmp_path: Path) -> None:
    path = write(tmp_path, "guide.md", b"# Guide\n\nPut scripts before </body> or in <head>.\n")
    assert sniff(path).kind == "markdown"


@pytest.mark.parametrize(
    ("name", "content", "kind", "mime"),
    [
        ("a.md", "# Title\n", "markdown", "text/markdown"),
        ("a.markdown", "text", "markdown", "text/markdown"),
        ("a.rst", "Title\n=====\n", "rst", "text/x-rst"),
        ("a.rest", "text", "rst", "text/x-rst"),
        ("a.html", "<p>para</p>", "html", "text/html"),
        ("a.htm", "no tags at all", "text", "text/plain"),
        ("a.log", "# not markdown", "text", "text/plain"),
        ("noext", "plain", "text", "text/plain"),
    ],
)
def test_extension_breaks_ties_between_text_formats(
    tmp_path: Path, name: str, content: str, kind: str, mime: str
) -> None:
    result = sniff(write(tmp_path, name, content.encode()))
    assert (result.kind, result.mime_type) == (kind, mime)


def test_latin1_text_is_text(tmp_path: Path) -> None:
    path = write(tmp_path, "old.txt", "Café crème, naïve façade".encode("latin-1"))
    assert sniff(path).kind == "text"


def test_empty_file_is_text(tmp_path: Path) -> None:
    assert sniff(write(tmp_path, "empty.txt", b"")).kind == "text"


def test_head_argument_avoids_reading_the_file(tmp_path: Path) -> None:
    assert sniff(tmp_path / "not-there.txt", head=b"%PDF-1.7\n").kind == "pdf"


def test_rtf_is_unsupported_not_indexed_as_text(tmp_path: Path) -> None:
    result = sniff(write(tmp_path, "letter.txt", rb"{\rtf1\ansi Hello}"))
    assert result.kind == "unsupported"
    assert result.reason


class TestDecodeText:
    def test_utf8_with_and_without_bom(self) -> None:
        assert decode_text("naïve".encode()) == "naïve"
        assert decode_text(b"\xef\xbb\xbfna\xc3\xafve") == "naïve"

    def test_utf16_big_endian_bom(self) -> None:
        assert decode_text("\ufeffhi there".encode("utf-16-be")) == "hi there"

    def test_cp1252_fallback(self) -> None:
        assert decode_text(b"caf\xe9 \x93quoted\x94") == "café “quoted”"

    def test_newlines_are_normalised(self) -> None:
        assert decode_text(b"a\r\nb\rc\n") == "a\nb\nc\n"

    def test_undecodable_bytes_with_nul_are_refused(self) -> None:
        with pytest.raises(LoaderError):
            decode_text(b"\xff\xfa\x00\x01binary")

    def test_nul_in_valid_utf8_is_replaced_without_shifting_offsets(self) -> None:
        assert decode_text(b"a\x00b") == "a\ufffdb"


def test_svg_is_unsupported_not_text(tmp_path: Path) -> None:
    svg = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><text>hi</text></svg>'
    result = sniff(write(tmp_path, "logo.svg", svg))
    assert (result.kind, result.mime_type) == ("unsupported", "image/svg+xml")


@pytest.mark.parametrize(("name", "kind"), [("intro.rst.txt", "rst"), ("notes.md.txt", "markdown")])
def test_sphinx_style_source_names_keep_their_format(tmp_path: Path, name: str, kind: str) -> None:
    assert sniff(write(tmp_path, name, b"Title\n=====\n")).kind == kind
