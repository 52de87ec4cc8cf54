"""Word loader, on real .docx files generated with python-docx."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.document import BlockKind, LoaderError
from tests.ingest.helpers import load_bytes, load_path, make_docx, texts


def test_docx_headings_lists_and_tables_in_body_order(tmp_path: Path) -> None:
    doc = load_path(make_docx(tmp_path / "report.docx"))
    assert doc.mime_type == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert doc.title == "Annual Report"
    assert [(doc.block_text(b), b.kind, b.heading_path) for b in doc.blocks] == [
        ("Annual Report", BlockKind.HEADING, ("Annual Report",)),
        ("Overview", BlockKind.HEADING, ("Annual Report", "Overview")),
        ("The overview paragraph comes first.", BlockKind.PARAGRAPH, ("Annual Report", "Overview")),
        ("Details", BlockKind.HEADING, ("Annual Report", "Overview", "Details")),
        ("First bullet point", BlockKind.LIST_ITEM, ("Annual Report", "Overview", "Details")),
        ("Second bullet point", BlockKind.LIST_ITEM, ("Annual Report", "Overview", "Details")),
        ("Name | Value", BlockKind.TABLE, ("Annual Report", "Overview", "Details")),
        ("alpha | 42", BlockKind.TABLE, ("Annual Report", "Overview", "Details")),
        ("Text after the table.", BlockKind.PARAGRAPH, ("Annual Report", "Overview", "Details")),
        ("Summary", BlockKind.HEADING, ("Annual Report", "Summary")),
        ("Closing words.", BlockKind.PARAGRAPH, ("Annual Report", "Summary")),
    ]


def test_docx_core_title_wins(tmp_path: Path) -> None:
    doc = load_path(make_docx(tmp_path / "r.docx", core_title="Official Title"))
    assert doc.title == "Official Title"


def test_docx_merged_cells_are_not_repeated(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    table = document.add_table(rows=2, cols=3)
    merged = table.cell(0, 0).merge(table.cell(0, 1))
    merged.text = "Wide header"
    table.cell(0, 2).text = "Right"
    for col, value in enumerate(["a", "b", "c"]):
        table.cell(1, col).text = value
    document.save(str(tmp_path / "t.docx"))
    doc = load_path(tmp_path / "t.docx")
    assert texts(doc, BlockKind.TABLE) == ["Wide header | Right", "a | b | c"]
    assert doc.title == "t"


def test_corrupt_docx_is_a_loader_error(tmp_path: Path) -> None:
    data = make_docx(tmp_path / "full.docx").read_bytes()
    with pytest.raises(LoaderError):
        load_bytes(tmp_path, "broken.docx", data[: len(data) // 2])
