"""Property tests: whatever the input, raw-text loaders must keep their offsets exact."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.document import LoaderError, ParsedDocument
from ingest.loaders import Loader, markdown, rst, text
from ingest.sniff import decode_text
from tests.ingest.helpers import assert_valid_blocks

# Fragments that exercise the scanners' edge cases: fences, headings, underlines, lists, tables,
# directives, CRLF and unusual whitespace.
FRAGMENTS = [
    "# ", "## ", "###### ", "#", " #", "```", "~~~", "```py", "---", "===", "***", "- ", "* ", "1. ",
    "2) ", "    ", "\t", "|", "| a | b |", "|---|", "> ", "::", ".. ", ".. note:: ", ".. code-block:: ",
    "   :opt: x", "title: T", "word", "Ünïcødé", "x.", " ", "\n", "\n", "\n\n", "\r\n", "\r", "\x0c",
    "\u00a0", "\u2028", "\ufeff",
]  # fmt: skip

documents = st.lists(st.sampled_from(FRAGMENTS), max_size=60).map("".join)


def load_or_empty(loader: Loader, source: str) -> ParsedDocument | None:
    try:
        return loader(source.encode("utf-8"), filename="generated.txt")
    except LoaderError as exc:
        assert str(exc) == "empty document"
        return None


@settings(max_examples=150, deadline=None)
@given(documents)
def test_markdown_offsets_are_exact(source: str) -> None:
    doc = load_or_empty(markdown.load, source)
    if doc is not None:
        assert_valid_blocks(doc)


@settings(max_examples=150, deadline=None)
@given(documents)
def test_rst_offsets_are_exact(source: str) -> None:
    doc = load_or_empty(rst.load, source)
    if doc is not None:
        assert_valid_blocks(doc)


@settings(max_examples=150, deadline=None)
@given(st.one_of(documents, st.text(max_size=300)))
def test_text_blocks_cover_every_visible_character(source: str) -> None:
    doc = load_or_empty(text.load, source)
    if doc is None:
        assert not decode_text(source.encode("utf-8")).strip()
        return
    assert_valid_blocks(doc)
    covered = {i for b in doc.blocks for i in range(b.start, b.end)}
    visible = {i for i, ch in enumerate(doc.text) if not ch.isspace()}
    assert visible <= covered
