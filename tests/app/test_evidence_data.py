"""Evidence training groups come from the collection's own text and never reward a wrong sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.answer_scores import normalize
from app.evidence_data import collection_chunks, evidence_examples, units
from app.services import build_knowledge_base, build_pipeline
from app.settings import Settings
from retriever.knowledge_base import CollectionNotFoundError, KnowledgeBase

GUIDE = {
    "install.md": (
        "# Install\n\n## Running the installer\n\nThe installer creates a virtualenv in the project folder. "
        "Run make run to install Citewise into a virtualenv. The first install takes about seven minutes.\n\n"
        "## Checking the install\n\nThe doctor command checks the database and the index. "
        "Use citewise doctor after every upgrade of the package.\n"
    ),
    "web.md": (
        "# Web UI\n\n## Ports\n\nThe web UI listens on port 8501 by default. "
        "The REST API listens on port 8000 by default. Both ports can be changed in the settings file.\n"
    ),
}
OTHER = {"lunch.md": "# Lunch\n\n## Canteen hours\n\nThe canteen serves soup every day at noon sharp.\n"}


def _write(root: Path, files: dict[str, str]) -> Path:
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text)
    return root


@pytest.fixture
def kb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CITEWISE_EMBEDDER", "fake-hashing")
    settings = Settings(data_dir=tmp_path / "data")
    knowledge_base: KnowledgeBase = build_knowledge_base(settings)
    with knowledge_base:
        knowledge_base.open(writable=True)
        build_pipeline(settings, knowledge_base, collection="guide").run([_write(tmp_path / "guide", GUIDE)])
        build_pipeline(settings, knowledge_base, collection="other").run([_write(tmp_path / "other", OTHER)])
        yield knowledge_base


def _plain(text: str) -> str:
    return " ".join(text.split())


def test_every_positive_is_a_sentence_of_the_collection(kb) -> None:
    data = evidence_examples(kb, "guide", near=2)
    chunks = [_plain(chunk.text) for chunk in collection_chunks(kb, "guide")]
    assert {example.kind for example in data.examples} == {"cloze", "heading"}
    assert len(data.examples) >= 6
    for example in data.examples:
        assert any(example.positive in chunk for chunk in chunks), example.positive
        assert "canteen" not in example.positive.lower()  # another collection's text


def test_negatives_differ_from_the_positive_and_do_not_hold_the_answer(kb) -> None:
    data = evidence_examples(kb, "guide", near=2)
    for example in data.examples:
        assert example.negatives
        assert len(set(example.negatives)) == len(example.negatives)
        for negative in example.negatives:
            assert negative != example.positive and negative not in example.positive
            if example.kind == "cloze":
                assert f" {normalize(example.answer)} " not in f" {normalize(negative)} "


def test_search_adds_hard_negatives_from_other_chunks_of_the_same_collection(kb) -> None:
    alone = {e.question: e for e in evidence_examples(kb, "guide", near=0, headings=False).examples}
    searched = evidence_examples(kb, "guide", near=3, headings=False).examples
    assert searched and {e.question for e in searched} == set(alone)
    guide_units = {u for chunk in collection_chunks(kb, "guide") for u in units(chunk.text)}
    grew = 0
    for example in searched:
        assert set(alone[example.question].negatives) <= set(example.negatives)
        assert set(example.negatives) <= guide_units
        grew += len(example.negatives) > len(alone[example.question].negatives)
    assert grew > 0


def test_the_same_seed_gives_the_same_groups_and_the_limit_holds(kb) -> None:
    first = evidence_examples(kb, "guide", seed=5)
    assert first.examples == evidence_examples(kb, "guide", seed=5).examples
    assert len(evidence_examples(kb, "guide", limit=2).examples) == 2
    assert first.examples[0].pair().question == first.examples[0].question


def test_an_unknown_collection_is_an_error(kb) -> None:
    with pytest.raises(CollectionNotFoundError):
        evidence_examples(kb, "nope")
