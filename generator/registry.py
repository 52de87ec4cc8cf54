"""Answer models by spec: a fixed table of the built-in backends, plus what callers register.

The table names each backend's factory as ``"module:attribute"``, imported only when that backend
is asked for: a lookup loads no model code, and no backend imports this module back. See
``generator.base`` for the spec forms (``llamacpp:qwen2.5-0.5b``, a .gguf path, ``module:factory``).
"""

from __future__ import annotations

import pkgutil
from collections.abc import Callable
from pathlib import Path

from generator.base import Generator, GeneratorNotFoundError

# A factory receives the model part of the spec ("" if none) and the caller's options (for example
# ``cache_dir`` for joined model files, ``context_window``, ``threads``); it ignores what it does not use.
GeneratorFactory = Callable[..., Generator]

BUILTIN_BACKENDS: dict[str, str] = {
    "extractive": "generator.extractive:ExtractiveGenerator",
    "llamacpp": "generator.llamacpp:LlamaCppGenerator",
    "transformers": "generator.transformers_backend:TransformersGenerator",
    "gpt": "generator.gpt.backend:GPTGenerator",
    "gpt-int8": "generator.gpt.backend:int8_generator",
}

_registered: dict[str, GeneratorFactory] = {}


def register_generator(backend: str, factory: GeneratorFactory) -> None:
    """Add a backend by name (a plugin, a test's fake); it wins over a built-in of that name."""
    _registered[backend] = factory


def registered_backends() -> list[str]:
    return sorted({*BUILTIN_BACKENDS, *_registered})


def create_generator(spec: str, **options: object) -> Generator:
    """Build a generator from a spec; nothing heavy is loaded yet."""
    spec = spec.strip()
    if not spec:
        raise GeneratorNotFoundError("no generator given")
    backend, _, model = spec.partition(":")
    factory = _backend(backend)
    if factory is not None:
        return factory(model, **options)
    from generator.models import BUILTIN_MODELS

    if spec in BUILTIN_MODELS or Path(spec).suffix == ".gguf":
        return _backend("llamacpp")(spec, **options)  # type: ignore[misc]
    if model and "." in backend:
        try:
            return pkgutil.resolve_name(spec)(**options)
        except ImportError as exc:
            raise GeneratorNotFoundError(f"cannot import generator module {backend!r}: {exc}") from exc
        except AttributeError:
            raise GeneratorNotFoundError(f"{backend!r} has no generator factory {model!r}") from None
    known = ", ".join([*registered_backends(), *sorted(BUILTIN_MODELS)])
    raise GeneratorNotFoundError(
        f"unknown generator {spec!r}; use one of: {known}, a .gguf path, or module:factory"
    )


def _backend(name: str) -> GeneratorFactory | None:
    if name in _registered:
        return _registered[name]
    target = BUILTIN_BACKENDS.get(name)
    return pkgutil.resolve_name(target) if target is not None else None
