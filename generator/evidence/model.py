"""The cross-encoder: a BERT encoder reading "question [SEP] text" and a linear head on its pooled
output, giving one relevance score per text.

A cross-encoder reads the question and the sentence together, so it can see that "port" in the
question is answered by "8501" next to "port" in the sentence, which a bi-encoder's two separate
vectors blur. The constructor is cheap (settings only); ``warm_up`` loads the weights, so a
pipeline can be built without paying for a model it may never use.

A folder is either a saved checkpoint (``evidence.json`` + ``config.json`` + tokenizer +
``evidence.safetensors``, fp16 by default) or a plain encoder folder (``config.json``, weights and
tokenizer, as the packaged MiniLM is): then the head starts at random, seeded, so the untrained
scores are reproducible.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

CHECKPOINT_FILE = "evidence.json"
WEIGHTS_FILE = "evidence.safetensors"
Pooling = Literal["cls", "mean"]


@dataclass(frozen=True)
class EvidenceSettings:
    """What a checkpoint must remember to score the way it was trained."""

    pooling: Pooling = "mean"
    max_length: int = 128
    seed: int = 0  # for the head's initial weights when starting from a plain encoder


def is_checkpoint(path: Path) -> bool:
    return (Path(path) / CHECKPOINT_FILE).is_file()


class EvidenceScorer:
    """Scores (question, text) pairs; higher means the text more likely holds the answer."""

    def __init__(
        self,
        model_dir: Path,
        *,
        pooling: Pooling = "mean",
        max_length: int = 128,
        seed: int = 0,
        batch_size: int = 32,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.batch_size = batch_size
        self.settings = EvidenceSettings(pooling, max_length, seed)
        if is_checkpoint(self.model_dir):  # a checkpoint keeps the settings it was trained with
            saved = json.loads((self.model_dir / CHECKPOINT_FILE).read_text())
            self.settings = EvidenceSettings(**saved["settings"])
        self._module: CrossEncoder | None = None
        self._tokenizer: Any = None  # a Hugging Face tokenizer, once loaded
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._module is None:
                self._tokenizer, self._module = _load(self.model_dir, self.settings)

    @property
    def module(self) -> nn.Module:
        """The torch module (encoder + head), for training."""
        self.warm_up()
        assert self._module is not None
        return self._module

    def encode(self, questions: Sequence[str], texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Token tensors for the pairs; a long text is cut, the question is kept whole when it fits."""
        self.warm_up()
        tokenizer = self._tokenizer
        return tokenizer(
            list(questions),
            list(texts),
            truncation="longest_first",
            max_length=self.settings.max_length,
            padding=True,
            return_tensors="pt",
        )

    def logits(self, questions: Sequence[str], texts: Sequence[str]) -> torch.Tensor:
        """Raw scores with gradients (the training loop calls this in train mode)."""
        return self.module(**self.encode(questions, texts))

    def score(self, question: str, texts: Sequence[str]) -> list[float]:
        """One score per text, in order; no gradients, dropout off."""
        if not texts:
            return []
        module = self.module
        was_training = module.training
        module.eval()
        scores: list[float] = []
        try:
            with torch.inference_mode():
                for start in range(0, len(texts), self.batch_size):
                    batch = list(texts[start : start + self.batch_size])
                    scores.extend(self.logits([question] * len(batch), batch).float().tolist())
        finally:
            module.train(was_training)
        return scores

    def save(self, out: Path, *, half: bool = True) -> None:
        """A checkpoint folder that ``EvidenceScorer(out)`` loads; ``half`` stores fp16 (half the
        size; scores move by rounding only, well under the gaps that decide a ranking)."""
        from safetensors.torch import save_file

        module = self.module
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        module.encoder.config.save_pretrained(out)
        self._tokenizer.save_pretrained(out)
        state = {
            name: (tensor.half() if half and tensor.is_floating_point() else tensor).contiguous()
            for name, tensor in module.state_dict().items()
        }
        save_file(state, str(out / WEIGHTS_FILE))
        record = {"settings": asdict(self.settings), "dtype": "float16" if half else "float32"}
        (out / CHECKPOINT_FILE).write_text(json.dumps(record, indent=2) + "\n")


class CrossEncoder(nn.Module):
    """Encoder + dropout + one linear unit on the pooled output ([CLS] or the mean of the tokens)."""

    def __init__(self, encoder: nn.Module, pooling: Pooling, seed: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling
        self.dropout = nn.Dropout(getattr(encoder.config, "hidden_dropout_prob", 0.1))
        self.head = nn.Linear(encoder.config.hidden_size, 1)
        with torch.no_grad():  # a seeded start that leaves the global RNG alone
            self.head.weight.normal_(0.0, 0.02, generator=torch.Generator().manual_seed(seed))
            self.head.bias.zero_()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        out = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        if self.pooling == "cls":
            pooled = out[:, 0]
        else:
            mask = attention_mask.unsqueeze(-1).to(out.dtype)
            pooled = (out * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.head(self.dropout(pooled)).squeeze(-1)


def _load(model_dir: Path, settings: EvidenceSettings) -> tuple[object, CrossEncoder]:
    """Tokenizer and module from a checkpoint, or from a plain encoder folder with a fresh head."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    with torch.random.fork_rng(devices=[]):  # weight init draws from the global RNG: not ours to move
        module = _module(model_dir, settings)
    module.float().eval()
    return tokenizer, module


def _module(model_dir: Path, settings: EvidenceSettings) -> CrossEncoder:
    from transformers import AutoConfig, AutoModel

    if is_checkpoint(model_dir):
        from safetensors.torch import load_file

        config = AutoConfig.from_pretrained(str(model_dir))
        module = CrossEncoder(
            AutoModel.from_config(config, add_pooling_layer=False), settings.pooling, settings.seed
        )
        saved = load_file(str(model_dir / WEIGHTS_FILE))
        module.load_state_dict({k: t.float() if t.is_floating_point() else t for k, t in saved.items()})
    else:
        encoder = AutoModel.from_pretrained(str(model_dir), add_pooling_layer=False)
        module = CrossEncoder(encoder, settings.pooling, settings.seed)
    return module
