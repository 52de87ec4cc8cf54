"""An in-memory FAISS index whose ids are chunk primary keys."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import faiss
import numpy as np


def as_ids(ids: Iterable[int] | np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(
        np.fromiter(ids, dtype=np.int64) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64
    )


_openmp = threading.local()


def set_openmp_threads_for(rows: int) -> None:
    """A single query runs on the calling thread alone. FAISS gains nothing from OpenMP for one
    row, but the pool's threads spin after every search: at 20 concurrent searches that doubled
    FAISS's CPU (0.75 -> 0.33 ms at 10k vectors). OpenMP's setting belongs to the calling thread,
    so other threads keep theirs, and a thread that goes back to many rows gets its own back.
    The setting changes only when the kind of search does: each call into FAISS lets go of the
    GIL, and a busy server waits to get it back."""
    single = rows == 1
    current = getattr(_openmp, "single", None)
    if current is None and not single:
        _openmp.single = False
    elif current is not single:
        if single:
            _openmp.saved = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1 if single else _openmp.saved)
        _openmp.single = single


class VectorIndex:
    """Exact inner-product search (cosine on normalised vectors) over ``IndexIDMap2``.

    ``IndexIDMap2`` keeps an id -> vector map, so vectors can be reconstructed and the id set listed,
    which the consistency check against the database needs.
    """

    kind = "flat-ip"
    read_only = False  # set on a memory-mapped index: FAISS would crash writing into the mapping

    def __init__(self, dimension: int, index: faiss.Index | None = None) -> None:
        self.dimension = dimension
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        if self._index.d != dimension:
            raise ValueError(f"index dimension {self._index.d} does not match {dimension}")

    @property
    def faiss_index(self) -> faiss.Index:
        return self._index

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        return faiss.vector_to_array(self._index.id_map).astype(np.int64, copy=False)

    def export(self) -> tuple[np.ndarray, np.ndarray]:
        """All (ids, vectors), row-aligned, without a Python call per vector (for rebuilding)."""
        flat = faiss.downcast_index(self._index.index)
        vectors = faiss.vector_to_array(flat.codes).view(np.float32).reshape(-1, self.dimension)
        return self.ids(), vectors

    def params(self) -> dict[str, int]:
        return {}

    def check_writable(self) -> None:
        if self.read_only:
            raise RuntimeError("this index is memory-mapped for reading; load a private copy to change it")

    def add(self, ids: Iterable[int] | np.ndarray, vectors: np.ndarray) -> None:
        self.check_writable()
        id_array = as_ids(ids)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(id_array), self.dimension)
        if len(id_array) == 0:
            return
        if len(np.unique(id_array)) != len(id_array):
            raise ValueError("duplicate ids in one add")
        # Re-adding an id replaces its vector instead of duplicating it. Only ids already present are
        # removed: a removal rescans the whole index, which new chunks (fresh ids) never need.
        if len(self):
            self.remove(id_array[[self.contains(chunk_id) for chunk_id in id_array]])
        self._index.add_with_ids(vectors, id_array)

    def remove(self, ids: Iterable[int] | np.ndarray) -> int:
        self.check_writable()
        id_array = as_ids(ids)
        if len(id_array) == 0 or len(self) == 0:
            return 0
        return int(self._index.remove_ids(faiss.IDSelectorBatch(id_array)))

    def contains(self, chunk_id: int) -> bool:
        try:
            self._index.reconstruct(int(chunk_id))
        except RuntimeError:  # FAISS: "key not found"
            return False
        return True

    def reconstruct(self, chunk_id: int) -> np.ndarray:
        return self._index.reconstruct(int(chunk_id))

    def vectors(self, ids: Iterable[int] | np.ndarray) -> np.ndarray:
        """Stored vectors of these ids, one row each (for MMR and repairs)."""
        id_array = as_ids(ids)
        if len(id_array) == 0:
            return np.empty((0, self.dimension), dtype=np.float32)
        return self._index.reconstruct_batch(id_array)

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query row; ids are -1 where fewer than k match.

        ``allowed_ids`` restricts the search inside FAISS, so a filter never starves the top k.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        if len(self) == 0 or k <= 0:
            empty = np.full((len(queries), max(k, 0)), -1, dtype=np.int64)
            return np.zeros(empty.shape, dtype=np.float32), empty
        params = None
        if allowed_ids is not None:
            if len(allowed_ids) == 0:
                empty = np.full((len(queries), k), -1, dtype=np.int64)
                return np.zeros(empty.shape, dtype=np.float32), empty
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(as_ids(allowed_ids)))
        set_openmp_threads_for(len(queries))
        scores, ids = self._index.search(queries, k, params=params)
        return scores, ids
