"""Deterministic, dependency-free embedders for fast tests and benchmarks (the test suite registers
them by name, ``fake-hashing``, through the real registry).

Bag-of-words feature hashing: texts sharing words get similar vectors, so search results are
meaningful enough to assert on, and it counts how many texts it was asked to embed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from retriever.embedders.base import normalize_rows

_WORD = re.compile(r"[a-z0-9]+")


class HashingEmbedder:
    name = "fake-hashing"
    dimension = 128
    max_tokens = 512
    embedded_texts = 0  # across all instances, for "no embedding work was done" assertions

    def warm_up(self) -> None:
        return None

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        HashingEmbedder.embedded_texts += len(texts)
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dimension
                vectors[row, bucket] += 1.0 if digest[4] & 1 else -1.0
            if not vectors[row].any():
                vectors[row, 0] = 1.0
        return normalize_rows(vectors)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_documents(texts)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(text.split()) for text in texts]


class OtherHashingEmbedder(HashingEmbedder):
    """Same behaviour under another name and size, to test embedder-mismatch handling."""

    name = "fake-hashing-other"
    dimension = 64


class SlowHashingEmbedder(HashingEmbedder):
    """Sleeps per call (``CITEWISE_TEST_EMBED_DELAY`` seconds) so a test can interrupt an ingest mid-run."""

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        import os
        import time

        time.sleep(float(os.environ.get("CITEWISE_TEST_EMBED_DELAY", "0.5")))
        return super().embed_documents(texts)


def slow_embedder() -> SlowHashingEmbedder:
    return SlowHashingEmbedder()
