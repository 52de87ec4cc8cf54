"""Loaders against real files installed on the machine, where available."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.document import BlockKind, ParsedDocument
from ingest.loaders import load_file
from tests.ingest.helpers import assert_valid_blocks, texts

SPHINX_HTML = Path("/tmp/corpus/root/usr/share/doc/python3.11-doc/html")


def load_sphinx(relative: str) -> ParsedDocument:
    path = SPHINX_HTML / relative
    if not path.is_file():
        pytest.skip(f"Python HTML docs not present at {path}")
    doc = load_file(path, path.read_bytes())
    assert_valid_blocks(doc)
    return doc


def test_sphinx_library_page() -> None:
    doc = load_sphinx("library/json.html")
    assert doc.title == "json — JSON encoder and decoder"
    headings = texts(doc, BlockKind.HEADING)
    assert headings[0] == "json — JSON encoder and decoder"
    assert "Basic Usage" in headings
    assert "¶" not in doc.text
    # sidebar, navigation bar and footer text must not leak in
    for chrome in ("Table of Contents", "Previous topic", "This Page", "Show Source", "Navigation"):
        assert chrome not in doc.text
    assert "Copyright" not in doc.text
    basic = next(b for b in doc.blocks if doc.block_text(b) == "Basic Usage")
    assert basic.heading_path == ("json — JSON encoder and decoder", "Basic Usage")
    assert any(">>> import json" in t for t in texts(doc, BlockKind.CODE))
    assert any("Serialize obj as a JSON formatted stream" in t for t in texts(doc))


def test_sphinx_tutorial_page() -> None:
    doc = load_sphinx("tutorial/classes.html")
    assert doc.title == "9. Classes"
    assert "9.2. Python Scopes and Namespaces" in texts(doc, BlockKind.HEADING)
    assert any(t.startswith("the innermost scope") for t in texts(doc, BlockKind.LIST_ITEM))
