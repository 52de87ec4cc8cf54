"""The evidence cross-encoder on a tiny random BERT: shapes, learning, and save/load."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from generator.evidence import EvidencePair, EvidenceScorer, TrainOptions, is_checkpoint, train  # noqa: E402

WORDS = (  # noqa: SIM905
    "what when where port ui web backups run nightly at two noon lunch canteen serves soup "
    "parking free visitors sign in install make the is does use listens on 8501 default"
).split()


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """A model this small runs faster on one thread than on two busy ones."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_encoder(tmp_path: Path) -> Path:
    """A 2-layer, 32-wide BERT with a word-level vocabulary: random weights, fast on any CPU."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "?", ".", *WORDS]) + "\n")
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(vocab))
    tokenizer.save_pretrained(folder)
    config = transformers.BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    transformers.BertModel(config).save_pretrained(folder)
    return folder


def test_one_score_per_text_and_none_for_no_text(tiny_encoder: Path) -> None:
    scorer = EvidenceScorer(tiny_encoder)
    scores = scorer.score(
        "what port does the ui use?", ["the web ui listens on 8501.", "lunch is at noon.", "x"]
    )
    assert len(scores) == 3 and all(isinstance(s, float) for s in scores)
    assert scorer.score("what port?", []) == []


def test_the_constructor_loads_nothing(tmp_path: Path) -> None:
    EvidenceScorer(tmp_path / "does-not-exist")  # no error until warm_up


def test_the_untrained_head_is_seeded(tiny_encoder: Path) -> None:
    texts = ["the web ui listens on 8501.", "lunch is at noon."]
    first = EvidenceScorer(tiny_encoder, seed=3).score("what port?", texts)
    again = EvidenceScorer(tiny_encoder, seed=3).score("what port?", texts)
    other = EvidenceScorer(tiny_encoder, seed=4).score("what port?", texts)
    assert first == again and first != other


PAIRS = [
    EvidencePair(
        "what port does the ui use?", "the web ui listens on 8501.", ("lunch is at noon.", "parking is free.")
    ),
    EvidencePair(
        "when do backups run?",
        "backups run nightly at two.",
        ("the canteen serves soup.", "visitors sign in."),
    ),
    EvidencePair("where is lunch?", "lunch is at the canteen.", ("install make run.", "parking is free.")),
]


def _positive_rank(scorer: EvidenceScorer, pair: EvidencePair) -> int:
    scores = scorer.score(pair.question, [pair.positive, *pair.negatives])
    return sum(score > scores[0] for score in scores[1:])


def test_training_on_a_separable_set_puts_the_positive_first(tiny_encoder: Path) -> None:
    scorer = EvidenceScorer(tiny_encoder, seed=1)
    before = sum(_positive_rank(scorer, pair) for pair in PAIRS)
    seen: list[int] = []
    options = TrainOptions(
        seconds=60, max_steps=150, questions_per_step=3, learning_rate=3e-3, warmup_steps=5
    )
    report = train(scorer, PAIRS, options, progress=lambda step, _s, _l: seen.append(step))
    assert report.steps == 150 and report.stopped_by == "steps" and seen == list(range(1, 151))
    assert report.last_loss is not None and report.first_loss is not None
    assert report.last_loss < report.first_loss / 2
    assert all(_positive_rank(scorer, pair) == 0 for pair in PAIRS)
    assert before > 0  # the random start did not rank them all right already


def test_training_is_deterministic_and_leaves_the_global_rng_alone(tiny_encoder: Path) -> None:
    options = TrainOptions(seconds=60, max_steps=5, questions_per_step=2, learning_rate=1e-3)
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    runs = []
    for _ in range(2):
        scorer = EvidenceScorer(tiny_encoder)
        train(scorer, PAIRS, options)
        runs.append(scorer.score("what port?", ["the web ui listens on 8501.", "lunch is at noon."]))
    assert runs[0] == runs[1]
    assert torch.equal(torch.random.get_rng_state(), state)


def test_the_time_budget_stops_training_and_no_negatives_means_no_training(tiny_encoder: Path) -> None:
    scorer = EvidenceScorer(tiny_encoder)
    assert train(scorer, PAIRS, TrainOptions(seconds=0.0)).stopped_by == "time"
    empty = train(scorer, [EvidencePair("q?", "a.", ())], TrainOptions())
    assert empty.steps == 0 and empty.stopped_by == "no data"


def test_save_then_load_gives_the_same_scores(tiny_encoder: Path, tmp_path: Path) -> None:
    scorer = EvidenceScorer(tiny_encoder, pooling="cls", seed=2)
    train(scorer, PAIRS, TrainOptions(seconds=60, max_steps=3, questions_per_step=2))
    texts = ["the web ui listens on 8501.", "lunch is at noon.", "parking is free."]
    wanted = scorer.score("what port does the ui use?", texts)

    scorer.save(tmp_path / "full", half=False)
    assert is_checkpoint(tmp_path / "full") and not is_checkpoint(tiny_encoder)
    loaded = EvidenceScorer(tmp_path / "full", pooling="mean", seed=9)  # the checkpoint's settings win
    assert loaded.settings.pooling == "cls"
    assert loaded.score("what port does the ui use?", texts) == wanted

    scorer.save(tmp_path / "half")  # fp16 on disk: close, and the same order
    halved = EvidenceScorer(tmp_path / "half").score("what port does the ui use?", texts)
    assert halved == pytest.approx(wanted, abs=1e-2)
    assert sorted(range(3), key=halved.__getitem__) == sorted(range(3), key=wanted.__getitem__)
