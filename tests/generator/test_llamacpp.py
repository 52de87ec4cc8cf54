"""The real llama.cpp path with the packaged models (SmolLM2-135M is tiny and fast; the default
Qwen model is only joined and verified here, and loaded once)."""

from __future__ import annotations

import json

import pytest

from generator.base import GenerationOptions, Message, PromptTooLongError
from generator.models import BUILTIN_MODELS, resolve_model_file
from generator.registry import create_generator
from generator.window import reply_tokens

pytestmark = pytest.mark.model

MESSAGES = [
    Message("system", "Answer briefly."),
    Message("user", "Passages:\n\n[1] The office opens at 8am.\n\nQuestion: When does the office open?"),
]


@pytest.fixture(scope="module")
def smollm(tmp_path_factory):
    generator = create_generator("smollm2-135m", cache_dir=tmp_path_factory.mktemp("models"), threads=2)
    generator.warm_up()
    return generator


def test_generates_counts_and_streams_the_same_text(smollm) -> None:
    prompt_tokens = smollm.count_tokens(MESSAGES)
    assert 20 < prompt_tokens < 200
    options = GenerationOptions(max_tokens=24)
    result = smollm.generate(MESSAGES, options)
    assert result.prompt_tokens == prompt_tokens  # our count is what the model saw
    assert 0 < result.completion_tokens <= 24 and result.text.strip()
    assert "".join(smollm.stream(MESSAGES, options)).strip() == result.text.strip()


def test_prompt_lookup_decoding_changes_speed_not_text(smollm, tmp_path) -> None:
    plain = smollm.generate(MESSAGES, GenerationOptions(max_tokens=24))
    assert smollm.generate(MESSAGES, GenerationOptions(max_tokens=24, prompt_lookup=True)).text == plain.text
    drafting = create_generator("smollm2-135m", cache_dir=tmp_path, threads=2, prompt_lookup=True)
    drafted = drafting.generate(MESSAGES, GenerationOptions(max_tokens=24, prompt_lookup=True))
    assert drafted.text == plain.text  # greedy speculative decoding is lossless


def test_stop_sequences_end_the_answer(smollm) -> None:
    text = smollm.generate(MESSAGES, GenerationOptions(max_tokens=48, stop=("8",))).text
    assert "8" not in text


def test_the_default_model_is_joined_verified_and_loads(tmp_path) -> None:
    path = resolve_model_file("qwen2.5-0.5b", tmp_path)
    assert path.stat().st_size == BUILTIN_MODELS["qwen2.5-0.5b"].size
    assert resolve_model_file("qwen2.5-0.5b", tmp_path) == path  # second call reuses the verified file
    qwen = create_generator("qwen2.5-0.5b", cache_dir=tmp_path, threads=2)
    answer = qwen.generate(MESSAGES, GenerationOptions(max_tokens=16)).text
    assert "8" in answer  # it reads the passage


def test_reply_scores_rank_the_greedy_reply_first_and_leave_generation_unchanged(smollm, tmp_path) -> None:
    options = GenerationOptions(max_tokens=16)
    before = smollm.generate(MESSAGES, options).text
    likely = smollm.reply_logprob(MESSAGES, before, max_tokens=2)
    unlikely = smollm.reply_logprob(MESSAGES, "Zebra quantum marmalade", max_tokens=2)
    assert unlikely < likely <= 0.0
    assert smollm.reply_logprob(MESSAGES, before, max_tokens=2) == pytest.approx(likely, abs=1e-3)  # cached
    assert smollm.generate(MESSAGES, options).text == before  # scoring left the context consistent
    drafting = create_generator("smollm2-135m", cache_dir=tmp_path, threads=2, prompt_lookup=True)
    assert drafting.reply_logprob(MESSAGES, before, max_tokens=2) == pytest.approx(likely, abs=0.05)


def test_a_long_prompt_decodes_with_prompt_lookup(tmp_path) -> None:
    """More than one batch of prompt tokens: llama-cpp-python's logits buffer must be sized for it."""
    passage = " ".join(f"Item {i} is stored on shelf {i % 7}." for i in range(120))
    messages = [Message("user", f"{passage}\n\nWhich shelf holds item 12?")]
    drafting = create_generator("smollm2-135m", cache_dir=tmp_path, threads=2, prompt_lookup=True)
    assert drafting.count_tokens(messages) > 600
    text = drafting.generate(messages, GenerationOptions(max_tokens=12, prompt_lookup=True)).text
    assert text.strip()


def test_a_prompt_longer_than_the_window_is_a_typed_error_on_every_path(smollm) -> None:
    """Not llama.cpp's bare ValueError: the API maps this one to a client error, never a 500."""
    too_long = [Message("user", "lorem ipsum dolor sit amet " * 800)]  # about 4,000 tokens > 2,048
    assert smollm.count_tokens(too_long) > smollm.context_window
    options = GenerationOptions(max_tokens=8)
    with pytest.raises(PromptTooLongError, match="context window") as raised:
        smollm.generate(too_long, options)
    assert raised.value.tokens > raised.value.limit
    with pytest.raises(PromptTooLongError):
        list(smollm.stream(too_long, options))
    with pytest.raises(PromptTooLongError):
        smollm.reply_logprob(too_long, "The documents do not say")
    assert smollm.generate(MESSAGES, options).text.strip()  # the model still answers afterwards


def test_a_copied_answer_is_a_span_of_the_passage_with_its_citation(smollm) -> None:
    from generator.prompt import NOT_IN_DOCUMENTS, Passage, build_messages

    passage = "The office opens at 8am on weekdays and at 10am on Saturdays."
    messages = build_messages("When does the office open on Saturdays?", [Passage(1, passage)])
    options = GenerationOptions(max_tokens=24, stop=("\n",), copy=True)
    text = smollm.generate(messages, options).text.strip()
    assert "".join(smollm.stream(messages, options)).strip() == text
    if text != NOT_IN_DOCUMENTS:
        assert text.endswith(" [1]"), text
        assert text.removesuffix(" [1]").lower() in passage.lower()


def test_json_output_matches_the_schema_streamed_and_generated_alike(smollm) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string", "maxLength": 40}, "year": {"type": "integer"}},
        "required": ["answer", "year"],
    }
    options = GenerationOptions(max_tokens=64, json_schema=json.dumps(schema))
    reply = json.loads(smollm.generate(MESSAGES, options).text)
    assert (
        set(reply) == {"answer", "year"} and isinstance(reply["answer"], str) and len(reply["answer"]) <= 40
    )
    assert isinstance(reply["year"], int)
    assert json.loads("".join(smollm.stream(MESSAGES, options))) == reply


def test_counted_reply_tokens_match_the_models_own_count(smollm) -> None:
    result = smollm.generate(MESSAGES, GenerationOptions(max_tokens=24))
    assert abs(reply_tokens(smollm, result.text) - result.completion_tokens) <= 1
