"""Models that arrive inside PyPI packages (the embedder and the GGUF generators): finding a
package's files without importing it, and the two errors every entry point reports the same way.

It is a leaf both ``retriever`` and ``generator`` may import, so neither imports the other."""

from __future__ import annotations

import importlib.util
from pathlib import Path


class ModelNotInstalledError(RuntimeError):
    """A packaged model's packages or files are missing; the message says what to install."""


class ModelCorruptError(RuntimeError):
    """A packaged model's bytes do not match its published hash; the message says how to reinstall."""


def package_dir(import_name: str) -> Path | None:
    """Where a package lives, found without importing it (some model packages fail to import)."""
    spec = importlib.util.find_spec(import_name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))
