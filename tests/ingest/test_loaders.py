from __future__ import annotations

from pathlib import Path

import pytest

from ingest.document import BlockKind, LoaderError, ParsedDocument
from ingest.loaders import LOADERS
from tests.ingest.helpers import load_bytes, texts


def test_every_sniffed_kind_has_a_loader() -> None:
    assert set(LOADERS) == {"pdf", "docx", "html", "markdown", "rst", "text"}


# -- plain text ----------------------------------------------------------------------------------


def test_text_paragraphs_are_offsets_into_the_file(tmp_path: Path) -> None:
    raw = "Shopping list\r\n\r\nEggs and milk\r\nand bread.\r\n\r\n\r\n  Indented last one.  \r\n"
    doc = load_bytes(tmp_path, "notes.txt", raw.encode())
    assert doc.mime_type == "text/plain"
    assert doc.text == raw.replace("\r\n", "\n")
    assert texts(doc) == ["Shopping list", "Eggs and milk\nand bread.", "Indented last one."]
    assert {b.kind for b in doc.blocks} == {BlockKind.PARAGRAPH}
    assert doc.title == "Shopping list"
    assert all(b.page is None and b.heading_path == () for b in doc.blocks)


def test_text_title_falls_back_to_stem_when_first_line_is_long(tmp_path: Path) -> None:
    doc = load_bytes(tmp_path, "essay.txt", ("word " * 40).encode())
    assert doc.title == "essay"


def test_latin1_text_decodes(tmp_path: Path) -> None:
    doc = load_bytes(tmp_path, "old.txt", "Crème brûlée à la française".encode("latin-1"))
    assert texts(doc) == ["Crème brûlée à la française"]


# -- markdown ------------------------------------------------------------------------------------

MARKDOWN = """\
---
layout: post
title: "Front Matter Title"
---

# Guide

Intro paragraph
over two lines.

```bash
# this is a shell comment, not a heading
echo hi
```

## Install ##

- first item
  wrapped
- second item

~~~
# still code
~~~

Setext Section
==============

Under setext.

### Deep

Deep text.
"""


def test_markdown_structure(tmp_path: Path) -> None:
    doc = load_bytes(tmp_path, "guide.md", MARKDOWN.encode())
    assert doc.mime_type == "text/markdown"
    assert doc.text == MARKDOWN
    assert doc.title == "Front Matter Title"
    assert "layout" not in "".join(texts(doc))
    assert texts(doc, BlockKind.HEADING) == ["Guide", "Install", "Setext Section", "Deep"]
    assert texts(doc, BlockKind.CODE) == [
        "# this is a shell comment, not a heading\necho hi",
        "# still code",
    ]
    assert texts(doc, BlockKind.LIST_ITEM) == ["first item\n  wrapped", "second item"]
    paths = {doc.block_text(b): b.heading_path for b in doc.blocks}
    assert paths["Intro paragraph\nover two lines."] == ("Guide",)
    assert paths["Install"] == ("Guide", "Install")
    assert paths["second item"] == ("Guide", "Install")
    assert paths["Under setext."] == ("Setext Section",)
    assert paths["Deep text."] == ("Setext Section", "Deep")


def test_markdown_title_is_first_h1_then_stem(tmp_path: Path) -> None:
    assert load_bytes(tmp_path, "a.md", b"Intro\n\n## Minor\n\n# Major\n").title == "Major"
    assert load_bytes(tmp_path, "b.md", b"just text\n").title == "b"


def test_markdown_heading_path_uses_plain_titles(tmp_path: Path) -> None:
    doc = load_bytes(tmp_path, "a.md", b"# Using `pip` **fast**\n\nSee [the docs](http://x).\n")
    assert doc.title == "Using pip fast"
    assert texts(doc, BlockKind.HEADING) == ["Using `pip` **fast**"]  # the span is still the source
    assert doc.blocks[1].heading_path == ("Using pip fast",)


def test_markdown_unclosed_fence_runs_to_the_end(tmp_path: Path) -> None:
    doc = load_bytes(tmp_path, "a.md", b"text\n\n```\n# code\nmore\n")
    assert texts(doc, BlockKind.CODE) == ["# code\nmore"]
    assert texts(doc, BlockKind.HEADING) == []


# -- reStructuredText ----------------------------------------------------------------------------

RST = """\
.. _top:

=============
 Project Docs
=============

Welcome text.

Usage
=====

Run it like this::

    $ tool --flag
      continued

.. code-block:: python
   :linenos:

   print("hi")

.. note:: Notes are prose,
   not code.

Options
-------

* one
* two

Another Top
===========

.. this comment is dropped
   with its body

Final words.
"""


def test_rst_sections_levels_and_code(tmp_path: Path) -> None:
    doc = load_bytes(tmp_path, "docs.rst", RST.encode())
    assert doc.mime_type == "text/x-rst"
    assert doc.text == RST
    assert doc.title == "Project Docs"
    headings = [(doc.block_text(b), b.heading_path) for b in doc.blocks if b.kind is BlockKind.HEADING]
    assert headings == [
        ("Project Docs", ("Project Docs",)),
        ("Usage", ("Project Docs", "Usage")),
        ("Options", ("Project Docs", "Usage", "Options")),
        ("Another Top", ("Project Docs", "Another Top")),
    ]
    assert texts(doc, BlockKind.CODE) == ["$ tool --flag\n      continued", 'print("hi")']
    assert texts(doc, BlockKind.LIST_ITEM) == ["one", "two"]
    prose = texts(doc, BlockKind.PARAGRAPH)
    assert "Notes are prose,\n   not code." in prose
    assert "Run it like this::" in prose
    assert not any("comment" in p or "_top" in p or "linenos" in p for p in texts(doc))
    final = next(b for b in doc.blocks if doc.block_text(b) == "Final words.")
    assert final.heading_path == ("Project Docs", "Another Top")


def test_rst_roles_are_dropped_from_titles(tmp_path: Path) -> None:
    doc = load_bytes(
        tmp_path, "a.rst", b":mod:`json` --- JSON encoder\n============================\n\nText.\n"
    )
    assert doc.title == "json --- JSON encoder"
    assert doc.blocks[1].heading_path == ("json --- JSON encoder",)


def test_rst_short_underline_is_not_a_title(tmp_path: Path) -> None:
    doc = load_bytes(tmp_path, "a.rst", b"A long title line\n=====\n\ntext\n")
    assert texts(doc, BlockKind.HEADING) == []
    assert doc.title == "a"


# -- dispatch and rejection ----------------------------------------------------------------------


def test_binary_named_markdown_is_rejected_with_reason(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)
    with pytest.raises(LoaderError, match=r"binary file \(image/png\)"):
        load_bytes(tmp_path, "diagram.md", png)


@pytest.mark.parametrize("name", ["empty.txt", "empty.md", "empty.pdf", "empty.html", "blank.rst"])
@pytest.mark.parametrize("data", [b"", b"  \n\n\t \n"])
def test_empty_file_is_a_loader_error(tmp_path: Path, name: str, data: bytes) -> None:
    with pytest.raises(LoaderError, match="empty document"):
        load_bytes(tmp_path, name, data)


def test_unexpected_parser_failure_is_wrapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(data: bytes, *, filename: str) -> ParsedDocument:
        raise RuntimeError("boom")

    monkeypatch.setitem(LOADERS, "text", explode)
    with pytest.raises(LoaderError, match="could not parse text: boom"):
        load_bytes(tmp_path, "a.txt", b"hello")
