"""Zip bombs in Word documents: refused before parsing, with a reason, the rest of the batch landing.

The bombs are made here, streamed into a real python-docx package, so the test itself stays small:
160 MB of one repeated letter compresses to about 160 KB.
"""

from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import docx
import pytest

from ingest.archive import ArchiveBombError, ArchiveLimits, bounded_package
from ingest.document import LoaderError
from ingest.loaders import load_file
from ingest.sniff import sniff
from tests.ingest.helpers import ingest_paths, load_path, stored_names, texts

MiB = 1024 * 1024
BOMB_BYTES = 160 * MiB  # over the 64 MB part and 128 MB total limits
PARAGRAPH = b"<w:p><w:r><w:t>All work and no play makes Jack a dull boy.</w:t></w:r></w:p>"


def _template() -> bytes:
    document = docx.Document()
    document.add_paragraph("The real first paragraph.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def docx_with_body(path: Path, body: Callable[[Callable[[bytes], object]], None]) -> Path:
    """A valid .docx whose document.xml body is written, streamed, by ``body(write)``."""
    with (
        zipfile.ZipFile(io.BytesIO(_template())) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for info in source.infolist():
            xml = source.read(info)
            if info.filename != "word/document.xml":
                out.writestr(info.filename, xml)
                continue
            head, tail = xml.split(b"<w:body>", 1)
            with out.open("word/document.xml", "w", force_zip64=True) as part:
                part.write(head + b"<w:body>")
                body(part.write)
                part.write(tail)
    return path


def one_huge_paragraph(size: int) -> Callable[[Callable[[bytes], object]], None]:
    def body(write: Callable[[bytes], object]) -> None:
        write(b"<w:p><w:r><w:t>")
        block = b"a" * MiB
        for _ in range(size // MiB):
            write(block)
        write(b"</w:t></w:r></w:p>")

    return body


def repeated_paragraphs(size: int) -> Callable[[Callable[[bytes], object]], None]:
    def body(write: Callable[[bytes], object]) -> None:
        block = PARAGRAPH * (MiB // len(PARAGRAPH))
        for _ in range(size // len(block)):
            write(block)

    return body


def understate(path: Path, member: str, declared: int) -> Path:
    """Patch the central directory so ``member`` claims ``declared`` bytes uncompressed (a lie)."""
    data = bytearray(path.read_bytes())
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        name_length, extra_length, comment_length = struct.unpack("<HHH", data[pos + 28 : pos + 34])
        if bytes(data[pos + 46 : pos + 46 + name_length]) == member.encode():
            struct.pack_into("<I", data, pos + 24, declared)
        pos = data.find(b"PK\x01\x02", pos + 46 + name_length + extra_length + comment_length)
    path.write_bytes(bytes(data))
    return path


def peak_traced(fn: Callable[[], object]) -> tuple[object, int]:
    """What ``fn`` returned (or raised) and the peak bytes Python allocated meanwhile."""
    tracemalloc.start()
    try:
        try:
            result: object = fn()
        except Exception as exc:
            result = exc
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_part_declaring_more_than_the_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    path = docx_with_body(tmp_path / "bomb.docx", one_huge_paragraph(BOMB_BYTES))
    assert path.stat().st_size < 2 * MiB
    result, peak = peak_traced(lambda: load_file(path, path.read_bytes()))
    assert isinstance(result, ArchiveBombError), result
    assert "word/document.xml" in str(result) and "limit for one part" in str(result)
    assert peak < 16 * MiB


def test_a_part_whose_header_understates_its_size_stops_at_the_declared_size(tmp_path: Path) -> None:
    path = docx_with_body(tmp_path / "liar.docx", one_huge_paragraph(BOMB_BYTES))
    understate(path, "word/document.xml", 1_000_000)
    result, peak = peak_traced(lambda: load_file(path, path.read_bytes()))
    assert isinstance(result, ArchiveBombError), result
    assert "inflates past the" in str(result) and "its header declares" in str(result)
    assert peak < 16 * MiB  # inflated a step at a time, never the whole 160 MB


def test_a_bomb_under_the_size_limits_is_caught_by_its_compression_ratio(tmp_path: Path) -> None:
    path = docx_with_body(tmp_path / "dense.docx", repeated_paragraphs(30 * MiB))
    with pytest.raises(ArchiveBombError, match="times its compressed size"):
        load_file(path, path.read_bytes())


def test_parts_declaring_more_than_the_total_limit_are_refused(tmp_path: Path) -> None:
    path = docx_with_body(tmp_path / "many.docx", repeated_paragraphs(3 * MiB))
    data = path.read_bytes()
    keep_xml = lambda name: name.endswith((".xml", ".rels"))  # noqa: E731
    bounded_package(data, keep_xml, ArchiveLimits(max_ratio=1000))  # fits the defaults
    with pytest.raises(
        ArchiveBombError, match=r"declare \d\.\d MB or more uncompressed, over the 2\.0 MB limit"
    ):
        bounded_package(data, keep_xml, ArchiveLimits(max_total_bytes=2 * MiB, max_ratio=1000))


def test_too_many_entries_are_refused_before_zipfile_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "crowd.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as out:
        with zipfile.ZipFile(io.BytesIO(_template())) as source:
            for info in source.infolist():
                out.writestr(info.filename, source.read(info))
        for n in range(10_001):
            out.writestr(f"customXml/item{n}.bin", b"")
    with pytest.raises(ArchiveBombError, match="more than 10,000 entries"):
        load_file(path, path.read_bytes())
    as_zip = tmp_path / "crowd.zip"
    as_zip.write_bytes(path.read_bytes())
    assert "more than 10,000 entries" in (sniff(as_zip, head=as_zip.read_bytes()).reason or "")


def test_other_compression_methods_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bz.docx"
    with (
        zipfile.ZipFile(io.BytesIO(_template())) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_BZIP2) as out,
    ):
        for info in source.infolist():
            out.writestr(info.filename, source.read(info))
    with pytest.raises(LoaderError, match="unsupported zip compression"):
        load_file(path, path.read_bytes())


def test_a_long_real_document_with_an_image_still_loads(tmp_path: Path) -> None:
    """About 50 pages: headings, 300 paragraphs, a table and a picture (whose bytes are not read)."""
    png = tmp_path / "dot.png"
    png.write_bytes(
        bytes.fromhex(
            "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
            "1f15c4890000000d49444154789c6360f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
        )
    )
    document = docx.Document()
    document.add_heading("Operations Manual", level=0)
    for section in range(25):
        document.add_heading(f"Chapter {section + 1}", level=1)
        for n in range(12):
            document.add_paragraph(
                f"Paragraph {n} of chapter {section + 1} explains one procedure step by step, with the "
                "checks to run before and after, who to call when a check fails, and where the logs are "
                "kept so the next shift can follow what happened during the night."
            )
        table = document.add_table(rows=2, cols=2)
        table.cell(0, 0).text, table.cell(0, 1).text = "Step", "Owner"
        table.cell(1, 0).text, table.cell(1, 1).text = f"Check {section}", "On-call"
    document.add_picture(str(png))
    document.save(str(tmp_path / "manual.docx"))

    doc = load_path(tmp_path / "manual.docx")
    assert doc.title == "Operations Manual"
    assert len(texts(doc)) == 1 + 25 * (1 + 12 + 2)
    assert "Paragraph 11 of chapter 25" in doc.text


def test_a_bomb_in_a_folder_is_skipped_and_the_rest_lands(make_kb, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    docx_with_body(corpus / "bomb.docx", one_huge_paragraph(BOMB_BYTES))
    docx_with_body(corpus / "paragraphs.docx", repeated_paragraphs(BOMB_BYTES))  # the probe's kind
    understate(
        docx_with_body(corpus / "liar.docx", one_huge_paragraph(BOMB_BYTES)), "word/document.xml", 10_000
    )
    good = docx.Document()
    good.add_heading("Release notes", level=1)
    good.add_paragraph("Version 2 adds offline search and faster ingest.")
    good.save(str(corpus / "good.docx"))
    (corpus / "notes.md").write_text("# Notes\n\nThe deploy runs on Tuesdays.\n")

    kb = make_kb()
    kb.open(writable=True)
    report = ingest_paths(kb, [corpus])

    assert stored_names(kb) == {"good.docx", "notes.md"}
    reasons = {Path(e.path).name: e.reason for e in report.errors}
    assert set(reasons) == {"bomb.docx", "paragraphs.docx", "liar.docx"}
    assert "limit for one part" in reasons["bomb.docx"] and "limit for one part" in reasons["paragraphs.docx"]
    assert "declares" in reasons["liar.docx"]
    assert report.counts["skipped"] == 3 and report.counts["added"] == 2
