"""Training text: cleaned, de-duplicated, split by document, tokenized into a memory-mapped file.

Splitting by document (not by passage) keeps the validation set honest: passages of one document
share phrasing, and a model that saw a document's other half would look better than it is.
"""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """NFC, no control characters, single spaces, at most one blank line in a row."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


@dataclass(frozen=True, slots=True)
class Passage:
    document: str  # what the split groups by (a document id or path)
    text: str


def deduplicate(passages: Iterable[Passage]) -> list[Passage]:
    """Cleaned passages, empty ones and exact repeats (after cleaning, case-folded) dropped."""
    seen: set[str] = set()
    kept = []
    for passage in passages:
        text = clean_text(passage.text)
        key = hashlib.sha1(text.casefold().encode()).hexdigest()
        if text and key not in seen:
            seen.add(key)
            kept.append(Passage(passage.document, text))
    return kept


def split_by_document(
    passages: Sequence[Passage], validation_share: float = 0.1, seed: int = 0
) -> tuple[list[Passage], list[Passage]]:
    """(train, validation): whole documents go to one side; both sides get at least one document
    when there are two or more."""
    documents = sorted({p.document for p in passages})
    random.Random(seed).shuffle(documents)
    count = round(len(documents) * validation_share)
    count = min(max(count, 1 if len(documents) > 1 else 0), max(len(documents) - 1, 0))
    held_out = set(documents[:count])
    return [p for p in passages if p.document not in held_out], [
        p for p in passages if p.document in held_out
    ]


def write_tokens(path: Path, token_lists: Iterable[Sequence[int]], separator: int) -> int:
    """All token lists, each followed by ``separator``, into a flat uint16 file; returns the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(path.suffix + ".part")
    total = 0
    try:
        with open(temp, "wb") as out:
            for ids in token_lists:
                if len(ids) and int(max(ids)) > np.iinfo(np.uint16).max:
                    raise ValueError("token ids above 65535 do not fit the token file")
                chunk = np.asarray([*ids, separator], dtype=np.uint16)
                out.write(chunk.tobytes())
                total += len(chunk)
        temp.replace(path)  # a reader never sees a half-written file
    finally:
        temp.unlink(missing_ok=True)
    return total


class TokenFile:
    """A token file read through a memory map: training samples windows without loading it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tokens = np.memmap(path, dtype=np.uint16, mode="r")

    def __len__(self) -> int:
        return len(self.tokens)

    def batch(self, size: int, context: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``size`` random windows: inputs (size, context) and next-token targets (size, context)."""
        if len(self.tokens) <= context:
            raise ValueError(
                f"{self.path} has {len(self.tokens)} tokens, fewer than a window of {context + 1}"
            )
        starts = torch.randint(0, len(self.tokens) - context - 1, (size,), generator=generator).tolist()
        windows = np.stack([self.tokens[s : s + context + 1] for s in starts]).astype(
            np.int64
        )  # (size, context+1)
        data = torch.from_numpy(windows)
        return data[:, :-1], data[:, 1:]

    def windows(self, context: int, limit: int | None = None) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        """Consecutive non-overlapping windows (for a deterministic validation loss)."""
        count = (len(self.tokens) - 1) // context
        for i in range(min(count, limit) if limit else count):
            span = torch.from_numpy(self.tokens[i * context : (i + 1) * context + 1].astype(np.int64))
            yield span[None, :-1], span[None, 1:]
