"""Which ranker picks the answer-bearing sentence? Lexical focus vs MiniLM cosine vs a cross-encoder
Citewise trains itself (issue 17, lever 3, first step).

Citewise's guide (``docs/``) is ingested into a temporary data dir. For each answerable question
of ``bench/qa/guide.jsonl`` in the chosen split (``dev`` unless told otherwise; keep ``test`` for
the very end), the real hybrid search retrieves k=3 passages; their readable sentences (the spans
``generator.focus`` chooses among) are ranked by

1. ``lexical``: today's focus (``focus(question, passages, n)`` keeps the n sentences),
2. ``minilm-cosine``: the bi-encoder's cosine between the question and each sentence,
3. ``cross-untrained``: the cross-encoder with its random head (a sanity floor: about chance),
4. ``cross-trained-<budget>``: the same after training on groups made from the guide's own text
   (``app.evidence_data``: cloze and heading questions; never an evaluation question).

Evidence recall@n: the share of questions where one of the top n sentences contains a gold answer
(``is_correct`` semantics), over the questions where any retrieved sentence contains one.

    .venv/bin/python bench/evidence.py [--budgets 600,1200] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from app.evaluation.questions import EvalQuestion, load_questions  # noqa: E402
from app.evaluation.scoring import is_correct  # noqa: E402
from app.evidence_data import evidence_examples  # noqa: E402
from app.services import build_knowledge_base, build_pipeline, search_weights  # noqa: E402
from app.settings import Settings  # noqa: E402
from bench.data import write_results  # noqa: E402
from generator.evidence import EvidenceScorer, TrainOptions, train  # noqa: E402
from generator.focus import focus, quarantine, readable_spans  # noqa: E402
from generator.prompt import Passage  # noqa: E402
from generator.question_repair import repair_question  # noqa: E402
from retriever.embedders.minilm import packaged_model_dir  # noqa: E402
from retriever.knowledge_base import KnowledgeBase  # noqa: E402
from retriever.search import SearchMode, search  # noqa: E402

NS = (1, 2, 4)
K = 3


@dataclass
class Item:
    """One question with its retrieved sentences, and which of them hold a gold answer."""

    question: EvalQuestion
    asked: str
    passages: list[Passage]
    candidates: list[tuple[int, tuple[int, int], str]]  # (passage index, span, text)
    gold: list[bool]

    @property
    def answerable_here(self) -> bool:
        return any(self.gold)


# A picker returns, for each n in NS, the candidate positions it keeps.
Picker = Callable[[Item], dict[int, set[int]]]


def guide_questions(split: str) -> list[EvalQuestion]:
    questions = load_questions(ROOT / "bench" / "qa" / "guide.jsonl")
    return [q for q in questions if split in q.tags and q.answerable and not q.draft]


def prepare(kb: KnowledgeBase, settings: Settings, questions: Sequence[EvalQuestion]) -> list[Item]:
    """Retrieve as the answer pipeline does (k=3, the settings' mode and weights)."""
    mode, weights = SearchMode(settings.search_mode), search_weights(settings)
    items = []
    for question in questions:
        asked = repair_question(question.question) if settings.repair_questions else question.question
        hits = search(kb, question.question, k=K, mode=mode, weights=weights)
        passages = [
            quarantine(Passage(n, h.text, title=h.title, heading=" › ".join(h.heading_path), page=h.page))
            for n, h in enumerate(hits, start=1)
        ]
        candidates = [
            (index, span, passage.text[span[0] : span[1]])
            for index, passage in enumerate(passages)
            for span in readable_spans(passage)
        ]
        gold = [is_correct(text, question) for _, _, text in candidates]
        items.append(Item(question, asked, passages, candidates, gold))
    return items


def lexical(item: Item) -> dict[int, set[int]]:
    """What focus keeps at each n, as candidate positions."""
    where = {(index, span): position for position, (index, span, _) in enumerate(item.candidates)}
    kept: dict[int, set[int]] = {}
    for n in NS:
        chosen = focus(item.asked, item.passages, n)
        kept[n] = {where[(index, span)] for index, passage in chosen for span in readable_spans(passage)}
    return kept


def by_scores(score: Callable[[str, list[str]], list[float]]) -> Picker:
    """The top n by score; ties go to the earlier sentence (better-ranked passage), as in focus."""

    def pick(item: Item) -> dict[int, set[int]]:
        scores = score(item.asked, [text for _, _, text in item.candidates])
        order = sorted(range(len(scores)), key=lambda p: (-scores[p], p))
        return {n: set(order[:n]) for n in NS}

    return pick


def minilm_cosine(kb: KnowledgeBase) -> Callable[[str, list[str]], list[float]]:
    embedder = kb.embedder

    def score(question: str, texts: list[str]) -> list[float]:
        query = embedder.embed_query(question)
        return [float(x) for x in np.asarray(embedder.embed_documents(texts)) @ query]

    return score


def measure(name: str, items: Sequence[Item], pick: Picker) -> dict:
    """Recall@n over the questions whose retrieved sentences hold an answer, and ms per question."""
    found = {n: 0 for n in NS}
    times = []
    counted = [item for item in items if item.answerable_here]
    for item in counted:
        started = time.perf_counter()
        kept = pick(item)
        times.append((time.perf_counter() - started) * 1000)
        for n in NS:
            found[n] += any(item.gold[p] for p in kept[n])
    row = {
        "ranker": name,
        **{f"recall@{n}": round(found[n] / max(1, len(counted)), 3) for n in NS},
        "questions": len(counted),
        "ms_per_question": round(float(np.median(times)), 1) if times else None,
        "ms_mean": round(float(np.mean(times)), 1) if times else None,
    }
    print(row, flush=True)
    return row


def table(rows: Sequence[dict], meta: dict) -> str:
    lines = [
        "# Evidence ranking on the guide (`bench/evidence.py`)",
        "",
        f"Split `{meta['split']}`: {meta['questions']} answerable questions, "
        f"{meta['answer_retrieved']} with a "
        f"gold answer in one of the {K} retrieved passages' sentences (the denominator); "
        f"{meta['sentences_mean']:.1f} candidate sentences per question on average. "
        f"torch threads: {meta['threads']}.",
        "",
        "| ranker | recall@1 | recall@2 | recall@4 | ms/question (median) |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [row["ranker"], *(f"{row[f'recall@{n}']:.3f}" for n in NS), f"{row['ms_per_question']}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Training (cumulative per stage):", ""]
    for stage in meta["training"]:
        lines.append(
            f"- {stage['name']}: {stage['steps']} steps, {stage['seconds']:.0f} s, loss "
            f"{stage['first_loss']:.3f} → {stage['last_loss']:.3f} (this stage's first and last tenth)"
        )
    data = meta["data"]
    lines += [
        "",
        f"Training groups: {data['examples']} from the guide's own text ({data['counts']}), made in "
        f"{data['seconds']:.0f} s. Pooling `{meta['pooling']}`, max length {meta['max_length']}, "
        f"{meta['options']['questions_per_step']} questions × (1 + {meta['options']['negatives']}) "
        "texts per step.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--split", choices=["dev", "test"], default="dev")
    parser.add_argument("--budgets", default="600,1200", help="cumulative training seconds to measure at")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 is faster on a busy 2-core box)"
    )
    parser.add_argument("--pooling", choices=["mean", "cls"], default="mean")
    parser.add_argument("--examples", type=int, default=6000)
    parser.add_argument("--negatives", type=int, default=7)
    parser.add_argument("--per-step", type=int, default=4)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--save", type=Path, default=None, help="keep the last checkpoint here")
    parser.add_argument("--stem", default="evidence")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    budgets = [float(b) for b in args.budgets.split(",") if b]
    work = Path(tempfile.mkdtemp(prefix="citewise-evidence-"))
    settings = Settings(data_dir=work / "data")
    kb = build_knowledge_base(settings)
    with kb:
        kb.open(writable=True)
        build_pipeline(settings, kb).run([ROOT / "docs"])
        items = prepare(kb, settings, guide_questions(args.split))
        rows = [measure("lexical (focus)", items, lexical)]
        rows.append(measure("minilm-cosine", items, by_scores(minilm_cosine(kb))))
        scorer = EvidenceScorer(packaged_model_dir(), pooling=args.pooling)
        scorer.warm_up()
        rows.append(measure("cross-untrained", items, by_scores(scorer.score)))

        started = time.monotonic()
        data = evidence_examples(kb, settings.default_collection, limit=args.examples)
        made = time.monotonic() - started
        print(f"{len(data.examples)} training groups in {made:.0f} s: {dict(data.counts)}", flush=True)
        pairs = [example.pair() for example in data.examples]
        options = TrainOptions(
            questions_per_step=args.per_step, negatives=args.negatives, learning_rate=args.learning_rate
        )
        stages, done_steps, done_seconds, previous = [], 0, 0.0, 0.0

        def report(step: int, seconds: float, loss: float) -> None:
            if step % 25 == 0:
                print(f"  step {done_steps + step} {done_seconds + seconds:.0f}s loss {loss:.3f}", flush=True)

        for stage, budget in enumerate(budgets):
            stage_options = replace(options, seconds=budget - previous, seed=stage)
            result = train(scorer, pairs, stage_options, progress=report)
            done_steps, done_seconds, previous = (
                done_steps + result.steps,
                done_seconds + result.seconds,
                budget,
            )
            name = f"cross-trained-{budget / 60:g}min"
            stages.append(
                {
                    "name": name,
                    "steps": done_steps,
                    "seconds": round(done_seconds, 1),
                    "stage_steps": result.steps,
                    "first_loss": result.first_loss,
                    "last_loss": result.last_loss,
                    "curve": result.curve,
                }
            )
            rows.append(measure(name, items, by_scores(scorer.score)))
        if args.save:
            scorer.save(args.save)
    meta = {
        "split": args.split,
        "questions": len(items),
        "answer_retrieved": sum(item.answerable_here for item in items),
        "sentences_mean": float(np.mean([len(item.candidates) for item in items])) if items else 0.0,
        "threads": args.threads,
        "pooling": args.pooling,
        "max_length": scorer.settings.max_length,
        "options": {
            "questions_per_step": args.per_step,
            "negatives": args.negatives,
            "lr": args.learning_rate,
        },
        "training": stages,
        "data": {"examples": len(data.examples), "counts": dict(data.counts), "seconds": round(made, 1)},
    }
    write_results(
        args.stem, "evidence ranking (issue 17, lever 3)", {"rows": rows, **meta}, table(rows, meta)
    )


if __name__ == "__main__":
    main()
