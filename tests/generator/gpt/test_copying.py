"""Copy-constrained decoding: whatever the model's weights, an answer is a word-aligned span of a
shown passage cited to a passage that holds it, or the decline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from generator.base import GenerationOptions
from generator.gpt.backend import GPTGenerator
from generator.gpt.copying import CopyConstraint, TokenBytes, byte_decoder
from generator.gpt.model import GPT, GPTConfig
from generator.gpt.tokenizer import train_tokenizer
from generator.prompt import NOT_IN_DOCUMENTS, SYSTEM_PROMPT, Passage, build_messages

PASSAGES = [
    "Backups of the billing database run every night and are kept for 35 days.",
    "The Zürich office opened in 2011; its   staff\ngrew to 40 by 2015.",
    "Alerts from staging go to the #staging channel, not to the pager.",
]
CORPUS = [SYSTEM_PROMPT, NOT_IN_DOCUMENTS, *PASSAGES] * 3


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(CORPUS, vocab_size=420, min_frequency=1)


@pytest.fixture(scope="module")
def untrained(tmp_path_factory, tokenizer) -> Path:
    """Random weights: the constraint alone must keep the answers well-formed."""
    torch.manual_seed(1)
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, context=256, n_layer=1, n_head=2, n_embd=32))
    directory = tmp_path_factory.mktemp("untrained")
    model.save(directory)
    tokenizer.save(directory)
    return directory


def test_the_byte_alphabet_maps_every_byte_once() -> None:
    table = byte_decoder()
    assert sorted(table.values()) == list(range(256))
    assert table["Ġ"] == ord(" ") and table["a"] == ord("a")


def test_token_bytes_match_what_the_tokens_decode_to(tokenizer) -> None:
    tokens = TokenBytes.of(tokenizer)
    for token, piece in tokens.pieces.items():
        text = tokenizer.decode([token])
        if "\ufffd" not in text:
            assert piece == text.encode().lower()
        assert token in tokens.by_bytes[piece]
    assert tokens.decline == tuple(tokenizer.encode(NOT_IN_DOCUMENTS))
    assert tokenizer.end_of_turn in tokens.span_ends


def test_every_token_of_a_passage_phrase_is_allowed_in_turn(tokenizer) -> None:
    """Including a character that byte-level tokens split (ü) and collapsed whitespace."""
    constraint = CopyConstraint(TokenBytes.of(tokenizer), [(1, PASSAGES[0]), (2, PASSAGES[1])])
    produced: list[int] = []
    for token in tokenizer.encode("Zürich office opened in 2011; its staff grew"):
        assert token in constraint.allowed(produced)
        produced.append(token)
    assert constraint.finish(produced) == " [2]"


def test_letter_case_does_not_count(tokenizer) -> None:
    constraint = CopyConstraint(TokenBytes.of(tokenizer), [(1, PASSAGES[0])])
    produced: list[int] = []
    for token in tokenizer.encode("backups Of the"):
        assert token in constraint.allowed(produced)
        produced.append(token)
    assert constraint.finish(produced) == " [1]"


def test_spans_start_and_end_on_word_boundaries(tokenizer) -> None:
    tokens = TokenBytes.of(tokenizer)
    constraint = CopyConstraint(tokens, [(1, PASSAGES[0])])
    first = constraint.allowed([])
    assert tokenizer.encode("Backups")[0] in first
    assert all(not tokens.pieces.get(t, b"x").startswith(b" ") for t in first)  # no leading space
    produced = tokenizer.encode("Backups of the bill")
    if all(t in tokens.pieces for t in produced):  # "bill" ends inside "billing": no end there
        assert not constraint.allowed(produced) & tokens.span_ends
    done = tokenizer.encode("Backups of the billing")
    assert constraint.allowed(done) & tokens.span_ends


def test_the_decline_can_be_spelled_out_and_then_ends(tokenizer) -> None:
    tokens = TokenBytes.of(tokenizer)
    constraint = CopyConstraint(tokens, [(1, PASSAGES[2])])
    decline = list(tokens.decline)
    for position in range(len(decline)):
        assert decline[position] in constraint.allowed(decline[:position])
    assert constraint.allowed(decline) == set(tokens.span_ends)
    assert constraint.finish(decline) == ""


def _starts_a_word_in(span: str, text: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(span.lower()), text.lower()) is not None


def _answers(generator: GPTGenerator, question: str, seeds: int) -> list[str]:
    messages = build_messages(question, [Passage(n, text) for n, text in enumerate(PASSAGES, start=1)])
    replies = []
    for seed in range(seeds):
        torch.manual_seed(seed)
        options = GenerationOptions(max_tokens=12, temperature=1.0, stop=("\n",))
        replies.append("".join(generator.stream(messages, options)))
    return replies


def test_a_random_model_still_answers_with_cited_copies(untrained: Path) -> None:
    generator = GPTGenerator(str(untrained))
    normal = [" ".join(text.split()) for text in PASSAGES]
    for reply in _answers(generator, "How long are backups kept?", seeds=25):
        if reply == NOT_IN_DOCUMENTS:
            continue
        match = re.fullmatch(r"(.+) \[(\d)\]", reply)
        assert match, reply
        span, number = match.group(1), int(match.group(2))
        assert _starts_a_word_in(span, normal[number - 1]), reply
        assert not any(_starts_a_word_in(span, text) for text in normal[: number - 1]), reply


def test_without_copying_the_random_model_writes_anything(untrained: Path) -> None:
    free = GPTGenerator(str(untrained), copy=False)
    normal = " ".join(" ".join(text.split()) for text in PASSAGES)
    replies = _answers(free, "How long are backups kept?", seeds=5)
    copies = [re.fullmatch(r"(.+) \[\d\]", reply) for reply in replies]
    assert not all(match and match.group(1) in normal for match in copies), replies
