"""The second stage of ``citewise train``: fine-tuning on question-answer examples in the pipeline's
prompt format, then a question-answering evaluation on held-out examples through the real pipeline
(the same retrieval, citation check and abstention a user gets)."""

from __future__ import annotations

import json
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from app.answer_scores import strip_citations, token_f1
from app.answering import AnswerPipeline
from app.services import build_answer_pipeline, build_generator
from app.settings import Settings
from app.training.cloze import cloze_examples
from app.training.data import ExampleSet, Labeled, distill, from_records
from generator.gpt.backend import GPTGenerator
from generator.gpt.finetune import encode, read_jsonl, sampler, write_jsonl
from generator.gpt.model import GPT
from generator.gpt.tokenizer import CorpusTokenizer
from generator.gpt.train import Progress, TrainConfig, Trainer
from generator.prompt import NOT_IN_DOCUMENTS
from retriever.knowledge_base import KnowledgeBase
from retriever.search import SearchFilters

EXAMPLES_FILE = "examples.jsonl"
CLOZE_FILE = "cloze.jsonl"
SFT_BATCH = 8
MAX_EPOCHS = 8
CLOZE_TIME_SHARE = 0.4  # of the examples' time; the rest is the teacher's
ASKED_SHARE = 0.3  # of the fine-tuning draws: the teacher's or the user's examples, when cloze ones exist


@dataclass
class QAEvaluation:
    questions: int = 0
    answer_f1: float = 0.0  # answerable held-out questions (an abstention scores 0)
    citation_pass: float = 0.0  # answers not abstained whose every sentence is supported
    abstain_right: float = 0.0  # held-out questions whose right reply is a decline, declined


@dataclass
class FinetuneReport:
    examples: int = 0
    cloze: int = 0
    held_out: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    steps: int = 0
    evaluation: QAEvaluation = field(default_factory=QAEvaluation)


def student_pipeline(
    settings: Settings, kb: KnowledgeBase, model_dir: Path, collections: tuple[str, ...]
) -> AnswerPipeline:
    student = GPTGenerator(str(model_dir))
    student.warm_up()
    return build_answer_pipeline(settings, kb, student, filters=SearchFilters(collections=collections))


def gather(
    settings: Settings,
    pipeline: AnswerPipeline,
    out: Path,
    *,
    qa_file: Path | None,
    teacher: str | None,
    passages: list[str],
    count: int,
    seconds: float,
    seed: int,
) -> ExampleSet:
    """The examples, from the user's file or distilled; saved in OUT and reused by a later run."""
    saved = out / EXAMPLES_FILE
    if saved.is_file():
        examples = [Labeled.from_record(r) for r in read_jsonl(saved)]
        kinds = Counter("declines" if x.example.reply == NOT_IN_DOCUMENTS else "answers" for x in examples)
        return ExampleSet(examples, kinds)
    if qa_file is not None:
        found = from_records(pipeline, read_jsonl(qa_file))
    else:  # named explicitly, so a missing teacher is an error, never a silent fallback
        teaching = build_generator(settings, teacher or settings.generator)
        teaching.warm_up()
        found = distill(pipeline, teaching, passages, count, seconds, seed)
    write_jsonl(saved, [labeled.as_record() for labeled in found.examples])
    return found


def gather_cloze(
    pipeline: AnswerPipeline, out: Path, passages: list[str], count: int, seconds: float, seed: int
) -> ExampleSet:
    """Cloze examples (``app.training.cloze``), saved in OUT and reused by a later run."""
    saved = out / CLOZE_FILE
    if saved.is_file():
        return ExampleSet([Labeled.from_record(r) for r in read_jsonl(saved)])
    found = cloze_examples(pipeline, passages, count, seconds, seed) if count else ExampleSet()
    write_jsonl(saved, [labeled.as_record() for labeled in found.examples])
    return found


def weighted(asked: list[Labeled], cloze: list[Labeled]) -> list[Labeled]:
    """The examples to draw from: asked ones repeated so they make about ``ASKED_SHARE`` of the
    draws (they are few, and they are the questions people ask), cloze ones once."""
    if not asked or not cloze:
        return asked + cloze
    repeats = max(1, round(ASKED_SHARE * len(cloze) / ((1 - ASKED_SHARE) * len(asked))))
    return asked * repeats + cloze


