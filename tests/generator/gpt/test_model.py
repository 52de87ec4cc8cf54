"""The transformer's contract: shapes, causality, cached decoding equal to full decoding, files,
sampling, LoRA merging, int8 within tolerance, and learning."""

from __future__ import annotations

import pytest
import torch

from generator.gpt.lora import add_lora, merge_lora
from generator.gpt.model import GPT, GPTConfig, quantize_int8, sample

TINY = GPTConfig(vocab_size=97, context=64, n_layer=2, n_head=4, n_embd=32)


@pytest.fixture
def model() -> GPT:
    torch.manual_seed(0)
    return GPT(TINY).eval()


def tokens(batch: int, length: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, TINY.vocab_size, (batch, length), generator=torch.Generator().manual_seed(seed))


def test_shapes_loss_and_parameter_count(model: GPT) -> None:
    idx = tokens(3, 10)
    logits, loss = model(idx)
    assert logits.shape == (3, 10, TINY.vocab_size) and loss is None
    _, loss = model(idx, targets=idx)
    assert loss is not None and loss.ndim == 0
    assert abs(loss.item() - torch.log(torch.tensor(97.0)).item()) < 0.5  # untrained: about uniform
    assert sum(p.numel() for p in model.parameters()) == TINY.parameters  # tied head counted once
    assert model.lm_head.weight is model.wte.weight


def test_ignored_targets_do_not_count(model: GPT) -> None:
    idx = tokens(1, 8)
    masked = idx.clone()
    masked[0, :4] = -100
    _, partial = model(idx, targets=masked)
    logits, _ = model(idx)
    expected = torch.nn.functional.cross_entropy(logits[0, 4:], idx[0, 4:])
    assert torch.allclose(partial, expected)


def test_no_position_sees_the_future(model: GPT) -> None:
    idx = tokens(1, 12)
    changed = idx.clone()
    changed[0, 7:] = (changed[0, 7:] + 1) % TINY.vocab_size
    before, _ = model(idx)
    after, _ = model(changed)
    assert torch.allclose(before[0, :7], after[0, :7], atol=1e-6)  # positions before the change agree
    assert not torch.allclose(before[0, 7:], after[0, 7:])


def test_cached_decoding_equals_full_decoding(model: GPT) -> None:
    idx = tokens(2, 16)
    full, _ = model(idx)
    cache = model.new_cache(batch=2)
    prefix, _ = model(idx[:, :5], cache=cache)  # a prompt of several tokens, then one at a time
    steps = [prefix] + [model(idx[:, t : t + 1], cache=cache)[0] for t in range(5, 16)]
    assert cache.length == 16
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)


def test_a_cached_chunk_after_a_prefix_is_causal_too(model: GPT) -> None:
    idx = tokens(1, 12)
    full, _ = model(idx)
    cache = model.new_cache()
    model(idx[:, :4], cache=cache)
    chunk, _ = model(idx[:, 4:12], cache=cache)  # several new tokens against a filled cache
    assert torch.allclose(chunk, full[:, 4:12], atol=1e-5)


def test_the_context_is_enforced(model: GPT) -> None:
    with pytest.raises(ValueError, match="context"):
        model(tokens(1, TINY.context + 1))
    with pytest.raises(ValueError, match="fills the context"):
        list(model.generate(list(range(TINY.context)), 5))


def test_greedy_generation_follows_the_argmax(model: GPT) -> None:
    prompt = [5, 6, 7]
    generated = list(model.generate(prompt, 6))
    assert len(generated) == 6
    sequence = list(prompt)
    for token in generated:  # recompute each step without a cache
        logits, _ = model(torch.tensor([sequence]))
        assert token == int(logits[0, -1].argmax())
        sequence.append(token)


def test_generation_stops_at_a_stop_token(model: GPT) -> None:
    first = next(iter(model.generate([1, 2, 3], 5)))
    assert list(model.generate([1, 2, 3], 5, stop=frozenset({first}))) == []


def test_sampling_respects_top_k_and_top_p() -> None:
    logits = torch.tensor([4.0, 3.0, 2.0, -1.0, -2.0])
    rng = torch.Generator().manual_seed(0)
    assert sample(logits) == 0
    assert {sample(logits, 1.0, top_k=2, generator=rng) for _ in range(200)} == {0, 1}
    # probabilities ~ .66 .24 .09 ...: top_p 0.8 keeps the first two only
    assert {sample(logits, 1.0, top_p=0.8, generator=rng) for _ in range(200)} == {0, 1}
    assert len({sample(logits, 5.0, generator=rng) for _ in range(300)}) == 5  # hot: anything goes


def test_save_and_load_round_trip(model: GPT, tmp_path) -> None:
    model.save(tmp_path / "m")
    loaded = GPT.load(tmp_path / "m")
    idx = tokens(1, 9)
    assert loaded.config == TINY and loaded.lm_head.weight is loaded.wte.weight
    assert torch.equal(model(idx)[0], loaded(idx)[0])
    (tmp_path / "m" / "config.json").write_text(
        '{"vocab_size": 97, "context": 64, "n_layer": 3, "n_head": 4, "n_embd": 32}'
    )
    with pytest.raises(ValueError, match="does not match"):
        GPT.load(tmp_path / "m")


def test_lora_starts_neutral_trains_only_adapters_and_merges_exactly(model: GPT) -> None:
    idx = tokens(2, 10)
    before, _ = model(idx)
    wrapped = add_lora(model, rank=4)
    assert len(wrapped) == 4 * TINY.n_layer
    assert torch.allclose(model(idx)[0], before, atol=1e-6)  # B = 0: no change yet
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(".lora_" in n for n in trainable)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("lora_b"):
                parameter.normal_(0, 0.05)
    adapted, _ = model(idx)
    assert not torch.allclose(adapted, before, atol=1e-4)
    assert merge_lora(model) == len(wrapped)
    assert torch.allclose(model(idx)[0], adapted, atol=1e-5)
    assert not any(".lora_" in n for n, _ in model.named_parameters())


def test_int8_stays_close_to_fp32(model: GPT) -> None:
    torch.manual_seed(3)
    idx = tokens(1, 20)
    reference = torch.softmax(model(idx)[0], dim=-1)
    quantized = quantize_int8(model)
    approximate = torch.softmax(quantized(idx)[0], dim=-1)
    assert (approximate - reference).abs().max() < 0.02
    assert (approximate.argmax(-1) == reference.argmax(-1)).float().mean() > 0.9
    assert model.lm_head.weight is model.wte.weight  # the original is untouched


def test_a_few_steps_of_training_lower_the_loss() -> None:
    torch.manual_seed(0)
    model = GPT(TINY)
    pattern = torch.tensor([[3, 1, 4, 1, 5, 9, 2, 6] * 4])  # (1, 32): a repeating sequence to learn
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        _, loss = model(pattern[:, :-1], targets=pattern[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]
