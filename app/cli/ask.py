"""``citewise ask`` and ``citewise chat``: cited answers in the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from app.answering import Answer, AnswerPipeline
from app.cli import answer_render
from app.cli.common import console, current_settings, err_console, parse_choice, warn_about_index
from app.services import build_answer_pipeline, build_generator, build_knowledge_base, fallback_of
from app.settings import Settings
from generator.base import Message
from retriever.knowledge_base import KnowledgeBase
from retriever.search import SearchFilters, SearchMode

CollectionsOption = Annotated[
    list[str], typer.Option("--collection", "-c", help="Answer from these collections only (repeatable).")
]
ModelOption = Annotated[
    str | None,
    typer.Option("--model", help="qwen2.5-0.5b, qwen2.5-1.5b, smollm2-135m, extractive, or a path."),
]
ModeOption = Annotated[str | None, typer.Option("--mode", "-m", help="Retrieval: dense, sparse or hybrid.")]
KOption = Annotated[int | None, typer.Option("-k", min=1, max=50, help="Passages to retrieve.")]


def open_pipeline(
    settings: Settings,
    kb: KnowledgeBase,
    collection: list[str],
    model: str | None,
    mode: str | None,
    k: int | None,
) -> AnswerPipeline:

    chosen = parse_choice(mode or settings.search_mode, SearchMode, "search mode")
    warn_about_index(kb, kb.open())
    generator = build_generator(settings, model)
    generator.warm_up()  # a missing or broken model is reported now, not after retrieval
    fallback = fallback_of(generator)
    if fallback is not None:
        err_console.print(f"[yellow]warning:[/] {escape(fallback.describe())}", soft_wrap=True)
    return build_answer_pipeline(
        settings, kb, generator, k=k, mode=chosen, filters=SearchFilters(collections=tuple(collection))
    )


def answer_streamed(
    pipeline: AnswerPipeline, console: Console, question: str, history: list[Message]
) -> Answer:
    final = None
    for event in pipeline.stream(question, history):
        if event.kind == "token":
            console.print(event.text, end="", markup=False, highlight=False, soft_wrap=True)
        else:
            final = event.answer
    assert final is not None
    console.print()
    answer_render.print_sources(console, final)
    return final


def ask(
    question: Annotated[str, typer.Argument(help="Your question.")],
    collection: CollectionsOption = [],  # noqa: B006
    model: ModelOption = None,
    mode: ModeOption = None,
    k: KOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Answer a question from your documents, citing the passages each sentence comes from."""
    settings = current_settings()
    with build_knowledge_base(settings) as kb:
        pipeline = open_pipeline(settings, kb, collection, model, mode, k)
        if as_json:
            print(answer_render.answer_json(pipeline.ask(question)))
        else:
            answer_streamed(pipeline, console, question, [])


def chat(
    collection: CollectionsOption = [],  # noqa: B006
    model: ModelOption = None,
    mode: ModeOption = None,
    k: KOption = None,
    transcript: Annotated[
        Path | None, typer.Option("--save", help="Write the conversation to this JSON file at the end.")
    ] = None,
) -> None:
    """Ask follow-up questions; each one is understood in the context of the conversation."""
    import json

    settings = current_settings()
    history: list[Message] = []
    with build_knowledge_base(settings) as kb:
        pipeline = open_pipeline(settings, kb, collection, model, mode, k)
        console.print("[dim]Ask a question; an empty line or Ctrl-D ends the chat.[/]")
        while True:
            try:
                question = console.input("[bold]you>[/] ").strip()
            except EOFError:
                break
            if not question:
                break
            console.print("[bold]citewise>[/] ", end="")
            answer = answer_streamed(pipeline, console, question, history)
            history += [Message("user", question), Message("assistant", answer.answer)]
    if transcript is not None:
        turns = [{"role": m.role, "content": m.content} for m in history]
        transcript.write_text(json.dumps(turns, indent=2, ensure_ascii=False))
