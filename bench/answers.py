"""End-to-end answers on Disfl-QA, scored by the same code as ``citewise eval``.

The 1,204 paragraphs are ingested through the real pipeline (one file per paragraph); a fixed
random sample of questions (answerable ones with a gold span, and SQuAD v2 unanswerable ones whose
target is "unknown") becomes an eval question set: the gold span is the one acceptable answer and
the paragraph's file is the source. Each generator answers it through ``app.evaluation``'s runner,
so every metric (answer correct, token F1, abstention, citation precision, hit@k, MRR, times) and
failure class means exactly what docs/evaluation.md says.

    .venv/bin/python bench/answers.py [--questions 300] [--generators extractive,qwen2.5-0.5b]

``--calibrate`` (use ``--split dev``) scores every question's decline probability and reports the
threshold that would have served each model best; ``--speed`` compares the backend with raw
llama-cpp-python on the prompts the pipeline built.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.answering import Answer, AnswerPipeline  # noqa: E402
from app.evaluation.metrics import Summary, summarize  # noqa: E402
from app.evaluation.outcome import outcome_from_answer  # noqa: E402
from app.evaluation.questions import EvalQuestion  # noqa: E402
from app.evaluation.records import result_json  # noqa: E402
from app.evaluation.runner import EvalRun, Variant, run_questions  # noqa: E402
from app.evaluation.scoring import QuestionResult, score  # noqa: E402
from app.services import build_answer_pipeline, build_knowledge_base, build_pipeline  # noqa: E402
from app.settings import Settings  # noqa: E402
from bench.answer_speed import RecordingGenerator, speed_report  # noqa: E402
from bench.data import CACHE, RESULTS, disfl_qa_examples, split_example, write_results  # noqa: E402
from generator.llamacpp import default_cache_dir  # noqa: E402
from generator.models import BUILTIN_MODELS  # noqa: E402
from generator.registry import create_generator  # noqa: E402

DEV_QUESTIONS = 300  # held out for tuning prompts and thresholds; never in the reported sample
COLUMNS = ("answer_correct", "token_f1", "abstention_f1", "abstention_precision", "abstention_recall",
           "citation_precision", "hit_at_k", "mrr", "ttft_p50_s", "ttft_p95_s", "total_p50_s",
           "total_p95_s")  # fmt: skip


def paragraph_files() -> dict[str, str]:
    """Each distinct paragraph → the file it is ingested as (``p0000.txt``…, first-seen order)."""
    paragraphs = dict.fromkeys(split_example(e)[1] for e in disfl_qa_examples())
    return {paragraph: f"p{i:04d}.txt" for i, paragraph in enumerate(paragraphs)}


def sample(count: int, seed: int, split: str = "test") -> list[EvalQuestion]:
    """Eval questions, answerable and unanswerable in their natural proportion.

    A fixed shuffle puts the first ``DEV_QUESTIONS`` into the dev split, which tuning uses; the
    reported numbers come from the test split, so no threshold or prompt was fitted to them.
    """
    files = paragraph_files()
    examples = []
    for index, example in enumerate(disfl_qa_examples()):
        question, paragraph = split_example(example)
        if question:
            examples.append((index, question, str(example["target"]), files[paragraph]))
    random.Random(0).shuffle(examples)
    pool = examples[:DEV_QUESTIONS] if split == "dev" else examples[DEV_QUESTIONS:]
    chosen = random.Random(seed).sample(pool, min(count, len(pool)))
    return [
        EvalQuestion(
            id=f"disfl-{index}",
            question=question,
            answers=() if target == "unknown" else (target,),
            sources=(source,),
            unanswerable=target == "unknown",
            tags=(split,),
        )
        for index, question, target, source in chosen
    ]


class RecordingPipeline:
    """The pipeline as the runner sees it, keeping every answer (for the decline calibration) and
    which prompt, if any, each question sent to the model (for the speed comparison)."""

    def __init__(self, inner: AnswerPipeline, generator: RecordingGenerator) -> None:
        self.inner = inner
        self.generator = generator
        self.answers: list[Answer] = []
        self.prompt_index: list[int | None] = []

    def ask(self, question: str) -> Answer:
        before = len(self.generator.prompts)
        answer = self.inner.ask(question)
        self.answers.append(answer)
        sent = len(self.generator.prompts) > before
        self.prompt_index.append(len(self.generator.prompts) - 1 if sent else None)
        return answer


def row(summary: Summary) -> dict[str, Any]:
    metrics = {name: _round(summary.metrics[name]) for name in COLUMNS}
    return {
        "answerable": summary.answerable,
        "unanswerable": summary.unanswerable,
        **metrics,
        "answer_words_mean": _round(summary.metrics["answer_words_mean"]),
        "failures": summary.failures,
    }


@dataclass(frozen=True, slots=True)
class Calibration:
    threshold: float
    summary: Summary


def with_threshold(run: EvalRun, answers: list[Answer], threshold: float) -> list[QuestionResult]:
    """The results had the pipeline also abstained where the decline log-probability reached
    ``threshold``."""
    results = []
    for result, answer in zip(run.results, answers, strict=True):
        declined = answer.decline_logprob is not None and answer.decline_logprob >= threshold
        if declined and not answer.abstained:
            outcome = replace(
                outcome_from_answer(answer, answer.retrieved),
                abstained=True,
                abstain_reason="decline threshold",
                sentences=(),
            )
            result = score(result.question, outcome)
        results.append(result)
    return results


def calibrate(run: EvalRun, answers: list[Answer]) -> Calibration:
    """The threshold that maximises token F1 + abstention F1 on these (dev) questions."""
    best: Calibration | None = None
    for step in range(33):  # -8.0 … 0.0 by 0.25
        threshold = -8.0 + step * 0.25
        summary = summarize(with_threshold(run, answers, threshold))
        if best is None or _objective(summary) > _objective(best.summary):
            best = Calibration(threshold, summary)
    assert best is not None
    return best


def _objective(summary: Summary) -> float:
    return (summary.metrics["token_f1"] or 0.0) + (summary.metrics["abstention_f1"] or 0.0)


def markdown(results: dict[str, dict], speed: dict[str, dict], thresholds: dict[str, dict], args) -> str:
    first = next(iter(results.values()), {})
    lines = [
        "# Answers benchmark: Disfl-QA",
        "",
        f"{args.split} split, seed {args.seed}: {first.get('answerable', 0)} answerable and "
        f"{first.get('unanswerable', 0)} unanswerable questions, end to end through the pipeline, scored by "
        "`app.evaluation` (the metrics of `citewise eval`, docs/evaluation.md).",
        "",
        "| generator | " + " | ".join(COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 1) + "|",
    ]
    lines += [f"| {name} | " + " | ".join(_cell(r[c]) for c in COLUMNS) + " |" for name, r in results.items()]
    if results:
        classes = list(first.get("failures", {}))
        lines += ["", "Failure classes:", "", "| generator | " + " | ".join(classes) + " |"]
        lines += ["|---" * (len(classes) + 1) + "|"]
        lines += [
            f"| {name} | " + " | ".join(str(r["failures"][c]) for c in classes) + " |"
            for name, r in results.items()
        ]
    if thresholds:
        lines += ["", "Calibrated decline thresholds (log-probability; best token F1 + abstention F1):", ""]
        lines += ["| generator | threshold | token_f1 | abstention_f1 | answer_correct |", "|---" * 5 + "|"]
        for name, t in thresholds.items():
            lines.append(
                f"| {name} | {t['decline_logprob']} | {_cell(t['token_f1'])} | {_cell(t['abstention_f1'])} | "
                f"{_cell(t['answer_correct'])} |"
            )
    if speed:
        lines += ["", "Speed on the same prompts (decode tokens/s, p50; time to first token p50):", ""]
        lines += [
            "| generator | raw llama-cpp-python | Citewise backend | with prompt lookup | backend/raw | "
            "lookup/raw | pipeline overhead |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, report in speed.items():
            raw, plain, lookup = (report[k] for k in ("raw_llama_cpp", "backend", "backend_prompt_lookup"))
            lines.append(
                f"| {name} | {raw['decode_tokens_per_s']} tok/s, {raw['ttft_p50_s']} s | "
                f"{plain['decode_tokens_per_s']} tok/s, {plain['ttft_p50_s']} s | "
                f"{lookup['decode_tokens_per_s']} tok/s, {lookup['ttft_p50_s']} s | "
                f"{report['decode_ratio_backend_vs_raw']} | {report['decode_ratio_lookup_vs_raw']} | "
                f"{report['pipeline_overhead']:.1%} |"
            )
    return "\n".join(lines) + "\n"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _cell(value: Any) -> str:
    return "–" if value is None else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--generators", default="extractive,qwen2.5-0.5b,qwen2.5-1.5b")
    parser.add_argument("--split", choices=["dev", "test"], default="test")
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="score every question's decline probability and pick each model's threshold (use --split dev)",
    )
    parser.add_argument("--speed", type=int, default=40, help="questions for the raw llama.cpp comparison")
    parser.add_argument(
        "--update",
        action="store_true",
        help="keep the other generators' figures in the results file; replace only those run now",
    )
    parser.add_argument(
        "--speed-only",
        action="store_true",
        help="re-measure only the speed section (on an idle machine), keeping the quality figures",
    )
    args = parser.parse_args()
    questions = sample(args.questions, args.seed, args.split)
    sampled = len(questions)
    if args.speed_only:  # enough questions for `--speed` of them to reach the model
        questions, args.update = questions[: args.speed * 2], True
    work = Path(tempfile.mkdtemp(prefix="citewise-answers-"))
    results: dict[str, dict] = {}
    speed: dict[str, dict] = {}
    thresholds: dict[str, dict] = {}
    try:
        corpus = work / "corpus"
        corpus.mkdir()
        for paragraph, name in paragraph_files().items():
            (corpus / name).write_text(paragraph + "\n")
        settings = Settings(data_dir=work / "data")
        kb = build_knowledge_base(settings)
        with kb:
            kb.open(writable=True)
            build_pipeline(settings, kb).run([corpus])
            for spec in filter(None, args.generators.split(",")):
                generator = RecordingGenerator(create_generator(spec, cache_dir=default_cache_dir()))
                generator.warm_up()
                pipeline = build_answer_pipeline(settings, kb, generator)  # type: ignore[arg-type]
                if args.calibrate:
                    pipeline.options = replace(pipeline.options, decline_threshold=math.inf)
                recording = RecordingPipeline(pipeline, generator)
                run = run_questions(recording, questions, Variant(spec, spec))  # type: ignore[arg-type]
                if not args.speed_only:
                    results[spec] = row(run.summary)
                    _log(args.split, spec, run)
                    print(spec, results[spec], flush=True)
                if args.calibrate and any(a.decline_logprob is not None for a in recording.answers):
                    best = calibrate(run, recording.answers)
                    thresholds[spec] = {"decline_logprob": best.threshold, **row(best.summary)}
                    print(spec, "calibrated threshold", thresholds[spec], flush=True)
                if spec in BUILTIN_MODELS and args.speed and not args.calibrate:
                    asked = [
                        (result, index)
                        for result, index in zip(run.results, recording.prompt_index, strict=True)
                        if index is not None
                    ][: args.speed]
                    prompts = [generator.prompts[index] for _, index in asked]
                    totals = [result.total_s or 0.0 for result, _ in asked]
                    speed[spec] = speed_report(spec, totals, prompts)
                    print(spec, "speed", speed[spec], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    fields = {
        "questions": sampled,
        "split": args.split,
        "seed": args.seed,
        "scored_by": "app.evaluation",
        "generators": results,
        "speed": speed,
        "calibration": thresholds,
    }
    stem = "answers" if args.split == "test" and not args.calibrate else f"answers-{args.split}"
    previous = RESULTS / f"{stem}.json"
    if args.update and previous.is_file():
        old = json.loads(previous.read_text())
        same_sample = (old.get("questions"), old.get("seed"), old.get("split"), old.get("scored_by"))
        if same_sample == (sampled, args.seed, args.split, "app.evaluation"):
            for key, current in (("generators", results), ("speed", speed), ("calibration", thresholds)):
                fields[key] = {**old.get(key, {}), **current}
            results, speed, thresholds = fields["generators"], fields["speed"], fields["calibration"]
    write_results(stem, "answers-disfl-qa", fields, markdown(results, speed, thresholds, args))


def _log(split: str, spec: str, run: EvalRun) -> None:
    """Every question's result, as ``citewise eval --out`` writes them."""
    log = CACHE / "answers-log" / f"{split}-{spec.replace('/', '_')}.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("".join(json.dumps(result_json(r), ensure_ascii=False) + "\n" for r in run.results))


if __name__ == "__main__":
    main()
