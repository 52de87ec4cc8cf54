"""Turning pypdf's per-page line soup back into paragraphs.

PDF text has no paragraph markup: lines are broken by layout, words are hyphenated at line
ends, and every page repeats its running header and page number. Left alone, those fragments
split sentences across chunks and put "Chapter 3 ... 47" into every embedding.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import TypeVar

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ROMAN = r"[ivxIVX]{1,6}"
_PAGE_NUMBER = re.compile(
    rf"^[\s\-–—|]*(?:page\s+)?(?:\d{{1,5}}|{_ROMAN})(?:\s*(?:/|of)\s*\d{{1,5}})?[\s\-–—|]*$",
    re.IGNORECASE,
)
_EDGE_ROMAN = re.compile(rf"^\s*{_ROMAN}\b|\b{_ROMAN}\s*$")
_NON_LETTERS = re.compile(r"[\W\d_]+")
_SENTENCE_END = re.compile(r"[.!?:][\"'”’)\]]*$")
BULLET_GLYPHS = "•◦▪●■‣∙·"
_BULLET_START = re.compile(rf"^(?:[{BULLET_GLYPHS}]|[-–*]\s|\(?\d{{1,3}}[.)]\s)")
_HYPHENATED = re.compile(r"[^\W\d_]-$")
_NUMBERED_HEADING = re.compile(r"^\d{1,3}(?:\.\d{1,3})+\.?\s+\S")

_T = TypeVar("_T")

EDGE_LINES = 2  # how many lines at the top and bottom of a page may be header or footer
SHORT_LINE_RATIO = 0.6


def first_line(pages: list[list[str]]) -> str:
    """The first line of text in the document, e.g. for a title."""
    return next((line.strip() for lines in pages for line in lines if line.strip()), "")


def page_lines(text: str) -> list[str]:
    """Lines of one page's text, control characters removed and right-trimmed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # WinAnsiEncoding draws unused codes such as 0x7F as a bullet; pypdf returns them raw.
    text = _CONTROL.sub("", text.replace("\x7f", "•"))
    return [line.rstrip() for line in text.split("\n")]


def running_line_keys(pages: list[list[str]]) -> set[str]:
    """Keys of header/footer lines that recur at the top or bottom of at least half the pages.

    A header frames a page's body, so only pages with more than one line of text vote: a page
    whose one line is "Invoice 1001" has no header, however alike its neighbours look.
    """
    with_text = [lines for lines in pages if any(line.strip() for line in lines)]
    if len(with_text) < 3:
        return set()
    counts: Counter[str] = Counter()
    for lines in with_text:
        if sum(1 for line in lines if line.strip()) > 1:
            counts.update({key for line in _edge_lines(lines) if (key := _line_key(line))})
    threshold = max(2, math.ceil(len(with_text) * 0.5))
    return {key for key, count in counts.items() if count >= threshold}


def strip_running_lines(lines: list[str], running: set[str]) -> list[str]:
    """Drop header, footer and page-number lines from the edges of one page; a running line is
    dropped only while the page keeps other text, so a page's only content is never lost (a bare
    page number alone is not content)."""
    content = [i for i, line in enumerate(lines) if line.strip()]
    edges = set(_edges(content))
    numbers = {i for i in edges if _PAGE_NUMBER.match(lines[i])}
    repeated = {i for i in edges - numbers if _line_key(lines[i]) in running}
    if set(content) <= numbers | repeated:
        repeated = set()
    return [line for i, line in enumerate(lines) if i not in numbers | repeated]


def typical_line_length(pages: list[list[str]]) -> int:
    """Length of a full-width line: a high percentile, so short code and list lines do not skew it."""
    lengths = sorted(len(line.strip()) for lines in pages for line in lines if line.strip())
    if not lengths:
        return 0
    return lengths[min(len(lengths) - 1, int(len(lengths) * 0.75))]


def paragraphs(lines: list[str], typical: int) -> list[str]:
    """Paragraph texts of one page, with wrapped lines joined and line-end hyphens removed."""
    groups: list[list[str]] = []
    if _has_inner_blank(lines):
        current: list[str] = []
        for line in lines:
            if line.strip():
                current.append(line.strip())
            elif current:
                groups.append(current)
                current = []
        if current:
            groups.append(current)
    else:
        groups = _group_by_layout([line.strip() for line in lines if line.strip()], typical)
    return [joined for group in groups if (joined := join_lines(group))]


def join_lines(lines: list[str]) -> str:
    """Join wrapped lines with spaces, mending words hyphenated across a line end."""
    out = ""
    for line in lines:
        if not out:
            out = line
        elif _HYPHENATED.search(out) and line[:1].islower():
            out = out[:-1] + line
        else:
            out = f"{out} {line}"
    return out.strip()


def _has_inner_blank(lines: list[str]) -> bool:
    content = [i for i, line in enumerate(lines) if line.strip()]
    if len(content) < 2:
        return False
    return any(not lines[i].strip() for i in range(content[0], content[-1]))


def _group_by_layout(lines: list[str], typical: int) -> list[list[str]]:
    groups: list[list[str]] = []
    current: list[str] = []
    for i, line in enumerate(lines):
        current.append(line)
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        if nxt is None or _ends_paragraph(line, nxt, typical):
            groups.append(current)
            current = []
    return groups


def _ends_paragraph(line: str, nxt: str, typical: int) -> bool:
    if _SENTENCE_END.search(line) and (nxt[:1].isupper() or nxt[:1].isdigit()):
        return True
    if typical and len(line) < SHORT_LINE_RATIO * typical:
        return True
    return bool(_BULLET_START.match(nxt) or _NUMBERED_HEADING.match(nxt))


def _edge_lines(lines: list[str]) -> list[str]:
    return _edges([line for line in lines if line.strip()])


def _edges(items: list[_T]) -> list[_T]:
    """The top and bottom of a page; on a short page only the very first and last line."""
    k = EDGE_LINES if len(items) >= 4 * EDGE_LINES else 1
    return items[:k] + items[-k:]


def _line_key(line: str) -> str:
    """What stays the same when a running header repeats: its words, not its page number."""
    text = _EDGE_ROMAN.sub(" ", line.strip())
    return _NON_LETTERS.sub(" ", text).strip().lower()
