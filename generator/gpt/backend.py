"""The trained model as an answer backend: ``gpt:DIR`` (fp32) or ``gpt-int8:DIR`` (int8 linear layers).

DIR holds ``config.json``, ``model.safetensors`` and ``tokenizer.json`` (what ``citewise train``
writes). It receives the same prompt as every backend and goes through the same citation check and
abstention. Of the prompt's messages it reads the instruction and the last question with its
passages: the worked examples are there for models that learn in context, while this one was
fine-tuned on the task, and its window is small. Training encodes prompts with the same function.
Answers to prompts with passages are decoded as copies of them (``generator.gpt.copying``); with
``copy=False`` the model writes freely.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from generator.base import Generation, GenerationOptions, Message
from generator.gpt.copying import CopyConstraint, TokenBytes


def prompt_messages(messages: Sequence[Message]) -> list[Message]:
    """The messages the model reads: system instruction(s) and the final user turn."""
    if not messages or messages[-1].role != "user":
        raise ValueError("the prompt must end with a user message")
    return [m for m in messages[:-1] if m.role == "system"] + [messages[-1]]


class GPTGenerator:
    thread_safe = False

    def __init__(
        self,
        model: str = "",
        *,
        int8: bool = False,
        copy: bool = True,
        threads: int | None = None,
        **_: object,
    ) -> None:
        if not model:
            raise ValueError("name the trained model's folder: gpt:/path/to/model")
        self.directory = Path(model).expanduser()
        self.int8 = int8
        self.copy = copy  # answers are held to spans of the shown passages (generator.gpt.copying)
        self.name = f"{'gpt-int8' if int8 else 'gpt'}:{self.directory}"
        self._threads = threads
        self._model: Any = None
        self._tokenizer: Any = None
        self._token_bytes: Any = None
        self._lock = threading.Lock()

    @property
    def context_window(self) -> int:
        if self._model is not None:
            return int(self._model.config.context)
        try:
            return int(json.loads((self.directory / "config.json").read_text())["context"])
        except (OSError, ValueError, KeyError) as exc:
            raise FileNotFoundError(f"{self.directory} holds no trained Citewise model ({exc})") from exc

    def warm_up(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            import torch

            from generator.gpt.model import GPT, quantize_int8
            from generator.gpt.tokenizer import CorpusTokenizer

            if not (self.directory / "config.json").is_file():
                raise FileNotFoundError(f"{self.directory} holds no trained Citewise model (no config.json)")
            if self._threads:
                torch.set_num_threads(self._threads)
            model = GPT.load(self.directory)
            self._tokenizer = CorpusTokenizer.load(self.directory)
            self._token_bytes = TokenBytes.of(self._tokenizer)
            self._model = quantize_int8(model) if self.int8 else model

    def prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        read = prompt_messages(messages)
        self.warm_up()
        return self._tokenizer.chat_ids(read)[0]

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return len(self.prompt_ids(messages))

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        ids = self.prompt_ids(messages)
        tokenizer = self._tokenizer
        stops = frozenset({tokenizer.end_of_turn, tokenizer.end_of_text})
        constraint = self._constraint(messages)
        if constraint is not None:
            stops |= self._token_bytes.span_ends
        produced: list[int] = []
        sent = ""
        with self._lock:
            for token in self._model.generate(
                ids,
                options.max_tokens,
                temperature=options.temperature,
                top_p=options.top_p,
                generator=_seeded(options.seed),
                stop=stops,
                allowed=constraint.allowed if constraint is not None else None,
            ):
                produced.append(token)
                text = tokenizer.decode(produced)
                if text.endswith("\ufffd"):
                    continue  # half of a multi-byte character: wait for the rest
                cut = _first_stop(text, options.stop)
                piece = text[len(sent) : cut]
                if piece:
                    yield piece
                    sent += piece
                if cut is not None:
                    return
            if constraint is not None:  # the citation, unless a stop string cuts it
                text = sent + constraint.finish(produced)
                piece = text[len(sent) : _first_stop(text, options.stop)]
                if piece:
                    yield piece

    def _constraint(self, messages: Sequence[Message]) -> CopyConstraint | None:
        """Copying applies to answer prompts (with passages); other prompts decode freely."""
        if not self.copy:
            return None
        constraint = CopyConstraint.for_prompt(self._token_bytes, messages)
        return constraint if constraint.texts else None

    def generate(self, messages: Sequence[Message], options: GenerationOptions) -> Generation:
        started = time.perf_counter()
        text = "".join(self.stream(messages, options))
        return Generation(
            text=text,
            prompt_tokens=self.count_tokens(messages),
            completion_tokens=len(self._tokenizer.encode(text)),
            finish_reason="stop",
            timings={"total_s": time.perf_counter() - started},
        )


def _first_stop(text: str, stops: Sequence[str]) -> int | None:
    found = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return min(found) if found else None


def int8_generator(
    model: str = "", *, copy: bool = True, threads: int | None = None, **_: object
) -> GPTGenerator:
    """The ``gpt-int8`` backend: the trained model with int8 linear layers."""
    return GPTGenerator(model, int8=True, copy=copy, threads=threads)


def _seeded(seed: int | None) -> Any:
    """A torch generator for a seeded sample, or None for torch's global one."""
    if seed is None:
        return None
    import torch

    return torch.Generator().manual_seed(seed)
