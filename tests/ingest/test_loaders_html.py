"""HTML loader: main content kept, site chrome removed."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.document import BlockKind, LoaderError
from tests.ingest.helpers import load_bytes, texts

HTML = """\
<!DOCTYPE html>
<html><head><title>Widgets &mdash; Acme Manual</title>
<script>var tracking = "SCRIPT_TEXT";</script><style>p { color: red }</style></head>
<body>
<div class="cookie-banner">We use COOKIE_TEXT</div>
<nav><a href="/">NAV_TEXT home</a></nav>
<header class="site">HEADER_TEXT</header>
<div class="sphinxsidebar" role="navigation">SIDEBAR_TEXT</div>
<div class="document"><div class="body" role="main">
  <h1>Widgets<a class="headerlink" href="#w">¶</a></h1>
  <p>Widgets   are
     small &amp; useful.</p>
  Loose text in the body.
  <h2>Sizes</h2>
  <ul><li><p>Small widget</p></li><li>Large <b>widget</b></li></ul>
  <table><tr><th>Size</th><th>Price</th></tr><tr><td>S</td><td>1 &euro;</td></tr></table>
  <pre>def widget():
    return 1</pre>
  <h2>Care</h2>
  <dl><dt>Cleaning</dt><dd><p>Use water.</p></dd></dl>
  <aside class="footnote" role="note"><p>FOOTNOTE_TEXT stays.</p></aside>
</div></div>
<footer>FOOTER_TEXT</footer>
</body></html>
"""


def test_html_main_content_kept_and_boilerplate_removed(tmp_path: Path) -> None:
    doc = load_bytes(tmp_path, "widgets.html", HTML.encode())
    assert doc.mime_type == "text/html"
    assert doc.title == "Widgets"
    for noise in ("SCRIPT", "COOKIE", "NAV_TEXT", "HEADER_TEXT", "SIDEBAR", "FOOTER_TEXT", "¶", "color"):
        assert noise not in doc.text
    assert texts(doc, BlockKind.HEADING) == ["Widgets", "Sizes", "Care"]
    assert "Widgets are small & useful." in texts(doc, BlockKind.PARAGRAPH)
    assert "Loose text in the body." in texts(doc, BlockKind.PARAGRAPH)
    assert texts(doc, BlockKind.LIST_ITEM) == ["Small widget", "Large widget"]
    assert texts(doc, BlockKind.TABLE) == ["Size | Price", "S | 1 €"]
    assert texts(doc, BlockKind.CODE) == ["def widget():\n    return 1"]
    assert "FOOTNOTE_TEXT stays." in doc.text
    by_text = {doc.block_text(b): b for b in doc.blocks}
    assert by_text["Sizes"].heading_path == ("Widgets", "Sizes")
    assert by_text["Use water."].heading_path == ("Widgets", "Care")


def test_html_title_falls_back_to_h1_then_stem(tmp_path: Path) -> None:
    assert load_bytes(tmp_path, "a.html", b"<html><body><h1>Only H1</h1><p>x</p></body></html>").title == (
        "Only H1"
    )
    assert load_bytes(tmp_path, "b.html", b"<html><body><p>x</p></body></html>").title == "b"


def test_html_title_keeps_text_when_separator_has_nothing_before_it(tmp_path: Path) -> None:
    doc = load_bytes(tmp_path, "a.html", b"<html><title> | Site</title><body><p>x</p></body></html>")
    assert doc.title == "| Site"


def test_html_inline_svg_title_is_not_the_page_title(tmp_path: Path) -> None:
    page = b"<html><body><h1>Real</h1><p>x<svg><title>Icon</title></svg></p></body></html>"
    assert load_bytes(tmp_path, "a.html", page).title == "Real"


def test_html_article_header_is_content_but_site_header_is_not(tmp_path: Path) -> None:
    page = b"""<html><body class="layout-with-sidebar">
    <header class="site-header">SITE_NAME</header>
    <div class="sidebar">SIDEBAR</div>
    <article class="post has-toc"><header class="post-header"><h1>Post title</h1></header>
    <p>Post body.</p><footer>TAGS</footer></article></body></html>"""
    doc = load_bytes(tmp_path, "post.html", page)
    assert texts(doc) == ["Post title", "Post body."]


def test_html_with_only_boilerplate_is_empty(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match="empty document"):
        load_bytes(tmp_path, "a.html", b"<html><body><nav>menu</nav><script>x()</script></body></html>")
