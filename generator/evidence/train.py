"""Fine-tuning the evidence model on (question, positive, negatives) groups.

The loss is listwise: each question's positive and its negatives are scored together and a
softmax over them is pushed towards the positive. That is the task at answer time (which of these
sentences holds the answer?), and it needs no calibrated probabilities. Training stops at a time
budget or a step cap, whichever comes first, because on a shared 2-core CPU the budget is what a
user can give; the report says how far it got.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from generator.evidence.model import EvidenceScorer


@dataclass(frozen=True)
class EvidencePair:
    """One training group: a question, the text that answers it, texts that do not."""

    question: str
    positive: str
    negatives: tuple[str, ...]


@dataclass(frozen=True)
class TrainOptions:
    seconds: float = 600.0
    max_steps: int = 10_000
    questions_per_step: int = 4
    negatives: int = 7  # per question; fewer when a group has fewer
    learning_rate: float = 3e-5
    head_learning_rate: float = 1e-3  # the head starts at random: it may move faster
    warmup_steps: int = 20
    weight_decay: float = 0.01
    seed: int = 0


@dataclass
class TrainReport:
    steps: int = 0
    seconds: float = 0.0
    groups_seen: int = 0
    first_loss: float | None = None  # mean of the first tenth of the steps
    last_loss: float | None = None  # mean of the last tenth
    curve: list[float] = field(default_factory=list)  # mean loss of each tenth, in order
    stopped_by: str = ""  # "time", "steps" or "no data"


Progress = Callable[[int, float, float], None]  # (step, seconds so far, loss of this step)


def train(
    scorer: EvidenceScorer,
    pairs: Sequence[EvidencePair],
    options: TrainOptions | None = None,
    progress: Progress | None = None,
) -> TrainReport:
    """Train ``scorer`` in place; deterministic for a seed (the global torch RNG is restored after)."""
    options = options or TrainOptions()
    usable = [pair for pair in pairs if pair.negatives]
    report = TrainReport()
    if not usable:
        report.stopped_by = "no data"
        return report
    module = scorer.module
    optimizer = _optimizer(module, options)
    rng = random.Random(options.seed)
    losses: list[float] = []
    started = time.monotonic()
    order: list[int] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(options.seed)  # dropout masks
        module.train()
        try:
            while True:
                if report.steps >= options.max_steps:
                    report.stopped_by = "steps"
                    break
                if time.monotonic() - started >= options.seconds:
                    report.stopped_by = "time"
                    break
                batch = []
                for _ in range(options.questions_per_step):
                    if not order:
                        order = list(range(len(usable)))
                        rng.shuffle(order)
                    batch.append(usable[order.pop()])
                _set_learning_rate(optimizer, report.steps, options)
                loss = _listwise_loss(scorer, batch, options.negatives, rng)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(module.parameters(), 1.0)
                optimizer.step()
                report.steps += 1
                report.groups_seen += len(batch)
                losses.append(float(loss.detach()))
                if progress is not None:
                    progress(report.steps, time.monotonic() - started, losses[-1])
        finally:
            module.eval()
    report.seconds = time.monotonic() - started
    _summarise(report, losses)
    return report


def _listwise_loss(
    scorer: EvidenceScorer, batch: Sequence[EvidencePair], negatives: int, rng: random.Random
) -> torch.Tensor:
    """Cross-entropy of the positive among its group's texts, averaged over the groups."""
    questions: list[str] = []
    texts: list[str] = []
    sizes: list[int] = []
    for pair in batch:
        chosen = rng.sample(list(pair.negatives), min(negatives, len(pair.negatives)))
        group = [pair.positive, *chosen]
        questions.extend([pair.question] * len(group))
        texts.extend(group)
        sizes.append(len(group))
    scores = scorer.logits(questions, texts)
    total = scores.new_zeros(())
    for group_scores in torch.split(scores, sizes):
        total = total - torch.log_softmax(group_scores, dim=0)[0]  # the positive is first
    return total / len(sizes)


def _optimizer(module: nn.Module, options: TrainOptions) -> torch.optim.Optimizer:
    head = [p for name, p in module.named_parameters() if name.startswith("head.")]
    body = [p for name, p in module.named_parameters() if not name.startswith("head.")]
    return torch.optim.AdamW(
        [
            {"params": body, "lr": options.learning_rate, "base_lr": options.learning_rate},
            {"params": head, "lr": options.head_learning_rate, "base_lr": options.head_learning_rate},
        ],
        weight_decay=options.weight_decay,
    )


def _set_learning_rate(optimizer: torch.optim.Optimizer, step: int, options: TrainOptions) -> None:
    """Linear warm-up, then constant: with a time budget the total number of steps is unknown."""
    scale = min(1.0, (step + 1) / max(1, options.warmup_steps))
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * scale


def _summarise(report: TrainReport, losses: list[float]) -> None:
    if not losses:
        return
    tenth = max(1, len(losses) // 10)
    report.curve = [
        sum(chunk) / len(chunk)
        for start in range(0, len(losses), tenth)
        if (chunk := losses[start : start + tenth])
    ][:10]
    report.first_loss = sum(losses[:tenth]) / len(losses[:tenth])
    report.last_loss = sum(losses[-tenth:]) / len(losses[-tenth:])
