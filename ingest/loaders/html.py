"""HTML: keep the article, drop the chrome.

Navigation, sidebars and footers repeat on every page of a site; indexed, they would dominate
retrieval and get cited instead of the content, so they are removed before text is extracted.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, CData, Tag
from bs4.element import NavigableString

from ingest.document import BlockKind, LoaderError, ParsedDocument, TextAssembler
from ingest.loaders._common import HeadingStack, require_blocks, squash, stem
from ingest.sniff import MIME_TYPES

REMOVED_TAGS = frozenset(
    {"script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form", "svg"}
    | {"iframe", "button", "select", "input", "textarea", "head"}
)
BOILERPLATE_ROLES = frozenset({"navigation", "banner", "contentinfo", "search"})
BOILERPLATE_WORDS = frozenset(
    {"sidebar", "sphinxsidebar", "related", "footer", "header", "nav", "menu", "breadcrumb"}
    | {"breadcrumbs", "toc", "cookie", "cookies", "advert", "ads", "social", "skip-link", "navbar"}
)
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
# Elements whose inline content forms one block, and the kind it gets.
_TEXT_BLOCKS: dict[str, BlockKind] = {
    "p": BlockKind.PARAGRAPH,
    "li": BlockKind.LIST_ITEM,
    "dt": BlockKind.PARAGRAPH,
    "dd": BlockKind.PARAGRAPH,
    "blockquote": BlockKind.PARAGRAPH,
    "figcaption": BlockKind.PARAGRAPH,
    "caption": BlockKind.PARAGRAPH,
}
# Block-level containers: they break the surrounding text but add no block of their own.
_CONTAINERS = frozenset(
    {"div", "section", "article", "main", "body", "html", "ul", "ol", "dl", "table", "thead"}
    | {"tbody", "tfoot", "figure", "details", "summary", "address", "center", "hr"}
    | {"fieldset", "hgroup", "menu", "picture", "video", "audio", "object", "colgroup"}
)
_CONTENT_SELECTOR = "main, article, [role=main]"
_CONTENT_WORDS = frozenset({"header", "footer"})
_MAIN_SELECTORS = ("main", "[role=main]", "article", "div.body", "div.document", "body")
_TITLE_SEPARATORS = (" — ", " | ", " – ")
_WORD_SPLIT = re.compile(r"[-_\s]+")


def load(data: bytes, *, filename: str) -> ParsedDocument:
    if not data.strip():
        raise LoaderError("empty document")
    soup = BeautifulSoup(data, "lxml")
    title = _page_title(soup)
    _strip_boilerplate(soup)
    root = _main_root(soup)
    walker = _Walker()
    if root is not None:
        walker.walk(root, BlockKind.PARAGRAPH)
        walker.flush(BlockKind.PARAGRAPH)
    require_blocks(walker.out.blocks)
    title = title or walker.first_h1 or stem(filename)
    return ParsedDocument(
        text=walker.out.text, blocks=walker.out.blocks, title=title, mime_type=MIME_TYPES["html"]
    )


def _page_title(soup: BeautifulSoup) -> str | None:
    # An inline <svg> may carry its own <title>; only the document's counts.
    tag = next((t for t in soup.find_all("title") if t.find_parent("svg") is None), None)
    if tag is None:
        return None
    title = squash(tag.get_text())
    for sep in _TITLE_SEPARATORS:
        head, found, _ = title.rpartition(sep)
        if found and head.strip():
            return head.strip()
    return title or None


def _is_boilerplate(tag: Tag, *, in_content: bool) -> bool:
    if tag.get("role") in BOILERPLATE_ROLES or tag.has_attr("hidden"):
        return True
    if tag.name == "a" and "headerlink" in (tag.get("class") or []):
        return True
    # Inside the article, "header" usually wraps the article's own title, so only outside counts.
    words = BOILERPLATE_WORDS - _CONTENT_WORDS if in_content else BOILERPLATE_WORDS
    names = [str(tag.get("id") or ""), *(tag.get("class") or [])]
    for name in names:
        lowered = name.lower()
        if lowered in words or words.intersection(_WORD_SPLIT.split(lowered)):
            return True
    return False


def _is_footnote(tag: Tag) -> bool:
    """Docutils >= 0.18 renders footnotes as <aside>; they are content, not a sidebar."""
    classes = " ".join(tag.get("class") or [])
    return "footnote" in classes or tag.get("role") in ("note", "doc-footnote", "doc-endnotes")


def _strip_boilerplate(soup: BeautifulSoup) -> None:
    # The main content and its ancestors are never removed, whatever their class says
    # (a <body class="has-sidebar"> or <main id="content-with-toc"> is still the page).
    keep: set[int] = set()
    in_content: set[int] = set()
    for main in soup.select(_CONTENT_SELECTOR):
        keep.add(id(main))
        keep.update(id(parent) for parent in main.parents)
        in_content.update(id(tag) for tag in main.find_all(True))
    # Collect first, then remove: decomposing while iterating would skip siblings.
    doomed = [
        tag
        for tag in soup.find_all(True)
        if id(tag) not in keep and _is_removed(tag, in_content=id(tag) in in_content)
    ]
    for tag in doomed:
        if not tag.decomposed:
            tag.decompose()


def _is_removed(tag: Tag, *, in_content: bool) -> bool:
    if tag.name in REMOVED_TAGS:
        if tag.name == "aside" and _is_footnote(tag):
            return False
        return not (tag.name == "header" and in_content)
    return tag.name not in ("html", "body") and _is_boilerplate(tag, in_content=in_content)


def _main_root(soup: BeautifulSoup) -> Tag | None:
    for selector in _MAIN_SELECTORS:
        found = soup.select_one(selector)
        if found is not None:
            return found
    return soup


class _Walker:
    """Depth-first walk that turns block elements into blocks and gathers loose inline text."""

    def __init__(self) -> None:
        self.out = TextAssembler()
        self.headings = HeadingStack()
        self.first_h1: str | None = None
        self._inline: list[str] = []

    def walk(self, node: Tag, kind: BlockKind) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if type(child) in (NavigableString, CData):
                    self._inline.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name
            if name == "br":
                self._inline.append(" ")
            elif name in _HEADINGS:
                self.flush(kind)
                self._heading(child, _HEADINGS[name])
            elif name == "pre":
                self.flush(kind)
                self.out.add(child.get_text().strip("\n"), BlockKind.CODE, self.headings.path)
            elif name == "tr":
                self.flush(kind)
                self._row(child)
            elif name in _TEXT_BLOCKS:
                self.flush(kind)
                inner = kind if name == "p" and kind is BlockKind.LIST_ITEM else _TEXT_BLOCKS[name]
                self.walk(child, inner)
                self.flush(inner)
            elif name in _CONTAINERS:
                self.flush(kind)
                self.walk(child, kind)
                self.flush(kind)
            else:
                self.walk(child, kind)  # inline element: its text joins the current run

    def flush(self, kind: BlockKind) -> None:
        if self._inline:
            self.out.add(squash("".join(self._inline)), kind, self.headings.path)
            self._inline = []

    def _heading(self, tag: Tag, level: int) -> None:
        title = squash(_spaced_text(tag))
        if not title:
            return
        path = self.headings.enter(level, title)
        if level == 1 and self.first_h1 is None:
            self.first_h1 = title
        self.out.add(title, BlockKind.HEADING, path)

    def _row(self, row: Tag) -> None:
        cells = [squash(_spaced_text(cell)) for cell in row.find_all(("td", "th"), recursive=False)]
        self.out.add(" | ".join(cell for cell in cells if cell), BlockKind.TABLE, self.headings.path)


def _spaced_text(tag: Tag) -> str:
    """Text of ``tag`` with a space wherever a line break or block boundary would render one."""
    parts: list[str] = []
    for node in tag.descendants:
        if isinstance(node, Tag):
            if node.name == "br" or node.name in _CONTAINERS or node.name in _TEXT_BLOCKS:
                parts.append(" ")
        elif type(node) in (NavigableString, CData):
            parts.append(str(node))
    return "".join(parts)
