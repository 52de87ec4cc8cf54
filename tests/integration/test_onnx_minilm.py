"""The ONNX Runtime embedder against the torch one: same vectors, an export that is reused and
rebuilt when damaged, and a server process that never imports torch."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.services import build_pipeline
from app.settings import Settings
from retriever.embedders import onnx_export
from retriever.embedders.minilm import packaged_model_dir
from retriever.embedders.onnx_minilm import OnnxMiniLMEmbedder, OnnxMiniLMInt8Embedder
from retriever.embedders.registry import create_embedder
from retriever.knowledge_base import IndexMismatchError, KnowledgeBase
from retriever.search import search

pytestmark = pytest.mark.model
ROOT = Path(__file__).resolve().parents[2]


def guide_paragraphs(limit: int = 60) -> list[str]:
    """Real text of every length: the paragraphs of Citewise's own guide."""
    found = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        found += [p.strip() for p in page.read_text().split("\n\n") if len(p.strip()) > 20]
    return found[:: max(1, len(found) // limit)][:limit]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def onnx(cache) -> OnnxMiniLMEmbedder:
    embedder = OnnxMiniLMEmbedder(cache_dir=cache)
    embedder.warm_up()
    return embedder


def test_the_onnx_vectors_are_the_torch_vectors(onnx) -> None:
    texts = guide_paragraphs()
    torch_vectors = create_embedder("minilm-torch").embed_documents(texts)
    onnx_vectors = onnx.embed_documents(texts)  # sorted by length and batched: the order must hold
    cosine = (torch_vectors * onnx_vectors).sum(axis=1)
    assert cosine.min() >= 0.999 and onnx_vectors.shape == (len(texts), 384)
    np.testing.assert_allclose(np.linalg.norm(onnx_vectors, axis=1), 1.0, rtol=1e-5)
    assert float(onnx.embed_query(texts[3]) @ torch_vectors[3]) >= 0.999
    assert onnx.name == create_embedder("minilm-torch").name == "minilm"  # one vector space, one index


def test_repeated_queries_come_from_the_cache(onnx, monkeypatch) -> None:
    first = onnx.embed_query("How do I ingest a folder of documents?")
    monkeypatch.setattr(onnx._runner, "embed_one", lambda text: pytest.fail("not cached"))
    again = onnx.embed_query("How do I ingest a folder of documents?")
    np.testing.assert_array_equal(first, again)
    again[:] = 0  # a caller's change does not reach the cache
    assert np.linalg.norm(onnx.embed_query("How do I ingest a folder of documents?")) > 0.99


def test_the_export_is_reused_and_a_damaged_one_is_made_again(onnx, cache, monkeypatch) -> None:
    path = onnx_export.export_path(packaged_model_dir(), cache)
    assert onnx_export.is_valid(path)
    with monkeypatch.context() as patched:
        patched.setattr(onnx_export, "_export", lambda *a: pytest.fail("exported again"))
        assert onnx_export.ensure_export(packaged_model_dir(), cache) == path
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)  # a killed copy, a full disk
    assert not onnx_export.is_valid(path)
    assert onnx_export.ensure_export(packaged_model_dir(), cache) == path and onnx_export.is_valid(path)
    assert json.loads(path.with_suffix(".json").read_text())["size"] == path.stat().st_size


def test_an_export_that_embeds_differently_is_refused(cache, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(onnx_export, "CHECK_TEXTS", ("a", "b"))
    monkeypatch.setattr(onnx_export, "MIN_COSINE", 1.5)  # no export can pass
    with pytest.raises(onnx_export.ExportError, match="embeds differently"):
        onnx_export.ensure_export(packaged_model_dir(), tmp_path)
    assert not list(tmp_path.glob("*.onnx")) and not list(tmp_path.glob(".*.tmp"))  # nothing half-made


def test_the_api_with_the_onnx_embedder_never_imports_torch(onnx, cache, tmp_path) -> None:
    script = f"""
import sys
from fastapi.testclient import TestClient
from app.api.main import create_app
from app.settings import Settings
settings = Settings(data_dir={str(tmp_path / "data")!r}, generator="extractive", index_refresh_seconds=0)
with TestClient(create_app(settings)) as client:
    files = [("files", ("a.md", b"# Backups\\n\\nBackups run nightly at two."))]
    job = client.post("/v1/documents", files=files, data={{"collection": "ops"}}).json()["job_id"]
    import time
    while client.get(f"/v1/jobs/{{job}}").json()["status"] in ("queued", "running"):
        time.sleep(0.05)
    hits = client.post("/v1/search", json={{"query": "when do backups run"}}).json()["hits"]
    assert hits and hits[0]["source_uri"].endswith("a.md"), hits
    answer = client.post("/v1/ask", json={{"question": "When do backups run?"}}).json()
    assert not answer["abstained"], answer
print("torch" in sys.modules)
"""
    env = {"XDG_CACHE_HOME": str(cache.parent), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    # The export lives at XDG_CACHE_HOME/citewise/models: point it at the one made above.
    (cache.parent / "citewise").mkdir(exist_ok=True)
    link = cache.parent / "citewise" / "models"
    if not link.exists():
        link.symlink_to(cache)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_the_int8_embedder_is_close_but_its_own_vector_space(onnx, cache) -> None:
    int8 = OnnxMiniLMInt8Embedder(cache_dir=cache)
    texts = guide_paragraphs()
    cosine = (int8.embed_documents(texts) * onnx.embed_documents(texts)).sum(axis=1)
    assert cosine.mean() >= 0.98 and cosine.min() >= onnx_export.MIN_INT8_COSINE
    assert int8.name == "minilm-int8" != onnx.name  # other vectors: an index records which
    path = onnx_export.quantized_path(packaged_model_dir(), cache)
    assert (
        onnx_export.is_valid(path)
        and path.stat().st_size < onnx_export.export_path(packaged_model_dir(), cache).stat().st_size / 3
    )  # int8 weights: a quarter of the bytes
    # a text's vector never depends on what it is embedded with (one activation scale per run)
    alone = int8.embed_documents([texts[0]])[0]
    np.testing.assert_array_equal(int8.embed_documents([texts[0], texts[-1] * 3])[0], alone)
    np.testing.assert_allclose(int8.embed_query(texts[0]), alone, atol=1e-6)
    path.write_bytes(b"not a graph")  # damaged: made again from the fp32 export
    assert onnx_export.ensure_quantized(packaged_model_dir(), cache) == path and onnx_export.is_valid(path)


def test_an_int8_index_refuses_fp32_queries_until_reindexed(onnx, cache, tmp_path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "ops.md").write_text("# Backups\n\nBackups run nightly at two.\n")
    settings = Settings(data_dir=tmp_path / "data")
    with KnowledgeBase(
        settings.resolved_database_url, settings.index_dir, OnnxMiniLMInt8Embedder(cache_dir=cache)
    ) as kb:
        kb.open(writable=True)
        build_pipeline(settings, kb).run([tmp_path / "docs"])
    kb = KnowledgeBase(settings.resolved_database_url, settings.index_dir, onnx)
    with kb, pytest.raises(IndexMismatchError, match=r"'minilm-int8'.*citewise reindex"):
        kb.open()
    with KnowledgeBase(settings.resolved_database_url, settings.index_dir, onnx) as kb:
        kb.open(writable=True, rebuild=True)  # what `citewise reindex` does
        hits = search(kb, "when do backups run", k=1)
        assert hits and "nightly" in hits[0].text


def test_packaged_weights_are_named_by_their_record_without_being_read(monkeypatch, tmp_path) -> None:
    """So the image can drop the torch weights once the export exists; other weights are read."""
    model_dir = packaged_model_dir()
    weights = model_dir / "model.safetensors"
    full = hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
    with monkeypatch.context() as patched:
        patched.setattr(onnx_export, "_file_identity", lambda path: pytest.fail("read the weights"))
        name = onnx_export.export_path(model_dir, tmp_path).name
    assert name == f"minilm-fp32-{weights.stat().st_size}-{full}.onnx"
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "model.safetensors").write_bytes(b"weights")
    assert onnx_export.recorded_identity(copy) is None
    assert onnx_export.export_path(copy, tmp_path).name.startswith("minilm-fp32-7-h")
