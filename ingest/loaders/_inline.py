"""Plain-text titles from lightweight markup, so heading paths read like the rendered headings."""

from __future__ import annotations

import re

from ingest.loaders._common import squash

_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_CODE = re.compile(r"`+([^`]+?)`+")
_MD_EMPHASIS = re.compile(r"(?<!\w)(\*\*|__|\*|_|~~)(?=\S)(.+?)(?<=\S)\1(?!\w)")

_RST_ROLE = re.compile(r":[\w:+.-]+:`([^`]+)`|`([^`]+)`:[\w:+.-]+:")
_RST_LITERAL = re.compile(r"``(.+?)``")
_RST_REFERENCE = re.compile(r"`([^`]+)`_{1,2}")
_RST_EMPHASIS = re.compile(r"(?<![\w*])(\*\*|\*)(?=\S)(.+?)(?<=\S)\1(?![\w*])")
_TARGET = re.compile(r"^(.*?)\s*<[^<>]+>$", re.DOTALL)


def markdown_title(source: str) -> str:
    text = _MD_LINK.sub(r"\1", source)
    text = _MD_CODE.sub(r"\1", text)
    text = _MD_EMPHASIS.sub(r"\2", text)
    return squash(text) or squash(source)


def rst_title(source: str) -> str:
    text = _RST_ROLE.sub(lambda m: _role_text(m.group(1) or m.group(2)), source)
    text = _RST_LITERAL.sub(r"\1", text)
    text = _RST_REFERENCE.sub(lambda m: _role_text(m.group(1)), text)
    text = _RST_EMPHASIS.sub(r"\2", text)
    return squash(text) or squash(source)


def _role_text(content: str) -> str:
    """``title <target>`` shows its title; ``~a.b.c`` shows ``c``; ``!x`` shows ``x``."""
    match = _TARGET.match(content)
    if match and match.group(1):
        return match.group(1)
    if content.startswith("~"):
        return content[1:].rsplit(".", 1)[-1]
    return content.lstrip("!")
