"""Finding the files an ingest should look at.

The folders (and files) named for an ingest are its roots. A symbolic link inside them that leads
somewhere else (``notes/passwords -> /etc/shadow``) would make that file searchable by everyone
who can query the collection, so a file or folder whose real path lies outside every root is
skipped and reported, unless the caller allows it (``follow_outside_links``). Links that stay
inside the roots are fine; each real file is taken once, under its own name when it has one.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

OUTSIDE_LINK_HINT = "see --follow-outside-links"


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: Path
    relative: str  # to the root it was found under, for include/exclude matching and display
    real: Path | None = None  # where discovery saw it lead: only that file may be read (``prepare``)

    @property
    def uri(self) -> str:
        return str(self.path)


@dataclass(frozen=True, slots=True)
class SkippedEntry:
    """A file or folder discovery refused, with the reason a user sees among the job's errors."""

    path: Path
    reason: str


@dataclass(slots=True)
class Discovery:
    files: list[SourceFile] = field(default_factory=list)
    skipped: list[SkippedEntry] = field(default_factory=list)


class MissingPathError(FileNotFoundError):
    pass


def _matches(relative: str, patterns: Sequence[str]) -> bool:
    name = relative.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(relative if "/" in p else name, p) for p in patterns)


def inside(real: Path, roots: Sequence[Path]) -> bool:
    """Whether the resolved path ``real`` is one of ``roots`` or lies under one."""
    return any(real == root or root in real.parents for root in roots)


def discover(
    paths: Sequence[Path],
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    skip_dirs: Sequence[Path] = (),
    *,
    follow_outside_links: bool = False,
) -> Discovery:
    """Files under ``paths`` (recursively, hidden files and folders skipped), sorted, de-duplicated
    by real path, plus the entries refused because a link leads out of ``paths``.

    A pattern with a ``/`` matches the path relative to the root; one without matches the file name.
    A file named directly is always taken (it is its own root), unless excluded. ``skip_dirs`` (the
    data dir) are never walked, so Citewise does not ingest its own database and index files.
    """
    roots: list[Path] = []
    for path in paths:
        path = path.expanduser()
        if not path.exists():
            raise MissingPathError(f"no such file or folder: {path}")
        roots.append(path.resolve())
    walk = _Walk(roots, include, exclude, tuple(d.resolve() for d in skip_dirs), follow_outside_links)
    for root in roots:
        if root.is_file():
            if not _matches(root.name, exclude):
                walk.take(root, root, root.name)
        else:
            walk.folder(root, root)
    return Discovery(
        files=sorted(walk.found.values(), key=lambda f: str(f.path)),
        skipped=sorted(walk.skipped, key=lambda s: str(s.path)),
    )


class _Walk:
    """One discovery's state: what was found (by real path), what was refused, folders walked."""

    def __init__(
        self,
        roots: list[Path],
        include: Sequence[str],
        exclude: Sequence[str],
        skip_dirs: tuple[Path, ...],
        follow_outside_links: bool,
    ) -> None:
        self.roots, self.include, self.exclude = roots, include, exclude
        self.skip_dirs, self.follow = skip_dirs, follow_outside_links
        self.found: dict[Path, SourceFile] = {}
        self.skipped: list[SkippedEntry] = []
        self._walked: set[Path] = set()  # real folders, so a link loop is walked once

    def folder(self, top: Path, root: Path) -> None:
        """Walk ``top`` (a root, or a link to an outside folder that the caller allowed)."""
        if top.resolve() in self._walked:
            return
        for folder, dirs, files in os.walk(top):  # never descends into linked folders by itself
            here = Path(folder)
            here_real = here.resolve()  # differs from ``here`` inside a followed link
            self._walked.add(here_real)
            kept = []
            for name in sorted(dirs):
                path = here / name
                if name.startswith(".") or path.resolve() in self.skip_dirs:
                    continue
                if path.is_symlink():
                    self._linked_folder(path, root)
                else:
                    kept.append(name)
            dirs[:] = kept
            for name in sorted(files):
                if name.startswith("."):
                    continue
                path = here / name
                relative = path.relative_to(root).as_posix()
                if self.include and not _matches(relative, self.include):
                    continue
                if self.exclude and _matches(relative, self.exclude):
                    continue
                if path.is_file():  # not a dangling link, a pipe or a device
                    self.take(path, path.resolve() if path.is_symlink() else here_real / name, relative)

    def take(self, path: Path, real: Path, relative: str) -> None:
        if path != real and inside(real, self.skip_dirs):
            return  # a link into the data dir (files named directly, such as uploads, are taken)
        if not self.follow and not inside(real, self.roots):
            self._refuse(path, f"links to {real}, outside the folders being ingested ({OUTSIDE_LINK_HINT})")
            return
        earlier = self.found.get(real)
        if earlier is None or (earlier.path != real and path == real):  # a file's own name wins
            self.found[real] = SourceFile(path, relative, real)

    def _linked_folder(self, path: Path, root: Path) -> None:
        real = path.resolve()
        if not real.is_dir():
            return  # a dangling link
        if inside(real, self.roots):
            return  # walked where it really is (or hidden or the data dir there, and skipped)
        if not self.follow:
            self._refuse(
                path, f"folder links to {real}, outside the folders being ingested ({OUTSIDE_LINK_HINT})"
            )
            return
        self.folder(path, root)

    def _refuse(self, path: Path, reason: str) -> None:
        self.skipped.append(SkippedEntry(path, reason))


def under_roots(uri: str, roots: Sequence[Path]) -> bool:
    """Whether a stored document came from one of these roots (``--sync`` only prunes those)."""
    path = Path(uri)
    return any(path == root or root in path.parents for root in roots)
