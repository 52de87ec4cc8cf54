"""Speed of answering against raw llama-cpp-python on exactly the same prompts.

The answer pipeline is run with a recording generator, so the prompts it built are known. The same
prompts, in the same order (so both sides keep the same prefix cached between questions), are then
given to a plain ``llama_cpp.Llama`` with the same settings, and to the Citewise backend loaded with
prompt-lookup decoding. Reported: time to first token, decode tokens/s, and the pipeline's
overhead over raw generation (retrieval, focusing, the decline check, the citation check).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from generator.base import GenerationOptions, Message
from generator.llamacpp import LlamaCppGenerator, default_cache_dir
from generator.models import resolve_model_file


class RecordingGenerator:
    """Passes everything to the real generator and keeps the prompts it streamed."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.prompts: list[tuple[list[Message], GenerationOptions]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        self.prompts.append((list(messages), options))
        return self.inner.stream(messages, options)


@dataclass
class Timing:
    first_token_s: float
    total_s: float
    tokens: int

    @property
    def decode_tokens_per_s(self) -> float:
        return (self.tokens - 1) / (self.total_s - self.first_token_s) if self.tokens > 1 else 0.0


def _timed(pieces: Iterator[Any], count) -> Timing:
    started, first, tokens = time.perf_counter(), None, 0
    for piece in pieces:
        if first is None:
            first = time.perf_counter() - started
        tokens += count(piece)
    total = time.perf_counter() - started
    return Timing(first if first is not None else total, total, tokens)


def raw_llama_timings(model: str, prompts: list[tuple[list[Message], GenerationOptions]]) -> list[Timing]:
    from llama_cpp import Llama

    reference = LlamaCppGenerator(model)  # same window and threads as the backend uses
    llm = Llama(
        model_path=str(resolve_model_file(model, default_cache_dir())),
        n_ctx=reference.context_window,
        n_threads=reference._threads,
        verbose=False,
    )
    timings = []
    for messages, options in prompts:
        stream = llm.create_chat_completion(
            messages=[{"role": m.role, "content": m.content} for m in messages],
            max_tokens=options.max_tokens,
            temperature=options.temperature,
            stop=list(options.stop) or None,
            stream=True,
        )
        chunks = (c for c in stream if c["choices"][0]["delta"].get("content"))
        timings.append(_timed(chunks, lambda chunk: 1))
    del llm
    return timings


def backend_timings(
    generator: LlamaCppGenerator, prompts: list[tuple[list[Message], GenerationOptions]], *, lookup: bool
) -> list[Timing]:
    generator.warm_up()
    timings = []
    for messages, options in prompts:
        options = replace(options, prompt_lookup=lookup)
        timings.append(_timed(generator.stream(messages, options), lambda piece: 1))
    return timings


def summarize(timings: list[Timing]) -> dict[str, float]:
    decode = [t.decode_tokens_per_s for t in timings if t.tokens > 1]
    return {
        "ttft_p50_s": round(float(np.median([t.first_token_s for t in timings])), 3),
        "total_s": round(sum(t.total_s for t in timings), 2),
        "tokens": sum(t.tokens for t in timings),
        "decode_tokens_per_s": round(float(np.median(decode)), 1) if decode else 0.0,
    }


def speed_report(model: str, pipeline_totals: list[float], prompts: list) -> dict[str, Any]:
    """Raw llama-cpp-python vs the Citewise backend (with and without prompt lookup) on ``prompts``."""
    raw = raw_llama_timings(model, prompts)
    plain = backend_timings(LlamaCppGenerator(model), prompts, lookup=False)
    lookup = backend_timings(LlamaCppGenerator(model, prompt_lookup=True), prompts, lookup=True)
    raw_s, pipeline_s = sum(t.total_s for t in raw), sum(pipeline_totals)
    report = {
        "questions": len(prompts),
        "raw_llama_cpp": summarize(raw),
        "backend": summarize(plain),
        "backend_prompt_lookup": summarize(lookup),
        "pipeline_total_s": round(pipeline_s, 2),
        "pipeline_overhead": round((pipeline_s - raw_s) / raw_s, 4),
    }
    base = report["raw_llama_cpp"]["decode_tokens_per_s"] or 1.0
    report["decode_ratio_backend_vs_raw"] = round(report["backend"]["decode_tokens_per_s"] / base, 3)
    report["decode_ratio_lookup_vs_raw"] = round(
        report["backend_prompt_lookup"]["decode_tokens_per_s"] / base, 3
    )
    return report