def finetune(
    model: GPT,
    tokenizer: CorpusTokenizer,
    examples: list[Labeled],
    seconds: float,
    checkpoint_dir: Path,
    progress: Callable[[Progress], None] | None = None,
    seed: int = 0,
    tokens_per_s: float | None = None,
) -> int:
    """Reply-only training on ``examples`` within ``seconds`` (at most a few epochs); returns steps.
    With the training speed (``tokens_per_s``, from pretraining), the steps are as many as fit into
    ``seconds``, so the learning rate has decayed when the time is up instead of being cut off."""
    encoded = [e for e in (encode(tokenizer, x.example, model.config.context) for x in examples) if e]
    if not encoded:
        return 0
    steps = max(1, MAX_EPOCHS * len(encoded) // SFT_BATCH)
    if tokens_per_s:
        mean_tokens = sum(len(e.ids) for e in encoded) / len(encoded)
        steps = max(1, min(steps, int(0.8 * seconds * tokens_per_s / (SFT_BATCH * mean_tokens))))
    config = TrainConfig(
        steps=steps, learning_rate=1e-3, min_learning_rate=1e-4, warmup_steps=min(20, steps), eval_every=steps
    )
    trainer = Trainer(
        model,
        config,
        sampler(encoded, SFT_BATCH, tokenizer.end_of_text),
        checkpoint_dir=checkpoint_dir,
        seed=seed,
    )
    return trainer.run(progress, max_seconds=seconds).step


def evaluate(pipeline: AnswerPipeline, held_out: list[Labeled]) -> QAEvaluation:
    result = QAEvaluation(questions=len(held_out))
    f1s, passes, declines = [], [], []
    for labeled in held_out:
        answer = pipeline.ask(labeled.question)
        if labeled.example.reply == NOT_IN_DOCUMENTS:
            declines.append(answer.abstained)
            continue
        f1s.append(0.0 if answer.abstained else token_f1(strip_citations(answer.answer), labeled.gold))
        if not answer.abstained:
            passes.append(all(sentence.supported for sentence in answer.sentences))
    result.answer_f1 = sum(f1s) / len(f1s) if f1s else 0.0
    result.citation_pass = sum(passes) / len(passes) if passes else 0.0
    result.abstain_right = sum(declines) / len(declines) if declines else 0.0
    return result


def split_held_out(examples: list[Labeled], seed: int) -> tuple[list[Labeled], list[Labeled]]:
    """One in ten examples (at least one once there are five) is kept for the evaluation."""
    shuffled = list(examples)
    random.Random(seed).shuffle(shuffled)
    count = len(shuffled) // 10 or (1 if len(shuffled) >= 5 else 0)
    return shuffled[count:], shuffled[:count]


def run_stage(
    settings: Settings,
    kb: KnowledgeBase,
    model: GPT,
    tokenizer: CorpusTokenizer,
    model_dir: Path,
    out: Path,
    *,
    collections: tuple[str, ...],
    qa_file: Path | None,
    teacher: str | None,
    passages: list[str],
    distill_count: int,
    distill_seconds: float,
    finetune_seconds: float,
    cloze_count: int = 0,
    tokens_per_s: float | None = None,
    progress: Callable[[Progress], None] | None = None,
    seed: int = 0,
    restart: bool = False,
) -> FinetuneReport:
    """Examples, fine-tuning, the saved model, and the evaluation; the model is saved to ``model_dir``.
    ``restart`` discards an earlier fine-tuning checkpoint (the pretrained weights moved on since)."""
    started = time.monotonic()
    if restart:
        shutil.rmtree(out / "checkpoint-sft", ignore_errors=True)
    pipeline = student_pipeline(settings, kb, model_dir, collections)
    # With the user's examples there is no teacher: the examples' time is all cloze time.
    cloze_seconds = 0.0 if not cloze_count else distill_seconds * (1.0 if qa_file else CLOZE_TIME_SHARE)
    cloze = gather_cloze(pipeline, out, passages, cloze_count, cloze_seconds, seed)
    found = gather(
        settings, pipeline, out, qa_file=qa_file, teacher=teacher, passages=passages,
        count=distill_count, seconds=distill_seconds - cloze_seconds, seed=seed,
    )  # fmt: skip
    train, held_out = split_held_out(found.examples, seed)
    report = FinetuneReport(len(found.examples), len(cloze.examples), len(held_out), dict(found.counts))
    if train or cloze.examples:
        report.steps = finetune(
            model, tokenizer, weighted(train, cloze.examples), finetune_seconds,
            out / "checkpoint-sft", progress, seed, tokens_per_s,
        )  # fmt: skip
        model.save(model_dir)
        tokenizer.save(model_dir)
    if held_out:
        report.evaluation = evaluate(student_pipeline(settings, kb, model_dir, collections), held_out)
    (out / "finetune.json").write_text(
        json.dumps(
            {"seconds": round(time.monotonic() - started, 1), **report.__dict__},
            default=lambda o: o.__dict__,
            indent=2,
        )
        + "\n"
    )
    return report
