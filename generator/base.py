"""The generator protocol every backend implements (``registry.py`` builds them by name).

Backends are cheap to construct and load their model in ``warm_up`` (or on first use), so the CLI,
the API and tests can create them freely. A spec names a backend and, optionally, a model:

    extractive                      no language model: the best-matching passage sentences, cited
    llamacpp:qwen2.5-0.5b           a packaged GGUF model by name
    llamacpp:/models/any.gguf       any GGUF file
    transformers:/models/checkpoint a local Hugging Face checkpoint directory (torch, fp32)
    gpt:/models/trained             a model trained by ``citewise train`` (gpt-int8: quantised)
    qwen2.5-0.5b, /models/any.gguf  shorthand: a built-in model name or a GGUF path means llamacpp
    package.module:factory          a third-party backend
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class GenerationOptions:
    max_tokens: int = 256
    temperature: float = 0.0  # greedy by default: answers should be reproducible
    top_p: float = 1.0  # nucleus sampling, when temperature > 0
    seed: int | None = None  # the sampler's seed, when temperature > 0 (None: the backend's own)
    stop: tuple[str, ...] = ()
    prompt_lookup: bool = False  # draft tokens from the prompt (speculative decoding), where supported
    # Hold an answer to a verbatim span of one shown passage, cited (or the decline), where the
    # backend supports it (llama.cpp; the trained model always copies).
    copy: bool = False
    # The reply must be JSON matching this JSON schema (its JSON text), where the backend can
    # hold it to one (``structured_output``: llama.cpp grammars).
    json_schema: str | None = None


@dataclass(frozen=True, slots=True)
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" or "length"
    timings: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class Generator(Protocol):
    """What the answer pipeline needs from a model."""

    name: str

    @property
    def context_window(self) -> int: ...

    def warm_up(self) -> None: ...

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """Tokens the model sees for these messages, chat template included."""
        ...

    def generate(self, messages: Sequence[Message], options: GenerationOptions) -> Generation: ...

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        """Text pieces as the model produces them."""
        ...


@runtime_checkable
class ReplyScorer(Protocol):
    """Optional: how likely the model is to start its reply with a given text.

    The answer pipeline asks how likely the reply "The documents do not say" is, and abstains above
    a threshold calibrated per model: greedy decoding only declines when that reply is the single
    most likely one, which small models rarely make it.
    """

    def reply_logprob(self, messages: Sequence[Message], reply_start: str, max_tokens: int = 3) -> float:
        """Natural-log probability of the first ``max_tokens`` tokens of ``reply_start``."""
        ...


class GeneratorNotFoundError(ValueError):
    pass


class UnsupportedOptionError(ValueError):
    """A generation option this backend cannot honour (JSON output without a grammar)."""


def check_structured_output(generator: object, options: GenerationOptions) -> None:
    if options.json_schema is not None and not getattr(generator, "structured_output", False):
        name = getattr(generator, "name", type(generator).__name__)
        raise UnsupportedOptionError(f"JSON output needs a llama.cpp (GGUF) model; {name} cannot write it")


class PromptTooLongError(ValueError):
    """A prompt does not fit the model's context window. Callers fit their prompts first (see
    ``generator.window``); a backend raises this instead of its own error when one still does not."""

    def __init__(self, message: str, *, tokens: int, limit: int) -> None:
        super().__init__(message)
        self.tokens, self.limit = tokens, limit
