"""The training loop: the loss falls, checkpoints resume exactly, the schedule has its shape."""

from __future__ import annotations

from itertools import pairwise

import torch

from generator.gpt.dataset import TokenFile, write_tokens
from generator.gpt.model import GPT, GPTConfig
from generator.gpt.train import TrainConfig, Trainer, learning_rate, mean_loss

CONFIG = GPTConfig(vocab_size=32, context=16, n_layer=2, n_head=2, n_embd=32)


def corpus(tmp_path) -> TokenFile:
    """A language with structure to learn: counting sequences modulo 30, restarted at random."""
    rng = torch.Generator().manual_seed(1)
    docs = []
    for _ in range(200):
        start = int(torch.randint(0, 30, (1,), generator=rng))
        docs.append([(start + i) % 30 for i in range(12)])
    write_tokens(tmp_path / "train.bin", docs, separator=31)
    return TokenFile(tmp_path / "train.bin")


def trainer(tmp_path, steps: int, checkpoint: bool = False) -> Trainer:
    tokens = corpus(tmp_path)
    torch.manual_seed(0)
    model = GPT(CONFIG)
    held_out = list(tokens.windows(CONFIG.context, limit=8))
    return Trainer(
        model,
        TrainConfig(steps=steps, learning_rate=1e-2, min_learning_rate=1e-3, warmup_steps=5, eval_every=10),
        lambda rng: tokens.batch(8, CONFIG.context, rng),
        lambda m: mean_loss(m, held_out),
        checkpoint_dir=tmp_path / "ckpt" if checkpoint else None,
    )


def test_the_loss_falls_and_progress_is_reported(tmp_path) -> None:
    seen = []
    state = trainer(tmp_path, 60).run(seen.append)
    validation = [r["val_loss"] for r in state.history if "val_loss" in r]
    assert len(validation) == 6 and validation[-1] < 0.5 * validation[0]
    assert state.tokens == 60 * 8 * CONFIG.context and len(seen) == 60
    assert seen[-1].step == 60 and seen[-1].tokens_per_s > 0 and seen[-1].eta_s == 0


def test_a_resumed_run_ends_exactly_where_an_uninterrupted_one_does(tmp_path) -> None:
    straight = trainer(tmp_path / "a", 20)
    straight.run()
    first = trainer(tmp_path / "b", 20, checkpoint=True)
    first.run(until=10)  # as if killed after step 10
    assert (tmp_path / "b" / "ckpt" / "trainer.json").is_file()
    assert not (tmp_path / "b" / "ckpt.part").exists()
    resumed = Trainer(
        GPT(CONFIG),
        TrainConfig(steps=20, learning_rate=1e-2, min_learning_rate=1e-3, warmup_steps=5, eval_every=10),
        first.next_batch,
        first.validation_loss,
        checkpoint_dir=tmp_path / "b" / "ckpt",
    )
    assert resumed.state.step == 10
    resumed.run()
    for (name, a), (_, b) in zip(
        straight.model.state_dict().items(), resumed.model.state_dict().items(), strict=True
    ):
        assert torch.allclose(a, b, atol=1e-5), name
    assert [r["step"] for r in resumed.state.history] == list(range(1, 21))


def test_learning_rate_warms_up_then_decays() -> None:
    config = TrainConfig(steps=100, learning_rate=1.0, min_learning_rate=0.1, warmup_steps=10)
    rates = [learning_rate(config, s) for s in range(100)]
    assert rates[0] == 0.1 and rates[9] == 1.0
    assert all(a >= b for a, b in pairwise(rates[9:]))
    assert abs(learning_rate(config, 100) - 0.1) < 1e-9
