"""Approximate search for large collections: an inverted-file index (FAISS ``IndexIVFFlat``).

IVF rather than HNSW because chunks are deleted and replaced all the time and IVF supports
``remove_ids``; vectors are stored uncompressed, so the only approximation is which lists a query
probes (``nprobe``), and that is what the factory tunes against exact search.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import faiss
import numpy as np

from retriever.index.vector_index import VectorIndex, as_ids, set_openmp_threads_for


class IvfVectorIndex(VectorIndex):
    kind = "ivf-flat"

    def __init__(self, dimension: int, index: faiss.IndexIVFFlat, nprobe: int) -> None:
        if index.d != dimension:
            raise ValueError(f"index dimension {index.d} does not match {dimension}")
        # A hash-table direct map makes reconstruct() and remove_ids() work by chunk id.
        if index.direct_map.type != faiss.DirectMap.Hashtable:
            index.set_direct_map_type(faiss.DirectMap.Hashtable)
        self.dimension = dimension
        self._index = index
        self.nprobe = max(1, min(int(nprobe), index.nlist))

    @classmethod
    def train(cls, vectors: np.ndarray, nlist: int, nprobe: int, *, seed: int = 1234) -> IvfVectorIndex:
        """Cluster a sample of ``vectors`` into ``nlist`` lists.

        k-means sees 40 vectors per list (FAISS wants at least 39) for 10 iterations: enough for
        list assignment, and it keeps training at 1M vectors around a minute on two cores.
        """
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dimension = vectors.shape[1]
        quantizer = faiss.IndexFlatIP(dimension)
        index = faiss.IndexIVFFlat(quantizer, dimension, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        index.cp.niter = 10
        sample = min(len(vectors), 40 * nlist)
        rows = np.random.default_rng(seed).choice(len(vectors), size=sample, replace=False)
        index.train(vectors[np.sort(rows)])
        index.own_fields = True
        quantizer.this.disown()  # the IVF index owns and frees its quantizer
        return cls(dimension, index, nprobe)

    @property
    def nlist(self) -> int:
        return int(self._index.nlist)

    def params(self) -> dict[str, int]:
        return {"nlist": self.nlist, "nprobe": self.nprobe}

    def ids(self) -> np.ndarray:
        lists = self._index.invlists
        parts = [
            faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
            for i in range(self.nlist)
            if lists.list_size(i)
        ]
        return np.concatenate(parts).astype(np.int64, copy=False) if parts else np.empty(0, dtype=np.int64)

    def export(self) -> tuple[np.ndarray, np.ndarray]:
        lists, ids, vectors = self._index.invlists, [], []
        for i in range(self.nlist):
            size = lists.list_size(i)
            if size:
                ids.append(faiss.rev_swig_ptr(lists.get_ids(i), size).copy())
                codes = faiss.rev_swig_ptr(lists.get_codes(i), size * lists.code_size).copy()
                vectors.append(codes.view(np.float32).reshape(size, self.dimension))
        if not ids:
            return np.empty(0, dtype=np.int64), np.empty((0, self.dimension), dtype=np.float32)
        return np.concatenate(ids).astype(np.int64, copy=False), np.concatenate(vectors)

    def remove(self, ids: Iterable[int] | np.ndarray) -> int:
        self.check_writable()
        id_array = as_ids(ids)
        if len(id_array) == 0 or len(self) == 0:
            return 0
        # With a hash-table direct map FAISS removes only by an explicit id array.
        return int(self._index.remove_ids(faiss.IDSelectorArray(len(id_array), faiss.swig_ptr(id_array))))

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Probe ``nprobe`` lists; a filter probes proportionally more, up to all (exact on the subset).

        A filter that keeps a fraction f of the vectors leaves about f of each probed list, so
        probing nprobe / f lists keeps the expected number of candidates, and thus recall, level.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        if len(self) == 0 or k <= 0 or (allowed_ids is not None and len(allowed_ids) == 0):
            empty = np.full((len(queries), max(k, 0)), -1, dtype=np.int64)
            return np.zeros(empty.shape, dtype=np.float32), empty
        nprobe, selector = self.nprobe, None
        if allowed_ids is not None:
            fraction = min(1.0, len(allowed_ids) / len(self))
            nprobe = min(self.nlist, math.ceil(self.nprobe / fraction))
            selector = faiss.IDSelectorBatch(as_ids(allowed_ids))
        params = faiss.SearchParametersIVF(nprobe=nprobe, sel=selector)
        set_openmp_threads_for(len(queries))
        scores, ids = self._index.search(queries, k, params=params)
        return scores, ids


def wrap(index: faiss.Index, dimension: int, params: dict[str, int] | None = None) -> VectorIndex:
    """The right wrapper for an index read from disk."""
    if isinstance(index, faiss.IndexIVFFlat):
        return IvfVectorIndex(dimension, index, (params or {}).get("nprobe", 8))
    return VectorIndex(dimension, index)
