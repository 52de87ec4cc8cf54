"""The training loop shared by pretraining and fine-tuning: AdamW, warm-up then cosine decay, gradient
clipping, periodic validation, and checkpoints that a later run resumes from exactly.

A checkpoint holds the model, the optimizer, the step, the loss history and the sampling generator's
state, written to a temporary folder and renamed into place, so a run killed at any moment leaves
either the previous checkpoint or the new one, never a mix.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from generator.gpt.model import GPT

Batch = tuple[torch.Tensor, torch.Tensor]  # inputs (B, T), targets (B, T) with -100 = not learned
STATE_FILE = "trainer.json"
OPTIMIZER_FILE = "optimizer.pt"
SAMPLER_FILE = "sampler.pt"


@dataclass(frozen=True)
class TrainConfig:
    steps: int
    learning_rate: float = 3e-3
    min_learning_rate: float = 3e-4
    warmup_steps: int = 50
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_every: int = 100
    checkpoint_every_s: float = 60.0


@dataclass
class TrainState:
    step: int = 0
    tokens: int = 0
    seconds: float = 0.0  # training time over all runs of this checkpoint
    history: list[dict[str, float]] = field(default_factory=list)  # {step, train_loss, val_loss}


@dataclass(frozen=True, slots=True)
class Progress:
    step: int
    steps: int
    loss: float
    tokens_per_s: float
    eta_s: float
    val_loss: float | None = None


def learning_rate(config: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to the minimum at the last step."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    span = max(1, config.steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    cosine = 0.5 * (1 + math.cos(math.pi * progress))
    return config.min_learning_rate + cosine * (config.learning_rate - config.min_learning_rate)


def make_optimizer(model: GPT, config: TrainConfig) -> torch.optim.AdamW:
    """Weight decay on matrices only (not on biases, norms or embeddings' positions)."""
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decayed = [p for n, p in trainable if p.ndim >= 2 and not n.startswith("wpe")]
    plain = [p for n, p in trainable if not (p.ndim >= 2 and not n.startswith("wpe"))]
    groups = [
        {"params": decayed, "weight_decay": config.weight_decay},
        {"params": plain, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.learning_rate, betas=(0.9, 0.95))


class Trainer:
    def __init__(
        self,
        model: GPT,
        config: TrainConfig,
        next_batch: Callable[[torch.Generator], Batch],
        validation_loss: Callable[[GPT], float] | None = None,
        checkpoint_dir: Path | None = None,
        seed: int = 0,
    ) -> None:
        self.model = model
        self.config = config
        self.next_batch = next_batch
        self.validation_loss = validation_loss
        self.checkpoint_dir = checkpoint_dir
        self.optimizer = make_optimizer(model, config)
        self.sampler = torch.Generator().manual_seed(seed)
        self.state = TrainState()
        self._resumed_step = 0  # the step this run started from (for the ETA)
        if checkpoint_dir is not None and (checkpoint_dir / STATE_FILE).is_file():
            self._resume(checkpoint_dir)

    def run(
        self,
        progress: Callable[[Progress], None] | None = None,
        until: int | None = None,
        max_seconds: float | None = None,
    ) -> TrainState:
        """Train up to ``config.steps``, or only up to step ``until``, or until ``max_seconds`` have
        passed (the schedule still spans all steps, so a later run resumes seamlessly); returns
        the state with its history."""
        model, config = self.model, self.config
        model.train()
        saved_at = began = time.monotonic()
        tokens_at_start = self.state.tokens
        last = min(config.steps, until) if until is not None else config.steps
        while self.state.step < last:
            if max_seconds is not None and time.monotonic() - began >= max_seconds:
                break
            for group in self.optimizer.param_groups:
                group["lr"] = learning_rate(config, self.state.step)
            inputs, targets = self.next_batch(self.sampler)
            _, loss = model(inputs, targets=targets)
            assert loss is not None
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            self.optimizer.step()
            self.state.step += 1
            self.state.tokens += int((targets != -100).sum())
            record = {"step": self.state.step, "train_loss": loss.item()}
            if self.validation_loss is not None and (
                self.state.step % config.eval_every == 0 or self.state.step == config.steps
            ):
                record["val_loss"] = self.validation_loss(model)
                model.train()
            self.state.history.append(record)
            if progress is not None:
                elapsed = time.monotonic() - began
                rate = (self.state.tokens - tokens_at_start) / elapsed if elapsed > 0 else 0.0
                steps_left = config.steps - self.state.step
                eta = elapsed / max(1, self.state.step - self._resumed_step) * steps_left
                progress(
                    Progress(
                        self.state.step, config.steps, record["train_loss"], rate, eta, record.get("val_loss")
                    )
                )
            if self.checkpoint_dir is not None and time.monotonic() - saved_at >= config.checkpoint_every_s:
                self.state.seconds += time.monotonic() - saved_at
                saved_at = time.monotonic()
                self.save_checkpoint(self.checkpoint_dir)
        self.state.seconds += time.monotonic() - saved_at
        if self.checkpoint_dir is not None:
            self.save_checkpoint(self.checkpoint_dir)
        model.eval()
        return self.state

    def save_checkpoint(self, directory: Path) -> None:
        temp = directory.with_name(directory.name + ".part")
        shutil.rmtree(temp, ignore_errors=True)
        self.model.save(temp)
        torch.save(self.optimizer.state_dict(), temp / OPTIMIZER_FILE)
        torch.save(self.sampler.get_state(), temp / SAMPLER_FILE)
        (temp / STATE_FILE).write_text(json.dumps(asdict(self.state)) + "\n")
        old = directory.with_name(directory.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if directory.exists():
            directory.rename(old)
        temp.rename(directory)
        shutil.rmtree(old, ignore_errors=True)

    def _resume(self, directory: Path) -> None:
        loaded = GPT.load(directory)
        if loaded.config != self.model.config:
            raise ValueError(f"the checkpoint in {directory} is for another model size ({loaded.config})")
        self.model.load_state_dict(loaded.state_dict())
        self.optimizer.load_state_dict(torch.load(directory / OPTIMIZER_FILE, weights_only=True))
        self.sampler.set_state(torch.load(directory / SAMPLER_FILE, weights_only=True))
        self.state = TrainState(**json.loads((directory / STATE_FILE).read_text()))
        self._resumed_step = self.state.step


@torch.inference_mode()
def mean_loss(model: GPT, batches: list[Batch]) -> float:
    """Mean cross-entropy over fixed batches (deterministic: a validation loss to compare runs by)."""
    model.eval()
    total = weight = 0.0
    for inputs, targets in batches:
        _, loss = model(inputs, targets=targets)
        count = float((targets != -100).sum())
        total, weight = total + loss.item() * count, weight + count
    return total / weight if weight else float("nan")
