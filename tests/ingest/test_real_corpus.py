"""Loaders against real published documents: the Python docs from Debian's ``python3.11-doc``.

The package is fetched once with ``apt-get download`` (Debian's archive is reachable from CI) and
kept in pytest's cache directory.
"""

from __future__ import annotations

import fcntl
import subprocess
from pathlib import Path

import pytest

from ingest.document import BlockKind, ParsedDocument
from ingest.loaders import load_file
from tests.ingest.helpers import assert_valid_blocks, texts

PACKAGE = "python3.11-doc"


@pytest.fixture(scope="session")
def sphinx_html(pytestconfig: pytest.Config) -> Path:
    root = Path(pytestconfig.cache.mkdir("debian-python-doc"))
    html = root / "usr" / "share" / "doc" / "python3.11" / "html"
    with open(root / ".lock", "w") as lock:  # pytest-xdist workers share the cache
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (html / "library" / "json.html").is_file():
            subprocess.run(["apt-get", "download", PACKAGE], cwd=root, check=True, capture_output=True)
            deb = next(root.glob(f"{PACKAGE}_*.deb"))
            subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
            deb.unlink()
    return html


def load_sphinx(html: Path, relative: str) -> ParsedDocument:
    path = html / relative
    doc = load_file(path, path.read_bytes())
    assert_valid_blocks(doc)
    return doc


def test_sphinx_library_page(sphinx_html) -> None:
    doc = load_sphinx(sphinx_html, "library/json.html")
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


def test_sphinx_tutorial_page(sphinx_html) -> None:
    doc = load_sphinx(sphinx_html, "tutorial/classes.html")
    assert doc.title == "9. Classes"
    assert "9.2. Python Scopes and Namespaces" in texts(doc, BlockKind.HEADING)
    assert any(t.startswith("the innermost scope") for t in texts(doc, BlockKind.LIST_ITEM))
