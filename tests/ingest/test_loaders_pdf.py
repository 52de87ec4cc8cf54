"""PDF loader, on real PDFs generated with reportlab."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.document import BlockKind, LoaderError
from tests.ingest.helpers import load_bytes, load_path, make_pdf, texts, wrap

REVENUE = (
    "Revenue grew strongly this quarter because the new product line shipped on time and the "
    "older products kept selling well in every region we track."
)
COSTS = "Costs fell slightly as the move to the new warehouse finished earlier than we planned."
PAGE_TWO = (
    "The second page explains the outlook for next year in some detail, covering hiring, "
    "prices and the launch schedule for the spring."
)


def test_pdf_pages_paragraphs_and_title(tmp_path: Path) -> None:
    pages = [["Quarterly Report", "", *wrap(REVENUE), "", *wrap(COSTS)], ["Outlook", "", *wrap(PAGE_TWO)]]
    doc = load_path(make_pdf(tmp_path / "report.pdf", pages, title="Quarterly Report 2024"))
    assert doc.mime_type == "application/pdf"
    assert doc.title == "Quarterly Report 2024"
    assert doc.metadata == {"pages": 2}
    assert [(doc.block_text(b), b.page) for b in doc.blocks] == [
        ("Quarterly Report", 1),
        (REVENUE, 1),
        (COSTS, 1),
        ("Outlook", 2),
        (PAGE_TWO, 2),
    ]
    assert doc.warnings == []


def test_pdf_joins_wrapped_lines_and_mends_hyphens(tmp_path: Path) -> None:
    long_line = "This line is long enough to count as a full line of body text in the"
    path = make_pdf(
        tmp_path / "wrap.pdf",
        [
            [
                long_line,
                "document, and its last word was split by an exam-",
                "ple of hyphenation here. Done.",
                "Next",
            ]
        ],
    )
    doc = load_path(path)
    assert texts(doc)[0] == (
        f"{long_line} document, and its last word was split by an example of hyphenation here. Done."
    )


def test_pdf_running_headers_and_page_numbers_are_dropped(tmp_path: Path) -> None:
    words = ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]
    pages = [[f"{word} is the only paragraph on this page."] for word in words]
    doc = load_path(make_pdf(tmp_path / "h.pdf", pages, header="ACME Handbook", page_numbers=True))
    assert texts(doc) == [f"{word} is the only paragraph on this page." for word in words]
    assert [b.page for b in doc.blocks] == [1, 2, 3, 4, 5]


def test_pdf_bullets_become_list_items(tmp_path: Path) -> None:
    lines = ["Things to pack for the trip.", "• Warm socks", "• A good book"]
    doc = load_path(make_pdf(tmp_path / "list.pdf", [lines]))
    assert [(t, b.kind) for t, b in zip(texts(doc), doc.blocks, strict=True)] == [
        ("Things to pack for the trip.", BlockKind.PARAGRAPH),
        ("• Warm socks", BlockKind.LIST_ITEM),
        ("• A good book", BlockKind.LIST_ITEM),
    ]


def test_pdf_title_from_first_line_without_metadata(tmp_path: Path) -> None:
    doc = load_path(make_pdf(tmp_path / "memo.pdf", [["Memo to staff", "", "Body."]], title=""))
    assert doc.title == "Memo to staff"


def test_pdf_blank_page_gives_a_warning(tmp_path: Path) -> None:
    doc = load_path(make_pdf(tmp_path / "gap.pdf", [["Page one."], [], ["Page three."]]))
    assert [b.page for b in doc.blocks] == [1, 3]
    assert doc.warnings == ["1 of 3 pages had no extractable text (pages 2)"]


def test_pdf_without_text_is_reported_as_scanned(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "scan.pdf", [[], []])
    with pytest.raises(LoaderError, match="no extractable text"):
        load_path(path)


def test_truncated_pdf_is_corrupt(tmp_path: Path) -> None:
    data = make_pdf(tmp_path / "full.pdf", [["Some text."]] * 3).read_bytes()
    with pytest.raises(LoaderError, match="corrupt PDF"):
        load_bytes(tmp_path, "broken.pdf", data[: len(data) // 2])


def test_encrypted_pdf_with_empty_user_password_opens(tmp_path: Path) -> None:
    doc = load_path(make_pdf(tmp_path / "open.pdf", [["Readable secret."]], encrypt=""))
    assert texts(doc) == ["Readable secret."]


def test_password_protected_pdf_is_refused(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "locked.pdf", [["Hidden."]], encrypt="hunter2")
    with pytest.raises(LoaderError, match="password"):
        load_path(path)


def test_pdf_named_txt_loads_as_pdf(tmp_path: Path) -> None:
    doc = load_path(make_pdf(tmp_path / "actually-a-pdf.txt", [["Real PDF content."]]))
    assert doc.mime_type == "application/pdf"
    assert doc.blocks[0].page == 1
    assert texts(doc) == ["Real PDF content."]


def test_one_line_pages_that_differ_only_in_numbers_are_kept(tmp_path: Path) -> None:
    lines = [f"Invoice {1000 + n} total {25 * n} dollars due 2024-0{n}-15" for n in range(1, 6)]
    doc = load_path(make_pdf(tmp_path / "invoices.pdf", [[line] for line in lines]))
    assert texts(doc) == lines
    assert [b.page for b in doc.blocks] == [1, 2, 3, 4, 5]


def test_a_page_whose_only_text_looks_like_the_running_header_keeps_it(tmp_path: Path) -> None:
    words = ["Alpha", "Bravo", "Charlie", "Delta"]
    pages = [[f"{word} is the body of this page."] for word in words] + [[]]
    doc = load_path(make_pdf(tmp_path / "h.pdf", pages, header="ACME Handbook", page_numbers=True))
    assert texts(doc) == [*(f"{word} is the body of this page." for word in words), "ACME Handbook"]
