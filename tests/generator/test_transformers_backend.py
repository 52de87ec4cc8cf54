"""The transformers backend on a tiny random checkpoint built in the test (no download)."""

from __future__ import annotations

import pytest

from generator.base import GenerationOptions, Message
from generator.registry import create_generator

CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    path = tmp_path_factory.mktemp("tiny-gpt")
    raw = Tokenizer(models.BPE(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    corpus = ["backups run every night at two", "the office opens at eight", "user: assistant: system:"] * 20
    raw.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=200, special_tokens=["<unk>", "<eos>"]))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<eos>", unk_token="<unk>")
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(path)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=256, n_embd=32, n_layer=1, n_head=2)
    import torch

    torch.manual_seed(
        0
    )  # a fixed model: with some random ones the greedy token's text re-encodes differently
    GPT2LMHeadModel(config).save_pretrained(path)
    return path


def test_generates_streams_and_counts_with_a_local_checkpoint(checkpoint) -> None:
    generator = create_generator(f"transformers:{checkpoint}")
    messages = [Message("system", "be brief"), Message("user", "when do backups run")]
    assert generator.context_window == 256
    prompt_tokens = generator.count_tokens(messages)
    assert prompt_tokens > 5
    options = GenerationOptions(max_tokens=12)
    result = generator.generate(messages, options)
    assert result.prompt_tokens == prompt_tokens and 0 < result.completion_tokens <= 12
    assert "".join(generator.stream(messages, options)) == result.text  # greedy: the same text both ways


def test_reply_scores_are_the_models_own_log_probabilities(checkpoint) -> None:
    import torch

    generator = create_generator(f"transformers:{checkpoint}")
    messages = [Message("user", "when do backups run")]
    greedy = generator.generate(messages, GenerationOptions(max_tokens=1)).text
    score = generator.reply_logprob(messages, greedy, max_tokens=1)
    prompt = generator._input_ids(messages)
    with torch.inference_mode():
        logits = generator._model(input_ids=prompt).logits[0, -1]
    assert score == pytest.approx(float(torch.log_softmax(logits, -1).max()), abs=1e-4)
    assert generator.reply_logprob(messages, "office opens", max_tokens=2) < 0.0


def test_missing_or_non_checkpoint_directories_fail_clearly(tmp_path) -> None:
    with pytest.raises(ValueError, match="needs a checkpoint directory"):
        create_generator("transformers:")
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        create_generator(f"transformers:{tmp_path}").warm_up()
