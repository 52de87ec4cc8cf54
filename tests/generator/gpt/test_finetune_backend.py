"""Fine-tuning on pipeline-format prompts, then answering through the registered ``gpt:`` backend."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from generator.base import GenerationOptions, Message
from generator.gpt.finetune import IGNORE, QAExample, batch, encode, read_jsonl, sampler, write_jsonl
from generator.gpt.model import GPT, GPTConfig
from generator.gpt.tokenizer import train_tokenizer
from generator.gpt.train import TrainConfig, Trainer
from generator.prompt import SYSTEM_PROMPT, Passage, build_messages
from generator.registry import create_generator

FACTS = [
    ("The Harbor office moved to Pier 4 in 2011.", "Where did the Harbor office move?", "Pier 4 [1]"),
    ("Backups are kept for 35 days.", "How long are backups kept?", "35 days [1]"),
    ("The pager rotation changes every Monday.", "When does the rotation change?", "every Monday [1]"),
    ("Visitors sign in at the front desk.", "Where do visitors sign in?", "the front desk [1]"),
]


def examples() -> list[QAExample]:
    out = []
    for text, question, reply in FACTS:
        messages = build_messages(question, [Passage(1, text), Passage(2, "Unrelated words about lunch.")])
        out.append(QAExample(tuple(messages), reply))
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A tiny model fine-tuned until it reproduces the four replies; saved as ``citewise train`` does."""
    corpus = [SYSTEM_PROMPT] + [f"{t} {q} {r}" for t, q, r in FACTS] * 5
    tokenizer = train_tokenizer(corpus, vocab_size=600, min_frequency=1)
    config = GPTConfig(vocab_size=tokenizer.vocab_size, context=192, n_layer=2, n_head=2, n_embd=64)
    encoded = [encode(tokenizer, e, config.context) for e in examples()]
    assert all(encoded)
    torch.manual_seed(0)
    model = GPT(config)
    next_batch = sampler(encoded, 4, tokenizer.end_of_text)
    Trainer(model, TrainConfig(steps=120, learning_rate=5e-3, warmup_steps=10), next_batch).run()
    directory = tmp_path_factory.mktemp("trained")
    model.save(directory)
    tokenizer.save(directory)
    return directory


def test_only_reply_tokens_are_learned() -> None:
    tokenizer = train_tokenizer([SYSTEM_PROMPT, *[f for f, _, _ in FACTS]], vocab_size=400, min_frequency=1)
    encoded = encode(tokenizer, examples()[0], context=512)
    assert encoded is not None
    inputs, targets = batch([encoded], pad=tokenizer.end_of_text)
    learned = targets[targets != IGNORE].tolist()
    assert learned == encoded.ids[encoded.reply_start :]  # the reply and its end-of-turn, nothing else
    assert tokenizer.decode(learned) == "Pier 4 [1]"
    assert torch.equal(inputs[0, 1:], torch.tensor(encoded.ids[1:-1]))
    assert encode(tokenizer, examples()[0], context=20) is None  # too long for a small window


def test_the_backend_answers_what_it_was_taught(trained: Path) -> None:
    generator = create_generator(f"gpt:{trained}")
    assert generator.context_window == 192
    options = GenerationOptions(max_tokens=16, stop=("\n",))
    for example in examples():
        assert "".join(generator.stream(list(example.messages), options)) == example.reply
    result = generator.generate(list(examples()[1].messages), options)
    assert result.text == "35 days [1]" and result.prompt_tokens == generator.count_tokens(
        list(examples()[1].messages)
    )


def test_worked_examples_do_not_change_what_the_model_reads(trained: Path) -> None:
    """The backend reads the instruction and the final question only."""
    generator = create_generator(f"gpt:{trained}")
    full = list(examples()[0].messages)
    bare = [full[0], full[-1]]
    assert generator.count_tokens(full) == generator.count_tokens(bare)


def test_stop_strings_cut_the_answer(trained: Path) -> None:
    generator = create_generator(f"gpt:{trained}")
    text = "".join(
        generator.stream(list(examples()[0].messages), GenerationOptions(max_tokens=16, stop=(" [",)))
    )
    assert text == "Pier 4"


def test_int8_variant_runs(trained: Path) -> None:
    generator = create_generator(f"gpt-int8:{trained}")
    replies = [
        "".join(generator.stream(list(e.messages), GenerationOptions(max_tokens=16))) for e in examples()
    ]
    assert sum(r == e.reply for r, e in zip(replies, examples(), strict=True)) >= 3


def test_a_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    generator = create_generator(f"gpt:{tmp_path / 'none'}")
    with pytest.raises(FileNotFoundError, match="no trained Citewise model"):
        generator.warm_up()
    with pytest.raises(ValueError, match="gpt:/path"):
        create_generator("gpt")
    with pytest.raises(ValueError, match="end with a user message"):
        create_generator(f"gpt:{tmp_path}").count_tokens([Message("system", "x")])


def test_jsonl_round_trip_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    write_jsonl(path, [{"question": "q", "answer": "a [1]"}])
    assert read_jsonl(path) == [{"question": "q", "answer": "a [1]"}]
    path.write_text('{"question": "q"}\nnot json\n')
    with pytest.raises(ValueError, match=r"qa\.jsonl:2"):
        read_jsonl(path)
