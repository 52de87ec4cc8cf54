"""HTML for answers and sources. Everything from documents or models is escaped first: a passage
or an answer can contain markup, and it must show as text, never run as page code."""

from __future__ import annotations

import html
import re
from pathlib import PurePath
from typing import Any

MARKER = re.compile(r"\[(\d{1,3})\]")

STYLE = """
<style>
.cw-cite {font-weight: 600; text-decoration: none; padding: 0 .15em; border-radius: .25em;
  background: rgba(49, 130, 206, .12);}
.cw-cite.cw-unsupported {background: rgba(229, 62, 62, .15); color: #c53030;}
.cw-source {border: 1px solid rgba(128,128,128,.35); border-radius: .5em; padding: .6em .8em;
  margin: .4em 0; scroll-margin-top: 4em;}
.cw-source-head {font-size: .92em; margin-bottom: .3em;}
.cw-source-where {opacity: .7; font-size: .85em;}
.cw-passage {font-size: .9em; line-height: 1.45;}
.cw-passage mark {background: #fde68a; color: inherit; padding: 0 .1em;}
.cw-none {border-left: .35em solid #d97706; background: rgba(217,119,6,.10); padding: .7em 1em;
  border-radius: .3em; margin: .3em 0;}
.cw-none strong {color: #b45309;}
</style>
"""


def source_anchor(turn: int, number: int) -> str:
    return f"cw-t{turn}-s{number}"


def answer_html(answer: dict[str, Any], turn: int) -> str:
    """The answer with each [n] a link to its source card (red when the check found no support)."""
    if answer.get("abstained"):
        reason = html.escape(answer.get("abstain_reason") or "")
        return (
            '<div class="cw-none"><strong>The documents don\'t say.</strong> '
            "Nothing in them answers this question"
            + (f' <span class="cw-source-where">({reason})</span>' if reason else "")
            + ". The closest passages are below.</div>"
        )
    supported = {c["number"]: c["supported"] for c in answer.get("citations", [])}

    def link(match: re.Match[str]) -> str:
        number = int(match.group(1))
        if number not in supported:
            return match.group(0)
        css = "cw-cite" if supported[number] else "cw-cite cw-unsupported"
        return f'<a class="{css}" href="#{source_anchor(turn, number)}">[{number}]</a>'

    return f"<div>{MARKER.sub(link, as_text(answer.get('answer', '')))}</div>"


def place(item: dict[str, Any]) -> str:
    """Where in the document: section and page."""
    parts = [item.get("heading") or "", f"p. {item['page']}" if item.get("page") else ""]
    return " · ".join(p for p in parts if p)


def as_text(text: str) -> str:
    """Escaped, with line breaks as <br/>: without raw newlines the whole card stays one HTML block,
    so Markdown never reads a passage's ``#`` or ``*`` as formatting."""
    lines = re.sub(r"\n\s*\n+", "\n", text.strip("\n"))
    return html.escape(lines).replace("\n", "<br/>")


def passage_html(text: str, start: int, end: int, context: int = 400) -> str:
    """The passage around ``text[start:end]`` with that span highlighted."""
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    left, right = max(0, start - context), min(len(text), end + context)
    before = ("… " if left else "") + as_text(text[left:start])
    after = as_text(text[end:right]) + (" …" if right < len(text) else "")
    return f'<div class="cw-passage">{before}<mark>{as_text(text[start:end])}</mark>{after}</div>'


def citation_card(citation: dict[str, Any], source: dict[str, Any] | None, turn: int) -> str:
    number = citation["number"]
    mark = "✓ supported" if citation["supported"] else "✗ not supported by this passage"
    title = html.escape(citation["title"] or "untitled")
    head = (
        f'<div class="cw-source-head"><strong>[{number}] {title}</strong>'
        f" — {mark}<br/>"
        f'<span class="cw-source-where">{html.escape(PurePath(citation["source_uri"]).name)}'
        f"{' · ' + html.escape(place(citation)) if place(citation) else ''}</span></div>"
    )
    if source is not None:
        offset = source["char_start"]
        body = passage_html(source["text"], citation["char_start"] - offset, citation["char_end"] - offset)
    else:
        body = f'<div class="cw-passage"><mark>{as_text(citation["quote"])}</mark></div>'
    return f'<div class="cw-source" id="{source_anchor(turn, number)}">{head}{body}</div>'


def source_card(source: dict[str, Any]) -> str:
    """A closest passage shown after an abstention (nothing highlighted: nothing was supported)."""
    where = place(source)
    text = source.get("text", "")
    snippet = as_text(text[:600]) + (" …" if len(text) > 600 else "")
    title = html.escape(source["title"] or "untitled")
    return (
        f'<div class="cw-source"><div class="cw-source-head"><strong>{title}'
        f'</strong><br/><span class="cw-source-where">{html.escape(PurePath(source["source_uri"]).name)}'
        f"{' · ' + html.escape(where) if where else ''}</span></div>"
        f'<div class="cw-passage">{snippet}</div></div>'
    )


def sources_html(answer: dict[str, Any], turn: int) -> str:
    if answer.get("abstained"):
        return "".join(source_card(s) for s in answer.get("sources", []))
    by_chunk = {s["chunk_id"]: s for s in answer.get("sources", [])}
    return "".join(citation_card(c, by_chunk.get(c["chunk_id"]), turn) for c in answer.get("citations", []))
