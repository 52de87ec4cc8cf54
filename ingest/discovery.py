"""Finding the files an ingest should look at."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: Path
    relative: str  # to the root it was found under, for include/exclude matching and display

    @property
    def uri(self) -> str:
        return str(self.path)


class MissingPathError(FileNotFoundError):
    pass


def _matches(relative: str, patterns: Sequence[str]) -> bool:
    name = relative.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(relative if "/" in p else name, p) for p in patterns)


def discover(
    paths: Sequence[Path],
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    skip_dirs: Sequence[Path] = (),
) -> list[SourceFile]:
    """Files under ``paths`` (recursively, hidden files and folders skipped), sorted, de-duplicated.

    A pattern with a ``/`` matches the path relative to the root; one without matches the file name.
    A file named directly on the command line is always taken, unless excluded. ``skip_dirs`` (the
    data dir) are never walked, so Citewise does not ingest its own database and index files.
    """
    skipped = {d.resolve() for d in skip_dirs}
    found: dict[Path, SourceFile] = {}
    for root in paths:
        root = root.expanduser()
        if not root.exists():
            raise MissingPathError(f"no such file or folder: {root}")
        root = root.resolve()
        if root.is_file():
            if not _matches(root.name, exclude):
                found.setdefault(root, SourceFile(root, root.name))
            continue
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(
                d for d in dirs if not d.startswith(".") and (Path(folder) / d).resolve() not in skipped
            )
            for name in files:
                if name.startswith("."):
                    continue
                path = Path(folder) / name
                relative = path.relative_to(root).as_posix()
                if include and not _matches(relative, include):
                    continue
                if exclude and _matches(relative, exclude):
                    continue
                if path.is_file():
                    found.setdefault(path, SourceFile(path, relative))
    return sorted(found.values(), key=lambda f: str(f.path))


def under_roots(uri: str, roots: Sequence[Path]) -> bool:
    """Whether a stored document came from one of these roots (``--sync`` only prunes those)."""
    path = Path(uri)
    return any(path == root or root in path.parents for root in roots)
