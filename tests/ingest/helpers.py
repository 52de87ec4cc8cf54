"""Shared checks and file factories for the ingest tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

from sqlalchemy import select

from ingest.chunking import Chunker
from ingest.document import BlockKind, ParsedDocument
from ingest.loaders import load_file
from ingest.pipeline import IngestOptions, IngestPipeline, IngestReport
from retriever.db.models import Document


def assert_valid_blocks(doc: ParsedDocument) -> None:
    """The contract every loader must keep: exact, stripped, ordered, non-overlapping spans."""
    assert doc.blocks, "a loaded document must have blocks"
    previous_end = 0
    for block in doc.blocks:
        content = doc.text[block.start : block.end]
        assert 0 <= block.start < block.end <= len(doc.text), block
        assert content == content.strip(), f"block not stripped: {content!r}"
        assert content, block
        assert block.start >= previous_end, f"blocks overlap or are out of order at {block}"
        previous_end = block.end
        if block.kind is BlockKind.HEADING:
            assert block.heading_path and block.heading_path[-1], "a heading's path includes its own title"


def load_bytes(tmp_path: Path, name: str, data: bytes) -> ParsedDocument:
    path = tmp_path / name
    path.write_bytes(data)
    doc = load_file(path, data)
    assert_valid_blocks(doc)
    return doc


def load_path(path: Path) -> ParsedDocument:
    doc = load_file(path, path.read_bytes())
    assert_valid_blocks(doc)
    return doc


def ingest_paths(kb, paths: list[Path], **options: object) -> IngestReport:
    """The real pipeline over ``paths`` with small chunks, as an ingest test needs it."""
    chunker = Chunker(kb.embedder.count_tokens, max_tokens=60, overlap_tokens=10)
    return IngestPipeline(kb, chunker, IngestOptions(**options)).run(paths)  # type: ignore[arg-type]


def stored_names(kb) -> set[str]:
    """The file names of the documents stored in ``kb``."""
    with kb.session() as session:
        return {Path(d.source_uri).name for d in session.execute(select(Document)).scalars()}


def texts(doc: ParsedDocument, kind: BlockKind | None = None) -> list[str]:
    return [doc.block_text(b) for b in doc.blocks if kind is None or b.kind is kind]


def wrap(paragraph: str, width: int = 80) -> list[str]:
    """Lines as a PDF would lay them out, so paragraph detection has realistic input."""
    return textwrap.wrap(paragraph, width)


def make_pdf(
    path: Path,
    pages: list[list[str]],
    *,
    title: str | None = None,
    header: str | None = None,
    page_numbers: bool = False,
    encrypt: str | None = None,
) -> Path:
    """A real PDF with one drawn line per string; ``""`` leaves a blank line."""
    from reportlab.lib.pdfencrypt import StandardEncryption
    from reportlab.pdfgen import canvas

    encryption = (
        StandardEncryption(encrypt, ownerPassword="owner", strength=128) if encrypt is not None else None
    )
    pdf = canvas.Canvas(str(path), encrypt=encryption)
    if title is not None:
        pdf.setTitle(title)
    for number, lines in enumerate(pages, start=1):
        if header:
            pdf.drawString(72, 770, header)
        y = 720
        for line in lines:
            if line:
                pdf.drawString(72, y, line)
            y -= 14
        if page_numbers:
            pdf.drawString(300, 40, str(number))
        pdf.showPage()
    pdf.save()
    return path


def make_docx(path: Path, *, core_title: str | None = None) -> Path:
    """A Word document with a title, nested headings, a list, and a table between paragraphs."""
    import docx

    document = docx.Document()
    if core_title:
        document.core_properties.title = core_title
    document.add_paragraph("Annual Report", style="Title")
    document.add_heading("Overview", level=1)
    document.add_paragraph("The overview paragraph comes first.")
    document.add_heading("Details", level=2)
    document.add_paragraph("First bullet point", style="List Bullet")
    document.add_paragraph("Second bullet point", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Name"
    table.cell(0, 1).text = "Value"
    table.cell(1, 0).text = "alpha"
    table.cell(1, 1).text = "42"
    document.add_paragraph("Text after the table.")
    document.add_heading("Summary", level=1)
    document.add_paragraph("Closing words.")
    document.save(str(path))
    return path
