"""End-to-end answers on Disfl-QA: quality, abstention, citations and latency per generator.

The 1,204 paragraphs are ingested through the real pipeline; a fixed random sample of questions
(answerable ones with a gold span, and SQuAD v2 unanswerable ones whose target is "unknown") is
asked through the real answer pipeline. Reported per generator:

* exact match and token F1 on answerable questions (an abstention scores 0),
* abstention precision / recall / F1, "unknown" being the positive class,
* citation precision: the share of cited passages that contain the gold answer,
* time to first token and total latency, p50 / p95.

    .venv/bin/python bench/answers.py [--questions 300] [--generators extractive,qwen2.5-0.5b]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.answer_scores import normalize, strip_citations, token_f1  # noqa: E402
from app.services import build_answer_pipeline, build_knowledge_base, build_pipeline  # noqa: E402
from app.settings import Settings  # noqa: E402
from bench.answer_speed import RecordingGenerator, speed_report  # noqa: E402
from bench.data import CACHE, RESULTS, disfl_qa_examples, split_example, write_results  # noqa: E402
from generator.base import create_generator  # noqa: E402
from generator.llamacpp import default_cache_dir  # noqa: E402
from generator.models import BUILTIN_MODELS  # noqa: E402

DEV_QUESTIONS = 300  # held out for tuning prompts and thresholds; never in the reported sample


def sample(count: int, seed: int, split: str = "test") -> list[tuple[str, str]]:
    """(question, target) pairs, answerable and unanswerable in their natural proportion.

    A fixed shuffle puts the first ``DEV_QUESTIONS`` into the dev split, which tuning uses; the
    reported numbers come from the test split, so no threshold or prompt was fitted to them.
    """
    examples = [(split_example(e)[0], str(e["target"])) for e in disfl_qa_examples()]
    examples = [pair for pair in examples if pair[0]]
    random.Random(0).shuffle(examples)
    pool = examples[:DEV_QUESTIONS] if split == "dev" else examples[DEV_QUESTIONS:]
    return random.Random(seed).sample(pool, min(count, len(pool)))


def evaluate(pipeline, questions: list[tuple[str, str]], log: Path | None = None) -> tuple[dict, list[dict]]:
    """The metrics, and one record per question (written to ``log`` as JSON lines)."""
    records = []
    prompts = getattr(pipeline.generator, "prompts", [])
    for question, target in questions:
        streamed = len(prompts)
        answer = pipeline.ask(question)
        unanswerable = target == "unknown"
        text = "" if answer.abstained else strip_citations(answer.answer)
        cited = [next(h for h in answer.sources if h.chunk_id == c.chunk_id).text for c in answer.citations]
        records.append(
            {
                "question": question,
                "asked": answer.standalone_question,
                "target": target,
                "answer": answer.answer,
                "model_text": " ".join(sentence.text for sentence in answer.sentences),
                "abstained": answer.abstained,
                "reason": answer.abstain_reason,
                "decline_logprob": answer.decline_logprob,
                "f1": None if unanswerable else token_f1(text, target),
                "contained": None if unanswerable else bool(text) and normalize(target) in normalize(text),
                "cited_right": [normalize(target) in normalize(t) for t in cited] if not unanswerable else [],
                "first_token_s": answer.timings.get("first_token_s"),
                "total_s": answer.timings["total_s"],
                "prompt_index": streamed if len(prompts) > streamed else None,  # the model was asked
            }
        )
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("".join(json.dumps(r) + "\n" for r in records))
    return metrics(records), records


def metrics(records: list[dict], threshold: float | None = None) -> dict:
    """Scores of the records; with ``threshold``, also abstaining where the decline log-probability
    reached it (what that threshold would have done)."""

    def abstained(r: dict) -> bool:
        lp = r["decline_logprob"]
        return r["abstained"] or (threshold is not None and lp is not None and lp >= threshold)

    answerable = [r for r in records if r["target"] != "unknown"]
    unknown = [r for r in records if r["target"] == "unknown"]
    f1s = [0.0 if abstained(r) else r["f1"] for r in answerable]
    exact = [0.0 if abstained(r) else float(r["contained"]) for r in answerable]
    cited = [hit for r in answerable if not abstained(r) for hit in r["cited_right"]]
    true_positive = sum(abstained(r) for r in unknown)
    false_positive = sum(abstained(r) for r in answerable)
    precision = true_positive / max(1, true_positive + false_positive)
    recall = true_positive / max(1, len(unknown))
    first_token = [r["first_token_s"] for r in records if r["first_token_s"] is not None]
    total = [r["total_s"] for r in records]

    def percentile(values: list[float], q: int) -> float | None:
        return round(float(np.percentile(values, q)), 3) if values else None

    return {
        "answerable": len(answerable),
        "unanswerable": len(unknown),
        "f1": round(float(np.mean(f1s)), 4) if f1s else None,
        "exact_match_contained": round(float(np.mean(exact)), 4) if exact else None,
        "abstain_precision": round(precision, 4),
        "abstain_recall": round(recall, 4),
        "abstain_f1": round(2 * precision * recall / max(1e-9, precision + recall), 4),
        "citation_precision": round(float(np.mean(cited)), 4) if cited else None,
        "ttft_p50_s": percentile(first_token, 50),
        "ttft_p95_s": percentile(first_token, 95),
        "total_p50_s": percentile(total, 50),
        "total_p95_s": percentile(total, 95),
    }


def calibrate(records: list[dict]) -> tuple[float, dict]:
    """The decline threshold that maximises the mean of answer F1 and abstention F1."""
    grid = [round(float(t), 2) for t in np.arange(-8.0, 0.01, 0.25)]
    scored = [(t, metrics(records, t)) for t in grid]
    return max(scored, key=lambda item: (item[1]["f1"] + item[1]["abstain_f1"], -item[0]))


COLUMNS = ["f1", "exact_match_contained", "abstain_f1", "abstain_precision", "abstain_recall",
           "citation_precision", "ttft_p50_s", "ttft_p95_s", "total_p50_s", "total_p95_s"]  # fmt: skip


def markdown(results: dict[str, dict], speed: dict[str, dict], thresholds: dict[str, dict], args) -> str:
    questions = next(iter(results.values()), {})
    lines = [
        "# Answers benchmark: Disfl-QA",
        "",
        f"{args.split} split, seed {args.seed}: {questions.get('answerable', 0)} answerable and "
        f"{questions.get('unanswerable', 0)} unanswerable questions, end to end through the pipeline.",
        "",
        "| generator | " + " | ".join(COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 1) + "|",
    ]
    lines += [f"| {name} | " + " | ".join(str(r[c]) for c in COLUMNS) + " |" for name, r in results.items()]
    if thresholds:
        lines += ["", "Calibrated decline thresholds (log-probability; best mean of F1 and abstain F1):", ""]
        lines += ["| generator | threshold | f1 | abstain_f1 |", "|---|---|---|---|"]
        for name, t in thresholds.items():
            lines.append(f"| {name} | {t['decline_logprob']} | {t['f1']} | {t['abstain_f1']} |")
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
    paragraphs = list(dict.fromkeys(split_example(e)[1] for e in disfl_qa_examples()))
    work = Path(tempfile.mkdtemp(prefix="citewise-answers-"))
    results: dict[str, dict] = {}
    speed: dict[str, dict] = {}
    thresholds: dict[str, dict] = {}
    try:
        corpus = work / "corpus"
        corpus.mkdir()
        for i, paragraph in enumerate(paragraphs):
            (corpus / f"p{i:04d}.txt").write_text(paragraph + "\n")
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
                log = CACHE / "answers-log" / f"{args.split}-{spec.replace('/', '_')}.jsonl"
                scores, records = evaluate(pipeline, questions, None if args.speed_only else log)
                if not args.speed_only:
                    results[spec] = scores
                    print(spec, scores, flush=True)
                if args.calibrate and any(r["decline_logprob"] is not None for r in records):
                    threshold, scores = calibrate(records)
                    thresholds[spec] = {"decline_logprob": threshold, **scores}
                    print(spec, "calibrated threshold", threshold, scores, flush=True)
                if spec in BUILTIN_MODELS and args.speed and not args.calibrate:
                    asked = [r for r in records if r["prompt_index"] is not None][: args.speed]
                    prompts = [generator.prompts[r["prompt_index"]] for r in asked]
                    speed[spec] = speed_report(spec, [r["total_s"] for r in asked], prompts)
                    print(spec, "speed", speed[spec], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    fields = {
        "questions": sampled,
        "split": args.split,
        "seed": args.seed,
        "generators": results,
        "speed": speed,
        "calibration": thresholds,
    }
    stem = "answers" if args.split == "test" and not args.calibrate else f"answers-{args.split}"
    previous = RESULTS / f"{stem}.json"
    if args.update and previous.is_file():
        old = json.loads(previous.read_text())
        same_sample = (old.get("questions"), old.get("seed"), old.get("split"))
        if same_sample == (sampled, args.seed, args.split):
            for key, current in (("generators", results), ("speed", speed), ("calibration", thresholds)):
                fields[key] = {**old.get(key, {}), **current}
            results, speed, thresholds = fields["generators"], fields["speed"], fields["calibration"]
    write_results(stem, "answers-disfl-qa", fields, markdown(results, speed, thresholds, args))


if __name__ == "__main__":
    main()
