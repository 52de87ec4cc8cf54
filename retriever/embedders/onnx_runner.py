"""One ONNX Runtime session of the MiniLM graph and its tokenizer: texts in, unit vectors out."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

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
