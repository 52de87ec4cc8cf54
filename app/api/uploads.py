"""Saving uploaded files: safe names, size limits, nothing written outside the uploads folder."""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_UNSAFE = re.compile(r"[^\w.\- ]+")
MAX_NAME = 150


def safe_filename(raw: str | None) -> str:
    """A name that can only ever mean one file inside one folder.

    Keeps the last path component (either slash), drops control characters, leading dots and
    anything but letters, digits, ``.-_`` and spaces; shortens long names keeping the extension.
    """
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" ._")
    if len(name) > MAX_NAME:
        stem, dot, suffix = name.rpartition(".")
        suffix = suffix[:16] if dot and stem else ""
        name = name[: MAX_NAME - len(suffix) - 1].rstrip(" ._") + (f".{suffix}" if suffix else "")
    return name or "upload"


@dataclass(frozen=True, slots=True)
class Saved:
    name: str
    path: Path


class TooLarge(ValueError):
    pass


def unique_name(folder: Path, name: str, taken: set[str]) -> str:
    """``name``, or ``name-2.ext`` etc. when this request already used it (a re-upload of a file in
    a later request keeps its name, so it replaces the earlier version)."""
    if name not in taken:
        return name
    stem, dot, suffix = name.rpartition(".")
    stem, suffix = (stem, f".{suffix}") if dot and stem else (name, "")
    n = 2
    while f"{stem}-{n}{suffix}" in taken:
        n += 1
    return f"{stem}-{n}{suffix}"


def save_upload(source: BinaryIO, folder: Path, name: str, max_bytes: int) -> Saved:
    """Copy ``source`` to ``folder/name`` through a temporary file; over ``max_bytes`` nothing stays."""
    folder.mkdir(parents=True, exist_ok=True)
    target = (folder / name).resolve()
    if target.parent != folder.resolve():
        raise ValueError(f"refusing to write outside {folder}")
    temp = target.with_name(f".{target.name}.part")
    written = 0
    try:
        with open(temp, "wb") as out:
            while block := source.read(1 << 20):
                written += len(block)
                if written > max_bytes:
                    raise TooLarge(f"larger than the {max_bytes / 2**20:g} MB limit")
                out.write(block)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return Saved(name, target)


def move_into(staging: Path, names: list[str], folder: Path) -> list[Path]:
    """Move staged files into the collection's folder (replacing earlier uploads of the same name)."""
    folder.mkdir(parents=True, exist_ok=True)
    moved = []
    for name in names:
        target = folder / name
        os.replace(staging / name, target)
        moved.append(target.resolve())
    return moved
