"""The real packaged embedder, offline, through the real pipeline and CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retriever.embedders.registry import create_embedder
from tests.app.cli_helpers import run_cli

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def minilm():
    embedder = create_embedder("minilm")
    embedder.warm_up()
    return embedder


def test_vectors_are_normalised_and_semantic(minilm) -> None:
    vectors = minilm.embed_documents(
        ["The cat sat on the mat.", "A kitten rested on a rug.", "Tax filing deadline"]
    )
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_token_counts_match_the_model_tokenizer(minilm) -> None:
    texts = ["Hello world.", "Tokenization of unusual words like photosynthesis"]
    reference = create_embedder("minilm-torch")  # sentence-transformers' own tokenizer
    reference.warm_up()
    tokenizer = reference._model.tokenizer
    expected = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    assert minilm.count_tokens(texts) == expected


def test_ingest_and_search_real_documents_offline(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    backups = (
        "The database is backed up every night at 02:00 to the cold-storage bucket, and backups are kept "
        "for thirty days. Restores are tested on the first Monday of each month by the platform team. "
        "A restore takes about forty minutes for the main cluster. "
    )
    on_call = (
        "The on-call engineer rotates weekly and is paged through the incident tool. Handover happens on "
        "Tuesday mornings with a short written summary of open incidents and known risks. "
    )
    (corpus / "ops.md").write_text(
        f"# Operations\n\n## Backups\n\n{backups * 2}\n\n## On-call\n\n{on_call * 2}\n"
    )
    (corpus / "hr.txt").write_text("Employees accrue twenty-five vacation days per year.\n")
    result = run_cli(capsys, "ingest", str(corpus))
    assert result.code == 0, result.err

    result = run_cli(capsys, "search", "how long are backups retained?", "-k", "1", "--json")
    import json

    hit = json.loads(result.out)["hits"][0]
    assert hit["heading_path"] == ["Operations", "Backups"]
    assert "thirty days" in hit["text"]
    assert (corpus / "ops.md").read_text()[hit["char_start"] : hit["char_end"]] == hit["text"]
