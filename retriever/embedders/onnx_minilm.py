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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from retriever.embedders.minilm import MiniLMEmbedder

QUERY_CACHE = 1024  # query vectors kept
BATCH = 8  # texts per run: small batches of like length waste the least on padding


class OnnxRunner:
    """One ONNX Runtime session and the model's tokenizer: texts in, unit vectors out.

    The session computes each run on the calling thread alone (one intra-op thread): a server
    runs many queries side by side, and ONNX Runtime's own pool of threads spinning for each of
    them cost a third more CPU per search (14.6 ms against 20.9 at 20 clients). Many texts are
    spread over ``threads`` calling threads instead (the session releases the GIL), which embeds
    as fast as two intra-op threads did."""

    def __init__(self, graph: Path, tokenizer_file: Path, *, threads: int, max_tokens: int = 256) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.threads = threads
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session: Any = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        tokenizer.no_padding()  # the packaged tokenizer pads to 128: padding is done per batch here
        tokenizer.enable_truncation(max_tokens)
        self._tokenizer = tokenizer

    def embed(self, texts: Sequence[str], batch: int = BATCH) -> np.ndarray:
        """(len(texts), 384) float32, rows in the order given."""
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), 384), dtype=np.float32)
        batches = [order[start : start + batch] for start in range(0, len(order), batch)]
        batches.reverse()  # longest first: the threads finish together instead of one waiting out the last

        def run(chosen: list[int]) -> None:
            out[chosen] = self._run([encodings[i].ids for i in chosen])

        if self.threads > 1 and len(batches) > 1:
            with ThreadPoolExecutor(self.threads, thread_name_prefix="onnx-embed") as pool:
                list(pool.map(run, batches))
        else:
            for chosen in batches:
                run(chosen)
        return out

    def embed_one(self, text: str) -> np.ndarray:
        ids = self._tokenizer.encode(text).ids
        return self._run([ids])[0]

    def _run(self, rows: list[list[int]]) -> np.ndarray:
        width = max(len(row) for row in rows)
        ids = np.zeros((len(rows), width), dtype=np.int64)  # (B, T), 0 = [PAD]
        mask = np.zeros_like(ids)  # (B, T)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return self._session.run(None, feed)[0]  # (B, 384), normalised in the graph


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
    and their padding: the same passage embedded twice moved by up to 0.02 nDCG@10 between runs.
    Alone, a text always gets the same vector, the one its query would get."""

    name = "minilm-int8"

    texts_per_run = 1

    def _graph(self) -> Path:
        from retriever.embedders.onnx_export import ensure_quantized

        return ensure_quantized(self.model_dir, self._cache_dir)
