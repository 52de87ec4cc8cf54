"""``citewise train``: Citewise's own model, pretrained on the chunks of chosen collections, then
fine-tuned on question-answer examples (``app.training.finetune``).

The run lives in one output folder and can be stopped and started again: the prepared data
(tokenizer and token files), the plan (model size and steps) and the checkpoint are reused, so a
second run continues where the first one stopped. The finished model is written to ``OUT/model``
as ``config.json``, ``model.safetensors`` and ``tokenizer.json``: ``--model gpt:OUT/model``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from app.settings import Settings
from app.training.finetune import FinetuneReport, run_stage
from generator.gpt.dataset import Passage, TokenFile, deduplicate, split_by_document, write_tokens
from generator.gpt.lora import add_lora, merge_lora
from generator.gpt.model import GPT, GPTConfig
from generator.gpt.sizing import MAX_EPOCHS, Plan, describe, measure_flops, plan
from generator.gpt.tokenizer import CorpusTokenizer, train_tokenizer
from generator.gpt.train import Progress, TrainConfig, Trainer, mean_loss
from retriever import catalog
from retriever.knowledge_base import KnowledgeBase

BATCH_SIZE = 16
PLAN_FILE = "plan.json"


@dataclass(frozen=True)
class TrainOptions:
    collections: tuple[str, ...]
    budget_s: float
    out: Path
    vocab_size: int = 4096
    context: int = 512
    validation_share: float = 0.1
    seed: int = 0
    finetune: bool = True  # the second stage: question-answer examples in the pipeline's format
    qa_file: Path | None = None  # the user's examples; without it the teacher distils some
    teacher: str | None = None  # the distilling model; None = the configured answer model
    distill: int = 200  # most examples to distil
    cloze: int = 20000  # most cloze examples made from the passages (app.training.cloze); 0 = none
    base: Path | None = None  # re-tune this trained model with LoRA adapters instead of starting anew
    lora_rank: int = 8

    @property
    def shares(self) -> tuple[float, float, float]:
        """Shares of the budget for pretraining, making examples (cloze and distilled) and fine-tuning.
        Fine-tuning gets a large share: it is where the model learns to find and copy answers."""
        if not self.finetune:
            return 1.0, 0.0, 0.0
        if self.qa_file:
            return (0.6, 0.05, 0.35) if self.cloze else (0.8, 0.0, 0.2)
        return 0.4, 0.3, 0.3


@dataclass
class TrainReport:
    model_dir: Path
    plan: str
    documents: int
    passages: int
    train_tokens: int
    validation_tokens: int
    steps_done: int
    steps_planned: int
    seconds: float
    validation_loss: float
    history: list[dict[str, float]] = field(default_factory=list)
    finetune: FinetuneReport | None = None

    @property
    def perplexity(self) -> float:
        return math.exp(self.validation_loss) if math.isfinite(self.validation_loss) else float("nan")


def corpus_passages(kb: KnowledgeBase, collections: tuple[str, ...]) -> list[Passage]:
    """The stored text of every distinct chunk in these collections, grouped by document."""
    return [Passage(str(chunk.document_id), chunk.text) for chunk in catalog.stored_chunks(kb, collections)]


@dataclass(frozen=True)
class Prepared:
    tokenizer: CorpusTokenizer
    train: TokenFile
    validation: TokenFile
    documents: int
    passages: int


def prepare(kb: KnowledgeBase, options: TrainOptions) -> Prepared:
    """Tokenizer and token files in ``OUT/data``; reused when a previous run made them."""
    data = options.out / "data"
    stats_file = data / "stats.json"
    if stats_file.is_file():
        stats = json.loads(stats_file.read_text())
        return Prepared(
            CorpusTokenizer.load(data),
            TokenFile(data / "train.bin"),
            TokenFile(data / "validation.bin"),
            stats["documents"],
            stats["passages"],
        )
    passages = deduplicate(corpus_passages(kb, options.collections))
    if not passages:
        raise ValueError("the chosen collections hold no text to train on; ingest documents first")
    train, validation = split_by_document(passages, options.validation_share, options.seed)
    if not validation:
        raise ValueError("training needs at least two documents (one is held out for validation)")
    if options.base is not None:  # a re-tuned model keeps its vocabulary
        tokenizer = CorpusTokenizer.load(options.base)
    else:
        tokenizer = train_tokenizer((p.text for p in train), options.vocab_size)
    tokenizer.save(data)
    write_tokens(data / "train.bin", tokenizer.encode_batch([p.text for p in train]), tokenizer.end_of_text)
    write_tokens(
        data / "validation.bin", tokenizer.encode_batch([p.text for p in validation]), tokenizer.end_of_text
    )
    documents = len({p.document for p in passages})
    stats_file.write_text(json.dumps({"documents": documents, "passages": len(passages)}) + "\n")
    return Prepared(
        tokenizer, TokenFile(data / "train.bin"), TokenFile(data / "validation.bin"), documents, len(passages)
    )


def load_or_make_plan(options: TrainOptions, vocab_size: int, train_tokens: int) -> tuple[Plan, int]:
    """(plan, steps): sized once from the budget and this machine's measured speed, then kept."""
    path = options.out / PLAN_FILE
    if path.is_file():
        saved = json.loads(path.read_text())
        return Plan(GPTConfig(**saved["config"]), saved["tokens"], saved["flops_per_s"]), saved["steps"]
    budget = options.budget_s * options.shares[0]
    if options.base is not None:  # the size is the base model's; the budget and corpus set the tokens
        config = GPT.load(options.base).config
        flops = measure_flops(vocab_size, config.context)
        tokens = int(min(flops * budget / (6 * config.parameters), MAX_EPOCHS * train_tokens))
        chosen = Plan(config, tokens, flops)
    else:
        context = max(16, min(options.context, train_tokens - 2))  # a tiny corpus gets a shorter window
        chosen = plan(budget, measure_flops(vocab_size, context), vocab_size, context, train_tokens)
    context = chosen.config.context
    steps = max(1, chosen.tokens // (BATCH_SIZE * context))
    record = {
        "config": asdict(chosen.config),
        "tokens": chosen.tokens,
        "flops_per_s": chosen.flops_per_s,
        "steps": steps,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    return chosen, steps


def run_training(
    settings: Settings,
    kb: KnowledgeBase,
    options: TrainOptions,
    progress: Callable[[Progress], None] | None = None,
) -> TrainReport:
    started = time.monotonic()
    data = prepare(kb, options)
    chosen, steps = load_or_make_plan(options, data.tokenizer.vocab_size, len(data.train))
    config = chosen.config
    model = GPT(config)
    if options.base is not None:
        model = GPT.load(options.base)
        add_lora(model, options.lora_rank)  # only the adapters learn; merged before saving
    # Short held-out documents are scored in shorter windows rather than refused.
    held_out = list(data.validation.windows(min(config.context, len(data.validation) - 1), limit=32))
    if not held_out:
        raise ValueError("the held-out documents hold no text to score the model on")
    trainer = Trainer(
        model,
        TrainConfig(steps=steps, warmup_steps=min(100, max(1, steps // 10)), eval_every=max(1, steps // 20)),
        lambda rng: data.train.batch(BATCH_SIZE, config.context, rng),
        lambda m: mean_loss(m, held_out),
        # Adapter runs are short and not resumed: their layers differ from a saved model's.
        checkpoint_dir=None if options.base is not None else options.out / "checkpoint",
        seed=options.seed,
    )
    pretrain_share, distill_share, finetune_share = options.shares
    remaining = max(1.0, options.budget_s * pretrain_share - (time.monotonic() - started))
    step_before = trainer.state.step
    state = trainer.run(progress, max_seconds=remaining)
    # A data-limited plan finishes before its share is used: fine-tuning gets the time left over.
    unused = max(0.0, options.budget_s * pretrain_share - (time.monotonic() - started))
    if options.base is not None:
        merge_lora(model)
    model_dir = options.out / "model"
    model.save(model_dir)
    data.tokenizer.save(model_dir)
    validation_loss = mean_loss(model, held_out)
    finetuned = None
    if options.finetune:
        train_passages, _ = split_by_document(
            deduplicate(corpus_passages(kb, options.collections)), options.validation_share, options.seed
        )
        finetuned = run_stage(
            settings, kb, model, data.tokenizer, model_dir, options.out,
            collections=options.collections, qa_file=options.qa_file, teacher=options.teacher,
            passages=[p.text for p in train_passages], distill_count=options.distill,
            distill_seconds=options.budget_s * distill_share,
            finetune_seconds=options.budget_s * finetune_share + unused, cloze_count=options.cloze,
            tokens_per_s=state.tokens / state.seconds if state.seconds > 0 else None,
            progress=progress, seed=options.seed, restart=state.step > step_before,
        )  # fmt: skip
    return TrainReport(
        model_dir=model_dir,
        plan=describe(chosen),
        documents=data.documents,
        passages=data.passages,
        train_tokens=len(data.train),
        validation_tokens=len(data.validation),
        steps_done=state.step,
        steps_planned=steps,
        seconds=state.seconds,
        validation_loss=validation_loss,
        history=state.history,
        finetune=finetuned,
    )
