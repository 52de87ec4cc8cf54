"""Citewise's own model, trained within a CPU budget on a real corpus, against the extractive
backend and the teacher model.

The corpus: reStructuredText sources of Debian's ``python3.11-doc`` (a sample of a few MB),
ingested with the real embedder. ``citewise train``'s own code then prepares the data, sizes the
model from the budget, pretrains, distils question-answer examples with the teacher and fine-tunes.
Reported: training tokens/s, the validation loss curve (PNG), inference tokens/s fp32 vs int8 vs
the teacher, and answer F1 plus citation-check pass rate on the held-out distilled questions,
asked through the real answer pipeline, for the trained model, ``extractive`` and the teacher.

    .venv/bin/python bench/train.py [--budget 60m] [--megabytes 4] [--distill 300]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.services import build_answer_pipeline, build_generator, build_knowledge_base, build_pipeline  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.training.data import Labeled, distill  # noqa: E402
from app.training.finetune import EXAMPLES_FILE, evaluate, split_held_out, student_pipeline  # noqa: E402
from app.training.run import TrainOptions, corpus_passages, run_training  # noqa: E402
from bench.data import RESULTS, fetch_debian, python_docs_dir, write_results  # noqa: E402
from generator.base import GenerationOptions, Generator  # noqa: E402
from generator.gpt.backend import GPTGenerator  # noqa: E402
from generator.gpt.dataset import deduplicate, split_by_document  # noqa: E402
from generator.gpt.finetune import read_jsonl  # noqa: E402
from generator.gpt.sizing import budget_seconds  # noqa: E402
from retriever.search import SearchFilters  # noqa: E402

COLLECTION = "python-docs"


def sample_corpus(target: Path, megabytes: float, seed: int) -> int:
    """Copy randomly chosen rst sources until ``megabytes`` are reached; returns the file count."""
    sources = sorted(python_docs_dir(fetch_debian()).glob("_sources/**/*.rst.txt"))
    random.Random(seed).shuffle(sources)
    target.mkdir(parents=True)
    total, count = 0, 0
    for source in sources:
        if total >= megabytes * 2**20:
            break
        shutil.copy2(source, target / f"{count:04d}-{source.name}")
        total += source.stat().st_size
        count += 1
    return count


def fresh_questions(
    settings: Settings, kb, options: TrainOptions, report, teacher: str, count: int
) -> list[Labeled]:
    """More held-out questions, so the evaluation does not rest on a handful: the teacher distils
    them after training, the same way, from training passages its run never reached (distillation
    walks the passages in a fixed shuffled order, so the first ones it counted are skipped)."""
    if count <= 0 or report.finetune is None:
        return []
    passages, _ = split_by_document(
        deduplicate(corpus_passages(kb, options.collections)), options.validation_share, options.seed
    )
    order = [p.text for p in passages]
    random.Random(options.seed).shuffle(order)
    reached = sum(report.finetune.counts.values())
    teaching = build_generator(settings, teacher)
    teaching.warm_up()
    pipeline = student_pipeline(settings, kb, report.model_dir, options.collections)
    found = distill(pipeline, teaching, order[reached:], count, seconds=30.0 * count, seed=options.seed + 1)
    return found.examples


def decode_speed(generator: Generator, prompts: list, tokens: int = 64) -> float:
    """Decode tokens per second after the first token (streamed pieces counted as tokens), over
    ``prompts``: the prompt's own processing time is left out, as it differs by model size."""
    generator.warm_up()
    produced, elapsed = 0, 0.0
    for messages in prompts:
        first, pieces = None, 0
        for _ in generator.stream(messages, GenerationOptions(max_tokens=tokens)):
            pieces += 1
            if first is None:
                first = time.perf_counter()
        if first is not None and pieces > 1:
            produced += pieces - 1
            elapsed += time.perf_counter() - first
    return produced / elapsed if elapsed else 0.0


