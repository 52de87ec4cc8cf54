"""The embedder protocol (the registry that builds embedders by name is ``registry.py``).

Embedders are cheap to construct; the model loads in ``warm_up`` (or on first use), so the CLI can
answer ``--help`` or ``status`` without paying for torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    name: str
    dimension: int
    max_tokens: int

    def warm_up(self) -> None: ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """float32 array (len(texts), dimension), rows L2-normalised."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """float32 vector (dimension,), L2-normalised."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """``embed_query`` for many at once (batched: much faster per query on a CPU). Optional for
        a user's own embedder: callers fall back to ``embed_query``."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Token counts with the embedder's own tokenizer (no special tokens)."""
        ...


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
