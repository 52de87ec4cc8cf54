"""all-MiniLM-L6-v2 run by ONNX Runtime: the same vectors as the torch model, without torch.

Why: on a 2-core CPU the embedder is the bottleneck of search, of the answer's checks and of ingest,
and torch carries hundreds of MB for a 22M-parameter encoder. Texts are sorted by token count and
embedded in small batches, each padded only to its own longest text (on the guide's paragraphs,
batches of 8 took 5.0 s where torch's sentence-transformers took 7.9-11.5 s); a single query skips
all of that. Repeated queries (the UI, retries, dashboards) come from a small LRU cache.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from retriever.embedders.minilm import MiniLMEmbedder
from retriever.embedders.onnx_runner import BATCH, OnnxRunner

QUERY_CACHE = 1024  # query vectors kept


class OnnxMiniLMEmbedder(MiniLMEmbedder):
    """Registered as ``minilm`` where ONNX Runtime is installed; its ``name`` is the torch model's,
    since its vectors are the same (an index built with either serves the other)."""

    texts_per_run = BATCH

    def __init__(
        self,
        model_dir: Path | None = None,
        batch_size: int = 64,
        cache_dir: Path | None = None,
        threads: int | None = None,
        run_batch: int | None = None,
    ) -> None:
        super().__init__(model_dir, batch_size)
        # texts per ONNX run (``batch_size`` is what callers hand over)
        self.run_batch = run_batch or self.texts_per_run
        self._cache_dir = cache_dir
        self._threads = threads or max(1, os.cpu_count() or 1)
        self._runner: OnnxRunner | None = None
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._queries_lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._runner is not None:
                return
            graph = self._graph()
            self._runner = OnnxRunner(
                graph, self.model_dir / "tokenizer.json", threads=self._threads, max_tokens=self.max_tokens
            )

    def _graph(self) -> Path:
        from retriever.embedders.onnx_export import ensure_export

        return ensure_export(self.model_dir, self._cache_dir)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        self.warm_up()
        assert self._runner is not None
        return self._runner.embed(texts, self.run_batch)

    def embed_query(self, text: str) -> np.ndarray:
        with self._queries_lock:
            found = self._queries.get(text)
            if found is not None:
                self._queries.move_to_end(text)
                return found.copy()
        self.warm_up()
        assert self._runner is not None
        vector = self._runner.embed_one(text)
        with self._queries_lock:
            self._queries[text] = vector
            if len(self._queries) > QUERY_CACHE:
                self._queries.popitem(last=False)
        return vector.copy()

    def clear_query_cache(self) -> None:
        """Forget cached query vectors (a benchmark timing the model, not the cache)."""
        with self._queries_lock:
            self._queries.clear()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_documents(texts)


class OnnxMiniLMInt8Embedder(OnnxMiniLMEmbedder):
    """The same model with int8 weights: about twice as fast per text on a CPU with int8 dot
    products (VNNI), at a small cost in fidelity (cosine 0.993 to the fp32 vectors on average).
    Its vectors differ, so it has its own name: an index built with either refuses the other
    until ``citewise reindex``.

    Each text runs alone. Dynamic quantisation picks one activation scale per run from the whole
    (batch, tokens, hidden) tensor, so in a batch a text's vector would depend on its neighbours
    and their padding: the same corpus ingested twice scored 0.8887 and 0.8832 nDCG@10.
    Alone, a text always gets the same vector, the one its query would get."""

    name = "minilm-int8"

    texts_per_run = 1

    def _graph(self) -> Path:
        from retriever.embedders.onnx_export import ensure_quantized

        return ensure_quantized(self.model_dir, self._cache_dir)