def loss_plot(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in history]
    figure, axis = plt.subplots(figsize=(7, 4))
    axis.plot(steps, [r["train_loss"] for r in history], alpha=0.35, label="training batch")
    validation = [(r["step"], r["val_loss"]) for r in history if "val_loss" in r]
    axis.plot(*zip(*validation, strict=True), marker="o", label="validation (held-out documents)")
    axis.set_xlabel("step")
    axis.set_ylabel("cross-entropy (nats/token)")
    axis.set_title("Citewise GPT pretraining on python3.11-doc")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--budget", default="60m")
    parser.add_argument("--megabytes", type=float, default=4.0)
    parser.add_argument("--distill", type=int, default=300)
    parser.add_argument("--cloze", type=int, default=20000)
    parser.add_argument("--eval-questions", type=int, default=40, help="extra held-out questions")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (run, examples)")
    parser.add_argument("--work", type=Path, help="reuse a kept work folder (corpus, knowledge base)")
    parser.add_argument("--teacher", default="qwen2.5-0.5b")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--speed-prompts", type=int, default=10)
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="citewise-train-"))
    try:
        settings = Settings(data_dir=work / "data", generator=args.teacher)
        if not (work / "ingested").is_file():  # a kept folder (--keep, then --work) is reused
            shutil.rmtree(work / "corpus", ignore_errors=True)
            sample_corpus(work / "corpus", args.megabytes, args.seed)
            with build_knowledge_base(settings) as kb:
                kb.open(writable=True)
                build_pipeline(settings, kb, collection=COLLECTION).run([work / "corpus"])
            (work / "ingested").write_text(f"{args.megabytes} MB, seed {args.seed}\n")
        files = len(list((work / "corpus").iterdir()))
        shutil.rmtree(work / "run", ignore_errors=True)  # the run always starts afresh
        with build_knowledge_base(settings) as kb:
            kb.open()
            options = TrainOptions(
                (COLLECTION,),
                budget_seconds(args.budget),
                work / "run",
                teacher=args.teacher,
                distill=args.distill,
                cloze=args.cloze,
            )
            started = time.monotonic()
            report = run_training(settings, kb, options)
            wall_s = time.monotonic() - started
            trainer_state = json.loads((options.out / "checkpoint" / "trainer.json").read_text())
            history = trainer_state["history"]
            examples = [Labeled.from_record(r) for r in read_jsonl(options.out / EXAMPLES_FILE)]
            _, held_out = split_held_out(examples, options.seed)
            split_count = len(held_out)
            held_out += fresh_questions(settings, kb, options, report, args.teacher, args.eval_questions)
            filters = SearchFilters(collections=(COLLECTION,))
            trained = f"gpt:{report.model_dir}"
            backends = {
                "trained (copying, the default)": lambda: build_generator(settings, trained),
                "trained (free decoding)": lambda: GPTGenerator(str(report.model_dir), copy=False),
                "extractive": lambda: build_generator(settings, "extractive"),
                "teacher": lambda: build_generator(settings, args.teacher),
            }
            quality, speed = {}, {}
            prompts = [list(x.example.messages) for x in held_out[: args.speed_prompts]]
            for name, make in backends.items():
                generator = make()
                generator.warm_up()
                pipeline = build_answer_pipeline(settings, kb, generator, filters=filters)
                quality[name] = asdict(evaluate(pipeline, held_out))
                print(name, quality[name], flush=True)
            for name, make in (  # the model's own decoding speed: free, up to 64 tokens
                ("trained fp32", lambda: GPTGenerator(str(report.model_dir), copy=False)),
                ("trained int8", lambda: GPTGenerator(str(report.model_dir), int8=True, copy=False)),
                ("teacher", lambda: build_generator(settings, args.teacher)),
            ):
                speed[name] = round(decode_speed(make(), prompts), 1)
                print(name, speed[name], "tok/s", flush=True)
        RESULTS.mkdir(parents=True, exist_ok=True)
        loss_plot(history, RESULTS / "train-loss.png")
    finally:
        if args.keep or args.work:
            print(f"kept the corpus, knowledge base and run in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    fields = {
        "files": files,
        "budget_s": options.budget_s,
        "wall_s": round(wall_s, 1),
        "plan": report.plan,
        "documents": report.documents,
        "train_tokens": report.train_tokens,
        "steps": [report.steps_done, report.steps_planned],
        "pretrain_seconds": round(report.seconds, 1),
        "training_tokens_per_s": round(trainer_state["tokens"] / max(report.seconds, 1e-9)),
        "validation_loss": round(report.validation_loss, 4),
        "perplexity": round(report.perplexity, 2),
        "examples": asdict(report.finetune) if report.finetune else None,
        "held_out_questions": len(held_out),
        "held_out_from_split": split_count,
        "quality": quality,
        "decode_tokens_per_s": speed,
        "int8_vs_fp32": round(speed["trained int8"] / speed["trained fp32"], 2)
        if speed["trained fp32"]
        else None,
        "trained_vs_teacher": round(speed["trained fp32"] / speed["teacher"], 2)
        if speed["teacher"]
        else None,
    }
    write_results("train", "citewise-train", fields, markdown(fields))


def examples_line(examples: dict | None) -> str:
    if not examples:
        return "No fine-tuning stage."
    counts = ", ".join(f"{n} {reason}" for reason, n in sorted(examples["counts"].items()))
    return (
        f"Fine-tuning: {examples['examples']} distilled examples ({counts}), "
        f"{examples['cloze']} cloze examples, {examples['steps']} steps."
    )


def markdown(fields: dict) -> str:
    rows = ["| backend | answer F1 | citation pass | declines right |", "|---|---|---|---|"]
    for name, q in fields["quality"].items():
        rows.append(
            f"| {name} | {q['answer_f1']:.3f} | {q['citation_pass']:.0%} | {q['abstain_right']:.0%} |"
        )
    speed = fields["decode_tokens_per_s"]
    return "\n".join(
        [
            "# Training benchmark: Citewise's own model on python3.11-doc",
            "",
            f"{fields['files']} rst files, {fields['documents']} documents, "
            f"{fields['train_tokens']:,} training tokens; budget {fields['budget_s'] / 60:.0f} min "
            f"(wall {fields['wall_s'] / 60:.1f} min).",
            f"Model: {fields['plan']}; {fields['steps'][0]} of {fields['steps'][1]} steps in "
            f"{fields['pretrain_seconds']:.0f} s ({fields['training_tokens_per_s']:,} training tokens/s "
            "on 2 cores); "
            f"validation loss {fields['validation_loss']} "
            f"(perplexity {fields['perplexity']}). Loss curve: `bench/results/train-loss.png`.",
            "",
            examples_line(fields["examples"]),
            "",
            f"Held-out distilled questions: {fields['held_out_questions']} "
            f"({fields['held_out_from_split']} held out of the run's examples, the others distilled by "
            "the teacher after training from passages its distillation had not reached)",
            "",
            *rows,
            "",
            "Decode speed (tokens/s): "
            + ", ".join(f"{k} {v}" for k, v in speed.items())
            + f"; int8/fp32 {fields['int8_vs_fp32']}, trained/teacher {fields['trained_vs_teacher']}.",
            "",
        ]
    )


if __name__ == "__main__":
    main()
