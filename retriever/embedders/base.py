"""The embedder protocol and its registry.

Embedders are cheap to construct; the model loads in ``warm_up`` (or on first use), so the CLI can
answer ``--help`` or ``status`` without paying for torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
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


EmbedderFactory = Callable[[], Embedder]

_REGISTRY: dict[str, EmbedderFactory] = {}


class UnknownEmbedderError(ValueError):
    pass


def register_embedder(name: str, factory: EmbedderFactory) -> None:
    _REGISTRY[name] = factory


def available_embedders() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def create_embedder(name: str) -> Embedder:
    """Look ``name`` up in the registry, or import it when written as ``package.module:factory``."""
    _load_builtins()
    if name in _REGISTRY:
        return _REGISTRY[name]()
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise UnknownEmbedderError(f"cannot import embedder {name!r}: {exc}") from exc
        return factory()
    raise UnknownEmbedderError(
        f"unknown embedder {name!r}; available: {', '.join(available_embedders())} "
        "(or give package.module:factory)"
    )


def _load_builtins() -> None:
    if "minilm-torch" not in _REGISTRY:
        from retriever.embedders.minilm import MiniLMEmbedder
        from retriever.embedders.onnx_minilm import OnnxMiniLMEmbedder, OnnxMiniLMInt8Embedder

        # One model: fp32 on ONNX Runtime (the default) or torch, the same vectors and one name
        # in the index; int8 on ONNX Runtime, other vectors and its own name, by choice (faster,
        # but 0.019 nDCG@10 below fp32 on one set: bench/results/retrieval-embedders.md).
        register_embedder("minilm", OnnxMiniLMEmbedder)
        register_embedder("minilm-onnx", OnnxMiniLMEmbedder)
        register_embedder("minilm-torch", MiniLMEmbedder)
        register_embedder("minilm-int8", OnnxMiniLMInt8Embedder)  # other vectors: its own name


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
