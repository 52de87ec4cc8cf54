"""How big a model a compute budget buys, in the spirit of the compute-optimal scaling results:
train on about 20 tokens per parameter. Training costs about 6 floating-point operations per
parameter per token (forward and backward), so a budget of F operations per second for t seconds
trains N parameters on F*t / (6N) tokens; 20 tokens per parameter gives N = sqrt(F*t / 120).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from generator.gpt.model import GPT, GPTConfig

TOKENS_PER_PARAMETER = 20
# Passes over a small corpus worth making: repeated data keeps helping, less and less, up to about
# 16 passes (Muennighoff et al., 2023, "Scaling Data-Constrained Language Models"); a first
# benchmark run capped at 4 stopped with the validation loss still falling.
MAX_EPOCHS = 16.0
# (layers, width, heads), smallest first: widths stay multiples of 64 with 32-64 wide heads.
LADDER = (
    (2, 64, 2),
    (2, 128, 4),
    (4, 128, 4),
    (4, 192, 6),
    (4, 256, 8),
    (6, 256, 8),
    (6, 384, 8),
    (8, 384, 8),
    (8, 512, 8),
    (12, 512, 8),
    (12, 768, 12),
)


@dataclass(frozen=True, slots=True)
class Plan:
    config: GPTConfig
    tokens: int  # training tokens the budget affords at the measured speed
    flops_per_s: float

    @property
    def tokens_per_parameter(self) -> float:
        return self.tokens / self.config.parameters


def plan(
    budget_s: float,
    flops_per_s: float,
    vocab_size: int,
    context: int,
    corpus_tokens: int | None = None,
    max_epochs: float = MAX_EPOCHS,
) -> Plan:
    """The largest ladder model whose 20-tokens-per-parameter training fits the budget.

    A small corpus caps the tokens too: beyond ``max_epochs`` passes a model memorises instead of
    learning, so a data-limited run trains a smaller model and finishes before its budget.
    """
    if budget_s <= 0 or flops_per_s <= 0:
        raise ValueError("the budget and the measured speed must be positive")

    def usable_tokens(config: GPTConfig) -> int:
        affordable = flops_per_s * budget_s / (6 * config.parameters)
        return int(min(affordable, max_epochs * corpus_tokens) if corpus_tokens else affordable)

    chosen = None
    for layers, width, heads in LADDER:
        config = GPTConfig(vocab_size=vocab_size, context=context, n_layer=layers, n_head=heads, n_embd=width)
        if chosen is None or usable_tokens(config) >= TOKENS_PER_PARAMETER * config.parameters:
            chosen = config
    assert chosen is not None
    return Plan(chosen, usable_tokens(chosen), flops_per_s)


def measure_flops(vocab_size: int, context: int, batch: int = 8, steps: int = 3) -> float:
    """Training operations per second this machine sustains on a mid-sized model (6 * N * tokens/s)."""
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=vocab_size, context=context, n_layer=4, n_head=4, n_embd=256)
    model = GPT(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    idx = torch.randint(0, vocab_size, (batch, context))
    elapsed = 0.0
    for step in range(steps + 1):  # the first step warms up and is not timed
        started = time.perf_counter()
        _, loss = model(idx, targets=idx)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step:
            elapsed += time.perf_counter() - started
    return 6 * config.parameters * batch * context * steps / max(elapsed, 1e-9)


def describe(plan: Plan) -> str:
    c = plan.config
    return (
        f"{c.parameters / 1e6:.1f}M parameters ({c.n_layer} layers, width {c.n_embd}, {c.n_head} heads), "
        f"{plan.tokens / 1e6:.1f}M training tokens ({plan.tokens_per_parameter:.0f} per parameter) "
        f"at {plan.flops_per_s / 1e9:.1f} GFLOP/s"
    )


def budget_seconds(text: str) -> float:
    """'30m', '2h', '90s' or a number of seconds."""
    text = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        scale = units.get(text[-1:], 1)
        value = float(text[:-1] if text[-1:] in units else text) * scale
    except ValueError:
        raise ValueError(f"not a time budget: {text!r} (examples: 90s, 30m, 2h)") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"the budget must be a positive time, not {text!r}")
    return value
