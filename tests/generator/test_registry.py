"""Building generators from specs: cheap construction, clear errors, third-party factories."""

from __future__ import annotations

import pytest

from generator.base import GenerationOptions, GeneratorNotFoundError, Message
from generator.llamacpp import LlamaCppGenerator
from generator.registry import create_generator, registered_backends


def test_builtin_names_and_gguf_paths_mean_llamacpp(tmp_path) -> None:
    default = create_generator("qwen2.5-0.5b", cache_dir=tmp_path)
    assert isinstance(default, LlamaCppGenerator) and default.model_ref == "qwen2.5-0.5b"
    assert default._llm is None  # constructing loads nothing
    assert create_generator("llamacpp:smollm2-135m").context_window == 2048
    assert create_generator("/models/custom.gguf").model_ref == "/models/custom.gguf"
    assert create_generator("llamacpp:").model_ref == "qwen2.5-0.5b"  # the default model
    assert "llamacpp" in registered_backends()


def test_registered_and_module_factories(tmp_path) -> None:
    fake = create_generator("fake:echo", reply="hello [1].")
    assert fake.name == "fake:echo"
    assert fake.generate([Message("user", "q")], GenerationOptions()).text == "hello [1]."
    third_party = create_generator("generator.testing:scripted_generator", reply="x")
    assert third_party.generate([Message("user", "q")], GenerationOptions()).text == "x"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "no generator given"),
        ("gpt-17", "unknown generator 'gpt-17'"),
        ("no.such.module:factory", "cannot import generator module"),
        ("generator.testing:missing", "has no generator factory 'missing'"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec, message) -> None:
    with pytest.raises(GeneratorNotFoundError, match=message):
        create_generator(spec)


def test_streaming_and_stops_in_the_fake_behave_like_a_model() -> None:
    fake = create_generator("fake", reply="Paris is the capital [1]. END more")
    options = GenerationOptions(max_tokens=50, stop=(" END",))
    assert "".join(fake.stream([Message("user", "q")], options)) == "Paris is the capital [1]."
