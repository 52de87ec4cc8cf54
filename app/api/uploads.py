"""Saving uploaded files: safe names, size limits, nothing written outside the uploads folder."""

from __future__ import annotations

import os
import re
import stat
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


def _inside(folder: Path, name: str) -> Path:
    """``folder/name`` for a plain file name, refusing any name that would leave the folder."""
    home = folder.resolve()
    if name in ("", ".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(f"refusing the file name {name!r}")
    return home / name


def save_upload(source: BinaryIO, folder: Path, name: str, max_bytes: int) -> Saved:
    """Copy ``source`` to ``folder/name`` through a temporary file; over ``max_bytes`` nothing stays.

    The temporary file is created new (never opened through a link or over an existing file), and
    the rename replaces a link at ``name`` rather than writing through it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    target = _inside(folder, name)
    temp = target.with_name(f".{target.name}.part")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(temp, flags, 0o600)
    except FileExistsError:
        raise ValueError(f"refusing to write {name!r}: {temp.name} is already there") from None
    written = 0
    try:
        with os.fdopen(descriptor, "wb") as out:
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
    """Move staged files into the collection's folder (replacing earlier uploads of the same name).

    Only regular files move: a link (or anything else) in the staging folder is refused, so the
    ingest job never reads a file outside the uploads folder.
    """
    folder.mkdir(parents=True, exist_ok=True)
    moved = []
    for name in names:
        staged, target = _inside(staging, name), _inside(folder, name)
        if not stat.S_ISREG(os.lstat(staged).st_mode):
            raise ValueError(f"refusing to move {name!r}: not a regular file")
        os.replace(staged, target)
        moved.append(target)
    return moved
