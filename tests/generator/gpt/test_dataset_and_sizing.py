"""Training data preparation and the compute-budget sizing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from generator.gpt.dataset import Passage, TokenFile, clean_text, deduplicate, split_by_document, write_tokens
from generator.gpt.sizing import TOKENS_PER_PARAMETER, budget_seconds, plan


def test_cleaning_and_deduplication() -> None:
    assert clean_text("a  b\t c \n\n\n\nd\x07 ") == "a b c\n\nd"
    passages = [
        Passage("d1", "Same  text."),
        Passage("d2", "same text."),
        Passage("d3", "  "),
        Passage("d3", "Other."),
    ]
    kept = deduplicate(passages)
    assert [(p.document, p.text) for p in kept] == [("d1", "Same text."), ("d3", "Other.")]


def test_split_keeps_documents_whole_and_is_deterministic() -> None:
    passages = [Passage(f"doc{d}", f"passage {d}-{i}") for d in range(20) for i in range(3)]
    train, validation = split_by_document(passages, 0.2, seed=4)
    assert {p.document for p in train}.isdisjoint({p.document for p in validation})
    assert len({p.document for p in validation}) == 4 and len(train) + len(validation) == 60
    assert split_by_document(passages, 0.2, seed=4) == (train, validation)
    two = [Passage("a", "x"), Passage("b", "y")]
    assert all(split_by_document(two, 0.01))  # both sides get a document


def test_token_file_round_trip_and_batches(tmp_path) -> None:
    path = tmp_path / "train.bin"
    count = write_tokens(path, [[1, 2, 3], [4, 5]], separator=0)
    assert count == 7 and not path.with_suffix(".bin.part").exists()
    tokens = TokenFile(path)
    assert tokens.tokens.tolist() == [1, 2, 3, 0, 4, 5, 0]
    x, y = tokens.batch(4, 3, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 3) and x.dtype == torch.int64
    assert torch.equal(x[:, 1:], y[:, :-1])  # targets are the inputs shifted by one
    windows = list(tokens.windows(3))
    assert [w[0].tolist() for w in windows] == [[[1, 2, 3]], [[0, 4, 5]]]
    with pytest.raises(ValueError, match="fewer than a window"):
        tokens.batch(1, 10, torch.Generator())


def test_ids_that_do_not_fit_are_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="65535"):
        write_tokens(tmp_path / "x.bin", [[1, 2], [70_000]], separator=0)
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left


def test_bigger_budgets_buy_bigger_models_at_about_twenty_tokens_each() -> None:
    small = plan(60, 5e10, vocab_size=4096, context=256)
    large = plan(3600, 5e10, vocab_size=4096, context=256)
    assert large.config.parameters > small.config.parameters
    for chosen in (small, large):
        assert chosen.tokens_per_parameter >= TOKENS_PER_PARAMETER or chosen.config.n_embd == 64
    assert np.isclose(large.tokens, 5e10 * 3600 / (6 * large.config.parameters), rtol=1e-6)


@pytest.mark.parametrize(("text", "seconds"), [("30m", 1800), ("2h", 7200), ("90s", 90), ("45", 45)])
def test_budgets_parse(text: str, seconds: float) -> None:
    assert budget_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "-5m", "0", "nanm"])
def test_bad_budgets_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        budget_seconds(text)


def test_a_small_corpus_caps_the_model_and_the_tokens() -> None:
    roomy = plan(3600, 5e10, vocab_size=4096, context=256)
    capped = plan(3600, 5e10, vocab_size=4096, context=256, corpus_tokens=100_000)
    assert capped.tokens == 1_600_000 and capped.config.parameters < roomy.config.parameters
