"""Saving and loading the index atomically, with a manifest that says what it was built from.

Layout of the index directory::

    manifest.json          the commit point: names the current index file
    index-<token>.faiss    index files; only the one the manifest names is live

A save writes a new index file, fsyncs it, then atomically replaces the manifest. A crash at any
moment leaves either the old manifest with its old file or the new manifest with its new file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss

from retriever.index.ivf_index import IvfVectorIndex, wrap
from retriever.index.vector_index import VectorIndex

FORMAT_VERSION = 1
KNOWN_KINDS = {VectorIndex.kind: ("IndexIDMap2",), IvfVectorIndex.kind: ("IndexIVFFlat",)}


@dataclass(frozen=True, slots=True)
class IndexManifest:
    embedder: str
    dimension: int
    count: int
    database_uid: str
    generation: int
    index_file: str
    index_kind: str = VectorIndex.kind
    index_params: dict[str, Any] = field(default_factory=dict)  # see retriever.index.factory
    format_version: int = FORMAT_VERSION
    saved_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


class IndexLockedError(RuntimeError):
    pass


class IndexCorruptError(RuntimeError):
    """The saved index cannot be trusted (unreadable, truncated, or not what its manifest says)."""


class IndexStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def manifest_path(self) -> Path:
        return self.directory / "manifest.json"

    def read_manifest(self) -> IndexManifest | None:
        try:
            raw = json.loads(self.manifest_path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(f"unreadable index manifest {self.manifest_path}: {exc}") from exc
        known = {name for name in IndexManifest.__dataclass_fields__}
        try:
            return IndexManifest(**{key: value for key, value in raw.items() if key in known})
        except TypeError as exc:
            raise IndexCorruptError(f"incomplete index manifest {self.manifest_path}: {exc}") from exc

    def load(self, manifest: IndexManifest, *, mmap: bool = False) -> VectorIndex:
        """Read the index; ``mmap`` maps the vectors instead of copying them (read-only use: fast to
        open, and processes on one machine share the pages)."""
        path = self.directory / manifest.index_file
        try:
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC if mmap else 0)
        except RuntimeError as exc:  # faiss reports missing and truncated files alike
            raise IndexCorruptError(f"cannot read {path}: {str(exc).strip().splitlines()[-1]}") from exc
        if index.ntotal != manifest.count or index.d != manifest.dimension:
            raise IndexCorruptError(f"{path} holds {index.ntotal} vectors, manifest says {manifest.count}")
        if type(index).__name__ not in KNOWN_KINDS.get(manifest.index_kind, ()):
            raise IndexCorruptError(
                f"{path} is a {type(index).__name__}, manifest says {manifest.index_kind}"
            )
        loaded = wrap(index, manifest.dimension, manifest.index_params)
        loaded.read_only = mmap
        return loaded

    def save(self, index: VectorIndex, manifest: IndexManifest) -> IndexManifest:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"index-{secrets.token_hex(6)}.faiss"
        temp_path = self.directory / f".{name}.tmp"
        faiss.write_index(index.faiss_index, str(temp_path))
        _fsync_file(temp_path)
        os.replace(temp_path, self.directory / name)
        manifest = IndexManifest(
            **{**asdict(manifest), "index_file": name, "count": len(index), "index_kind": index.kind}
        )
        atomic_write_text(self.manifest_path, json.dumps(asdict(manifest), indent=2))
        _fsync_dir(self.directory)
        self._remove_stale_files(keep=name)
        return manifest

    def _remove_stale_files(self, keep: str) -> None:
        for path in self.directory.glob("index-*.faiss"):
            if path.name != keep:
                path.unlink(missing_ok=True)
        for path in self.directory.glob(".*.tmp"):
            path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        """One writing process per index directory; a second one fails fast instead of racing."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".writer.lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise IndexLockedError(
                    f"another citewise process is writing to {self.directory}; wait for it to finish"
                ) from exc
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    """Write, fsync, then rename over ``path``: readers see the old text or the new, never half."""
    temp_path = path.with_name(f".{path.name}.tmp")
    with open(temp_path, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp_path, path)
