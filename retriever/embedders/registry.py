"""Embedders by name: a fixed table of the built-in ones, plus what callers register.

The table names each built-in as ``"module:attribute"``, imported only when that embedder is asked
for, so a registry lookup loads no model code and no module imports this one back. A name not in
the table may be ``package.module:factory`` (a factory that takes no arguments).
"""

from __future__ import annotations

import pkgutil
from collections.abc import Callable

from retriever.embedders.base import Embedder

EmbedderFactory = Callable[[], Embedder]

# One model: fp32 on ONNX Runtime (the default) or torch, the same vectors and one name in the
# index; int8 on ONNX Runtime, other vectors and its own name, by choice (faster, but 0.019
# nDCG@10 below fp32 on one set: bench/results/retrieval-embedders.md).
BUILTIN_EMBEDDERS: dict[str, str] = {
    "minilm": "retriever.embedders.onnx_minilm:OnnxMiniLMEmbedder",
    "minilm-onnx": "retriever.embedders.onnx_minilm:OnnxMiniLMEmbedder",
    "minilm-torch": "retriever.embedders.minilm:MiniLMEmbedder",
    "minilm-int8": "retriever.embedders.onnx_minilm:OnnxMiniLMInt8Embedder",
}

_registered: dict[str, EmbedderFactory] = {}


class UnknownEmbedderError(ValueError):
    pass


def register_embedder(name: str, factory: EmbedderFactory) -> None:
    """Add an embedder by name (a plugin, a test's fake); it wins over a built-in of that name."""
    _registered[name] = factory


def available_embedders() -> list[str]:
    return sorted({*BUILTIN_EMBEDDERS, *_registered})


def create_embedder(name: str) -> Embedder:
    """Look ``name`` up among the registered and built-in embedders, or import it when written as
    ``package.module:factory``; nothing heavy is loaded yet."""
    if name in _registered:
        return _registered[name]()
    target = BUILTIN_EMBEDDERS.get(name) or (name if ":" in name else None)
    if target is None:
        raise UnknownEmbedderError(
            f"unknown embedder {name!r}; available: {', '.join(available_embedders())} "
            "(or give package.module:factory)"
        )
    try:
        factory = pkgutil.resolve_name(target)
    except (ImportError, AttributeError, ValueError) as exc:
        raise UnknownEmbedderError(f"cannot import embedder {name!r}: {exc}") from exc
    return factory()
