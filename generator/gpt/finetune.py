"""Supervised fine-tuning data: prompts exactly as the answer pipeline builds them, replies learned.

Each example is a prompt (the pipeline's messages) and the reply a good answer gives (a few words
and a citation, or "The documents do not say."). Only the reply's tokens are learned; the prompt
tokens are context. Examples are encoded by the same function the backend uses at answer time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from generator.base import Message
from generator.gpt.backend import prompt_messages
from generator.gpt.tokenizer import CorpusTokenizer

IGNORE = -100


@dataclass(frozen=True, slots=True)
class QAExample:
    messages: tuple[Message, ...]  # the prompt, as ``generator.prompt.build_messages`` makes it
    reply: str


@dataclass(frozen=True, slots=True)
class Encoded:
    ids: list[int]
    reply_start: int


def encode(tokenizer: CorpusTokenizer, example: QAExample, context: int) -> Encoded | None:
    """Token ids of prompt + reply; None when it does not fit the model's window."""
    ids, start = tokenizer.chat_ids(prompt_messages(example.messages), reply=example.reply)
    return Encoded(ids, start) if len(ids) <= context + 1 else None


def batch(examples: Sequence[Encoded], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets (B, T), padded to the longest example; only reply tokens have targets."""
    width = max(len(e.ids) for e in examples) - 1
    inputs = torch.full((len(examples), width), pad, dtype=torch.long)  # (B, T)
    targets = torch.full((len(examples), width), IGNORE, dtype=torch.long)  # (B, T)
    for row, example in enumerate(examples):
        ids = torch.tensor(example.ids, dtype=torch.long)
        inputs[row, : len(ids) - 1] = ids[:-1]
        # target t is token t+1; the reply's first token is predicted at position reply_start-1
        targets[row, example.reply_start - 1 : len(ids) - 1] = ids[example.reply_start :]
    return inputs, targets


def sampler(
    encoded: Sequence[Encoded], size: int, pad: int
) -> Callable[[torch.Generator], tuple[torch.Tensor, torch.Tensor]]:
    """A ``next_batch`` for the trainer: ``size`` random examples per step."""
    if not encoded:
        raise ValueError("no fine-tuning example fits the model's window")

    def next_batch(rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        picks = torch.randint(0, len(encoded), (size,), generator=rng).tolist()
        return batch([encoded[i] for i in picks], pad)

    return next_batch


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Question-answer records a user supplies: one JSON object per line."""
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from None
    return records


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
