"""How an answer looks in the terminal and as JSON."""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from app.answer_payload import answer_dict
from app.answering import Answer


def answer_json(answer: Answer) -> str:
    return json.dumps(answer_dict(answer), indent=2, ensure_ascii=False)


def print_sources(console: Console, answer: Answer) -> None:
    """After the streamed text: the verdict, then each cited passage with its supporting span."""
    if answer.abstained:
        console.print(
            Panel(
                f"The documents do not say. [dim]({escape(answer.abstain_reason or '')})[/]",
                title="no answer",
                border_style="yellow",
            )
        )
        if answer.sources:
            console.print("[bold]Closest passages:[/]")
            for hit in answer.sources:
                console.print(
                    f"  [cyan]•[/] {escape(hit.title)}  [green]{escape(hit.source_uri)}[/]", soft_wrap=True
                )
        return
    unsupported = [s.text for s in answer.sentences if not s.supported]
    if unsupported:
        console.print(f"[yellow]Not supported by the cited passages:[/] {escape(' '.join(unsupported))}")
    if answer.dropped_passages:
        console.print(
            f"[dim]{len(answer.dropped_passages)} retrieved passage(s) not read by the model "
            "(not relevant enough, or no room).[/]"
        )
    for citation in answer.citations:
        hit = next(h for h in answer.sources if h.chunk_id == citation.chunk_id)
        where = ", ".join(
            part for part in (citation.heading, f"p. {citation.page}" if citation.page else "") if part
        )
        mark = "[green]✓[/]" if citation.supported else "[red]✗ unsupported[/]"
        console.print(f"[bold cyan][{citation.number}][/] {escape(citation.title)} {mark}")
        console.print(
            f"    [green]{escape(citation.source_uri)}[/]" + (f"  [dim]{escape(where)}[/]" if where else ""),
            soft_wrap=True,  # a path broken over two lines cannot be copied
        )
        console.print(
            highlighted(hit.text, citation.char_start - hit.char_start, citation.char_end - hit.char_start)
        )


def highlighted(text: str, start: int, end: int, context: int = 160) -> Text:
    """The passage around the supporting span, with the span highlighted."""
    left, right = max(0, start - context), min(len(text), end + context)
    out = Text("    " + ("…" if left else ""))
    out.append(text[left:start].replace("\n", " "))
    out.append(text[start:end].replace("\n", " "), style="bold black on yellow")
    out.append(text[end:right].replace("\n", " ") + ("…" if right < len(text) else ""))
    return out
