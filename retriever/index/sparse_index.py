"""BM25 keyword search over chunk text (bm25s), keyed by chunk id like the vector index.

bm25s builds an immutable index, so it is rebuilt from the database's canonical chunks whenever
the database has moved on. A rebuild also drops deleted chunks, so they never linger or slow
queries down. The saved copy records the database generation it matches; an out-of-date copy is
never served.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import bm25s
import numpy as np

from retriever.index.persistence import atomic_write_text

STOPWORDS = "en"


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    return bm25s.tokenize(list(texts), stopwords=STOPWORDS, return_ids=False, show_progress=False)


class SparseIndex:
    kind = "bm25"

    def __init__(self, ids: np.ndarray, model: bm25s.BM25 | None) -> None:
        self.ids = np.asarray(ids, dtype=np.int64)
        self._model = model

    @classmethod
    def build(cls, ids: Sequence[int] | np.ndarray, texts: Sequence[str]) -> SparseIndex:
        if len(ids) != len(texts):
            raise ValueError("one text per id")
        if len(texts) == 0:
            return cls(np.zeros(0, dtype=np.int64), None)
        model = bm25s.BM25()
        model.index(tokenize(texts), show_progress=False)
        return cls(np.asarray(ids, dtype=np.int64), model)

    def __len__(self) -> int:
        return len(self.ids)

    def search(
        self, query: str, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, chunk ids) with a positive BM25 score; the filter applies before ranking."""
        empty = (np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64))
        if self._model is None or k <= 0:
            return empty
        query_tokens = tokenize([query])[0]
        vocabulary = self._model.vocab_dict
        if not any(token in vocabulary for token in query_tokens):
            return empty
        mask = None
        if allowed_ids is not None:
            mask = np.isin(self.ids, allowed_ids).astype(np.float32)
            if not mask.any():
                return empty
        positions, scores = self._model.retrieve(
            [[t for t in query_tokens if t in vocabulary]],
            k=min(k, len(self.ids)),
            weight_mask=mask,
            show_progress=False,
            n_threads=0,  # 0 = on this thread; 1 would start (and join) a thread pool per query
        )
        keep = scores[0] > 0
        return scores[0][keep].astype(np.float32), self.ids[positions[0][keep]]


@dataclass(frozen=True, slots=True)
class SparseManifest:
    database_uid: str
    generation: int
    count: int
    directory: str


class SparseStore:
    """Saves next to the vector index: ``sparse.json`` names the live ``sparse-<token>/`` folder."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def manifest_path(self) -> Path:
        return self.directory / "sparse.json"

    def read_manifest(self) -> SparseManifest | None:
        try:
            return SparseManifest(**json.loads(self.manifest_path.read_text()))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError):
            return None  # damaged: treated as absent, so it is rebuilt from the database

    def load(self, manifest: SparseManifest) -> SparseIndex | None:
        folder = self.directory / manifest.directory
        try:
            ids = np.load(folder / "ids.npy")
            model = bm25s.BM25.load(str(folder), mmap=True) if len(ids) else None
        except (OSError, ValueError):
            return None
        if model is not None:
            # Plain views of the mapped files: every slice of a np.memmap runs Python code
            # (__array_finalize__), a tenth of a search's CPU. The pages stay mapped, not copied.
            model.scores = {
                name: np.asarray(value) if isinstance(value, np.memmap) else value
                for name, value in model.scores.items()
            }
        if len(ids) != manifest.count:
            return None
        return SparseIndex(ids, model)

    def save(self, index: SparseIndex, database_uid: str, generation: int) -> SparseManifest:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"sparse-{secrets.token_hex(6)}"
        staging = self.directory / f".{name}.tmp"
        staging.mkdir()
        np.save(staging / "ids.npy", index.ids)
        if index._model is not None:
            index._model.save(str(staging), show_progress=False)
        os.replace(staging, self.directory / name)
        manifest = SparseManifest(database_uid, generation, len(index), name)
        atomic_write_text(self.manifest_path, json.dumps(asdict(manifest)))
        for stale in self.directory.glob("sparse-*"):
            if stale.name != name:
                shutil.rmtree(stale, ignore_errors=True)
        return manifest
