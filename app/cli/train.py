"""``citewise train``: Citewise's own small model, trained on your collections within a time budget."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.cli import errors
from app.cli.common import console, current_settings
from app.services import build_knowledge_base


def train(
    collection: Annotated[
        list[str], typer.Option("--collection", "-c", help="Train on these collections (repeatable).")
    ],
    budget: Annotated[str, typer.Option(help="Time to spend, e.g. 30m, 2h, 90s.")] = "30m",
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: <data dir>/models/gpt-<collections>).")
    ] = None,
    vocab: Annotated[int, typer.Option(min=300, max=65_000, help="Tokenizer vocabulary size.")] = 4096,
    context: Annotated[int, typer.Option(min=256, max=4096, help="Tokens the model reads at once.")] = 512,
    qa: Annotated[
        Path | None,
        typer.Option(
            help='Fine-tuning examples, JSONL {"question", "answer"}; without it the teacher writes some.'
        ),
    ] = None,
    teacher: Annotated[
        str | None, typer.Option(help="Model that writes examples (default: the answer model).")
    ] = None,
    distill: Annotated[int, typer.Option(min=0, max=100_000, help="Most examples the teacher writes.")] = 200,
    cloze: Annotated[
        int,
        typer.Option(
            min=0, max=1_000_000, help="Most cloze examples made from the passages themselves (0: none)."
        ),
    ] = 20000,
    pretrain_only: Annotated[
        bool, typer.Option("--pretrain-only", help="Skip the fine-tuning stage.")
    ] = False,
    base: Annotated[
        Path | None,
        typer.Option(help="Re-tune this trained model folder on the collections, with LoRA adapters."),
    ] = None,
    lora_rank: Annotated[int, typer.Option(min=1, max=256, help="Rank of the LoRA adapters.")] = 8,
) -> None:
    """Train a small transformer on the collections, then fine-tune it on question-answer examples.

    With --base, re-tune an existing model instead; stop any time, run again to continue."""
    from app.training.run import TrainOptions, run_training
    from generator.gpt.sizing import budget_seconds
    from generator.gpt.train import Progress as Step

    settings = current_settings()
    try:
        seconds = budget_seconds(budget)
    except ValueError as exc:
        raise errors.UsageError(str(exc)) from None
    name = "gpt-" + "-".join(sorted(collection))
    if base is not None and out is None:  # never re-tune into the base model's own folder
        name = f"{base.expanduser().resolve().parent.name}+{'-'.join(sorted(collection))}"
    folder = out or settings.data_dir / "models" / name
    if base is not None and folder.expanduser().resolve() == base.expanduser().resolve().parent:
        raise errors.UsageError("--out must be another folder than the base model's own")
    if qa is not None and not qa.is_file():
        raise FileNotFoundError(f"no such examples file: {qa}")
    if base is not None and not (base / "config.json").is_file():
        raise FileNotFoundError(f"{base} holds no trained Citewise model (no config.json)")
    options = TrainOptions(
        tuple(collection), seconds, folder.expanduser().resolve(), vocab, context,
        finetune=not pretrain_only, qa_file=qa, teacher=teacher, distill=distill,
        cloze=cloze, base=base.expanduser().resolve() if base else None, lora_rank=lora_rank,
    )  # fmt: skip
    bar = Progress(
        TextColumn("[bold]train[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("steps · loss {task.fields[loss]} · {task.fields[rate]} tok/s · ETA {task.fields[eta]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    task = bar.add_task("train", total=None, loss="-", rate="-", eta="-")

    def show(step: Step) -> None:
        if not bar.live.is_started:
            bar.start()
        minutes, secs = divmod(int(step.eta_s), 60)
        bar.update(
            task, completed=step.step, total=step.steps, loss=f"{step.loss:.3f}",
            rate=f"{step.tokens_per_s:,.0f}", eta=f"{minutes}m{secs:02d}s",
        )  # fmt: skip

    console.print(f"Preparing the data and sizing the model for a {budget} budget …")
    with build_knowledge_base(settings) as kb:
        kb.open()
        try:
            report = run_training(settings, kb, options, show if console.is_terminal else None)
        finally:
            if bar.live.is_started:
                bar.stop()
    table = Table(show_header=False, title="Training")
    for name, value in (
        ("model", report.plan),
        ("corpus", f"{report.documents} documents, {report.passages} passages"),
        ("tokens", f"{report.train_tokens:,} train, {report.validation_tokens:,} held out"),
        ("steps", f"{report.steps_done} of {report.steps_planned} ({report.seconds:.0f} s)"),
        ("validation", f"loss {report.validation_loss:.3f}, perplexity {report.perplexity:.1f}"),
    ):
        table.add_row(name, value)
    if report.finetune is not None:
        tuned, evaluation = report.finetune, report.finetune.evaluation
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(tuned.counts.items())) or "none"
        table.add_row(
            "examples",
            f"{tuned.examples} ({kinds}), {tuned.cloze} cloze; {tuned.steps} fine-tuning steps",
        )
        if evaluation.questions:
            table.add_row(
                "held-out QA",
                f"{evaluation.questions} questions: answer F1 {evaluation.answer_f1:.2f}, "
                f"citations pass {evaluation.citation_pass:.0%}, "
                f"declines right {evaluation.abstain_right:.0%}",
            )
    console.print(table)
    if report.steps_done < report.steps_planned:
        console.print("[yellow]The budget ran out first; run the same command again to continue.[/]")
    console.print(f'Answer with it: citewise ask --model gpt:{report.model_dir} "your question"')
