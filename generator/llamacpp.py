"""GGUF models through llama-cpp-python: the packaged Qwen and SmolLM2 models, or any GGUF file.

The chat template stored in the GGUF file formats the messages, for generation and for counting
tokens alike, so the context budget is measured exactly as the model will see it. One model
instance is not thread-safe: calls are serialised with a lock (callers bound their own concurrency).
A prompt that does not fit the window raises ``PromptTooLongError`` before llama.cpp is asked
(whose own error is a bare ValueError); callers fit their prompts first (``generator.window``).
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from generator.base import Generation, GenerationOptions, Message, PromptTooLongError
from generator.gpt.copying import TokenBytes
from generator.llamacpp_copy import CopyProcessor, token_bytes
from generator.models import BUILTIN_MODELS, DEFAULT_MODEL, resolve_model_file
from generator.structured import schema_grammar

PROMPT_LOOKUP_TOKENS = 10  # tokens drafted from the prompt per step (speculative decoding)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "citewise" / "models"


class LlamaCppGenerator:
    structured_output = True  # JSON held to a schema by a grammar (GenerationOptions.json_schema)

    def __init__(
        self,
        model: str = "",
        *,
        cache_dir: Path | None = None,
        context_window: int | None = None,
        threads: int | None = None,
        prompt_lookup: bool = False,
        **_: object,
    ) -> None:
        self.model_ref = model or DEFAULT_MODEL
        # Prompt-lookup decoding needs logits for every position (llama.cpp's ``logits_all``), a
        # context x vocabulary buffer (2.4 GB for Qwen at 4k tokens), so it is chosen at load time.
        self.prompt_lookup = prompt_lookup
        self.name = f"llamacpp:{self.model_ref}"
        builtin = BUILTIN_MODELS.get(self.model_ref)
        self._context_window = context_window or (builtin.context_window if builtin else 4096)
        self.decline_threshold = builtin.decline_logprob if builtin else None
        self._cache_dir = cache_dir or default_cache_dir()
        self._threads = threads or max(1, os.cpu_count() or 1)
        self._llm: Any = None
        self._formatter: Any = None
        self._draft: Any = None
        self._token_bytes: TokenBytes | None = None  # the vocabulary's bytes, for copied answers
        self._lock = threading.Lock()

    @property
    def context_window(self) -> int:
        return self._context_window

    def warm_up(self) -> None:
        with self._lock:
            if self._llm is not None:
                return
            from llama_cpp import Llama
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
            from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

            path = resolve_model_file(self.model_ref, self._cache_dir)
            draft = (
                LlamaPromptLookupDecoding(num_pred_tokens=PROMPT_LOOKUP_TOKENS)
                if self.prompt_lookup
                else None
            )
            llm = Llama(
                model_path=str(path),
                n_ctx=self._context_window,
                n_threads=self._threads,
                draft_model=draft,
                # llama-cpp-python 0.3.36 sizes its logits buffer by this flag, not by the draft
                # model: without it, prompts longer than one batch overflow the buffer.
                logits_all=self.prompt_lookup,
                verbose=False,
            )
            template = llm.metadata.get("tokenizer.chat_template")
            if not template:
                raise ValueError(f"{path} has no chat template; Citewise needs an instruction-tuned model")
            self._formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=_token_text(llm, llm.token_eos()),
                bos_token=_token_text(llm, llm.token_bos()),
            )
            self._llm, self._draft = llm, draft

    def count_tokens(self, messages: Sequence[Message]) -> int:
        self.warm_up()
        return len(self._tokens(messages))

    def _tokens(self, messages: Sequence[Message]) -> list[int]:
        """The prompt's tokens; the model is loaded. Tokenised as the chat handler does: BOS added
        when the model wants one, special tokens parsed."""
        prompt = self._formatter(messages=_as_dicts(messages)).prompt
        return self._llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)

    def _check_fits(self, tokens: int, reply: int = 1) -> None:
        """llama.cpp needs room for the prompt and at least one generated token."""
        if tokens + reply > self._context_window:
            raise PromptTooLongError(
                f"the prompt needs {tokens} tokens; the model's context window holds {self._context_window}",
                tokens=tokens,
                limit=self._context_window - reply,
            )

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        self.warm_up()
        with self._lock, _window_errors(self._context_window):
            copying = self._copying(messages, options)
            sent = ""
            for chunk in self._complete(messages, options, stream=True, copying=copying):
                piece = chunk["choices"][0]["delta"].get("content")
                if piece:
                    sent += piece
                    yield piece
            tail = copying.finish(sent) if copying is not None else ""
            if tail:  # the citation Citewise writes for a copied span
                yield tail

    def generate(self, messages: Sequence[Message], options: GenerationOptions) -> Generation:
        self.warm_up()
        started = time.perf_counter()
        with self._lock, _window_errors(self._context_window):
            copying = self._copying(messages, options)
            response = self._complete(messages, options, stream=False, copying=copying)
        choice, usage = response["choices"][0], response["usage"]
        text = choice["message"]["content"] or ""
        return Generation(
            text=text + (copying.finish(text) if copying is not None else ""),
            prompt_tokens=int(usage["prompt_tokens"]),
            completion_tokens=int(usage["completion_tokens"]),
            finish_reason=choice.get("finish_reason") or "stop",
            timings={"total_s": time.perf_counter() - started},
        )

    def reply_logprob(self, messages: Sequence[Message], reply_start: str, max_tokens: int = 3) -> float:
        """Scored on the live context: the prompt evaluated here is the prefix the next generation
        reuses, so scoring costs only the few reply tokens (and one replayed token)."""
        import llama_cpp
        from llama_cpp import Llama

        self.warm_up()
        prompt = self._formatter(messages=_as_dicts(messages)).prompt
        with self._lock:
            llm = self._llm
            tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
            reply = llm.tokenize(reply_start.encode("utf-8"), add_bos=False, special=False)[:max_tokens]
            self._check_fits(len(tokens), len(reply))
            cached = Llama.longest_token_prefix(llm.input_ids[: llm.n_tokens].tolist(), tokens)
            llm.n_tokens = min(cached, len(tokens) - 1)  # at least one token evaluated: fresh logits
            llm.eval(tokens[llm.n_tokens :])
            total = 0.0
            for i, token in enumerate(reply):
                logits = np.ctypeslib.as_array(
                    llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(llm.n_vocab(),)
                )
                top = float(logits.max())
                total += float(logits[token]) - top - math.log(float(np.exp(logits - top).sum()))
                if i + 1 < len(reply):
                    llm.eval([token])
            if len(reply) > 1:  # llama-cpp-python 0.3.36 internals: the live logits are the reply's
                llm._requires_eval = True  # now, so the next generation replays a prompt token
        return total

    def _copying(self, messages: Sequence[Message], options: GenerationOptions) -> CopyProcessor | None:
        """The copy constraint for an answer prompt when asked for; the caller holds the lock."""
        if not options.copy or options.json_schema is not None:
            return None
        if self._token_bytes is None:
            self._token_bytes = token_bytes(self._llm)
        processor = CopyProcessor(self._llm, self._token_bytes, messages)
        return processor if processor.active else None

    def _complete(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        *,
        stream: bool,
        copying: CopyProcessor | None = None,
    ) -> Any:
        """One chat completion; the caller holds the lock. Drafting is per call, and only a model
        loaded with prompt lookup can draft (see ``__init__``); drafted tokens would bypass the
        copy constraint, so a copied answer is never drafted."""
        from llama_cpp import LlamaGrammar, LogitsProcessorList

        self._check_fits(len(self._tokens(messages)))
        grammar = None
        if options.json_schema is not None:
            grammar = LlamaGrammar.from_string(schema_grammar(options.json_schema), verbose=False)
        if self.prompt_lookup:
            self._llm.draft_model = (
                self._draft
                if options.prompt_lookup and copying is None and options.json_schema is None
                else None
            )
        return self._llm.create_chat_completion(
            messages=_as_dicts(messages),
            max_tokens=options.max_tokens,
            temperature=options.temperature,
            top_p=options.top_p,
            seed=options.seed,
            stop=list(options.stop) or None,
            stream=stream,
            logits_processor=LogitsProcessorList([copying]) if copying is not None else None,
            grammar=grammar,
        )


@contextmanager
def _window_errors(window: int) -> Iterator[None]:
    """llama.cpp's own "Requested tokens (n) exceed context window" as the typed error, should its
    count ever differ from ours."""
    try:
        yield
    except ValueError as exc:
        found = re.search(r"Requested tokens \((\d+)\) exceed context window", str(exc))
        if found is None:
            raise
        raise PromptTooLongError(str(exc), tokens=int(found.group(1)), limit=window - 1) from exc


def _token_text(llm: Any, token: int) -> str:
    return llm.detokenize([token], special=True).decode("utf-8", errors="ignore") if token >= 0 else ""


def _as_dicts(messages: Sequence[Message]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]
