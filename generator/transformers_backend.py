"""Any local Hugging Face causal-LM checkpoint directory, run with torch in fp32 on the CPU.

Nothing is downloaded: the directory must hold the weights, the tokenizer and a chat template.
Streaming runs generation in a worker thread feeding a ``TextIteratorStreamer``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from generator.base import Generation, GenerationOptions, Message


class TransformersGenerator:
    def __init__(self, model: str = "", *, threads: int | None = None, **_: object) -> None:
        if not model:
            raise ValueError(
                "the transformers backend needs a checkpoint directory: transformers:/path/to/model"
            )
        self.path = Path(model).expanduser()
        self.name = f"transformers:{self.path}"
        self._threads = threads
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    @property
    def context_window(self) -> int:
        self.warm_up()
        return int(getattr(self._model.config, "max_position_embeddings", 2048))

    def warm_up(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            if not (self.path / "config.json").is_file():
                raise FileNotFoundError(
                    f"{self.path} is not a Hugging Face checkpoint directory (no config.json)"
                )
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            if self._threads:
                torch.set_num_threads(self._threads)
            tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
            if not tokenizer.chat_template:
                raise ValueError(
                    f"{self.path} has no chat template; Citewise needs an instruction-tuned model"
                )
            model = AutoModelForCausalLM.from_pretrained(
                self.path, local_files_only=True, torch_dtype=torch.float32
            )
            self._model, self._tokenizer = model.eval(), tokenizer

    def _input_ids(self, messages: Sequence[Message]) -> Any:
        encoded = self._tokenizer.apply_chat_template(
            [{"role": m.role, "content": m.content} for m in messages],
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
        )
        return encoded["input_ids"]

    def count_tokens(self, messages: Sequence[Message]) -> int:
        self.warm_up()
        return int(self._input_ids(messages).shape[-1])

    def _generate_kwargs(self, messages: Sequence[Message], options: GenerationOptions) -> dict[str, Any]:
        ids = self._input_ids(messages)
        kwargs: dict[str, Any] = {
            "input_ids": ids,
            "attention_mask": ids.new_ones(ids.shape),
            "max_new_tokens": options.max_tokens,
            "do_sample": options.temperature > 0,
            "pad_token_id": self._tokenizer.pad_token_id or self._tokenizer.eos_token_id,
        }
        if options.temperature > 0:
            kwargs["temperature"], kwargs["top_p"] = options.temperature, options.top_p
            if options.seed is not None:
                import torch

                torch.manual_seed(options.seed)
        if options.stop:
            kwargs["stop_strings"], kwargs["tokenizer"] = list(options.stop), self._tokenizer
        if options.prompt_lookup:
            kwargs["prompt_lookup_num_tokens"] = 10
        return kwargs

    def generate(self, messages: Sequence[Message], options: GenerationOptions) -> Generation:
        import torch

        self.warm_up()
        started = time.perf_counter()
        with self._lock, torch.inference_mode():
            kwargs = self._generate_kwargs(messages, options)
            output = self._model.generate(**kwargs)
        prompt_tokens = kwargs["input_ids"].shape[-1]
        new = output[0, prompt_tokens:]
        text = _cut_at_stop(self._tokenizer.decode(new, skip_special_tokens=True), options.stop)
        finish = "length" if len(new) >= options.max_tokens else "stop"
        return Generation(
            text, int(prompt_tokens), len(new), finish, {"total_s": time.perf_counter() - started}
        )

    def reply_logprob(self, messages: Sequence[Message], reply_start: str, max_tokens: int = 3) -> float:
        import torch

        self.warm_up()
        with self._lock, torch.inference_mode():
            prompt = self._input_ids(messages)  # (1, prompt)
            reply = self._tokenizer(reply_start, add_special_tokens=False, return_tensors="pt")["input_ids"]
            reply = reply[:, :max_tokens]  # (1, r)
            ids = torch.cat([prompt, reply], dim=1)  # (1, prompt + r)
            logits = self._model(input_ids=ids).logits[0, prompt.shape[1] - 1 : -1]  # (r, vocab)
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            return float(logprobs.gather(1, reply[0].unsqueeze(1)).sum())

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        self.warm_up()
        with self._lock:
            streamer = TextIteratorStreamer(self._tokenizer, skip_prompt=True, skip_special_tokens=True)
            kwargs = self._generate_kwargs(messages, options) | {"streamer": streamer}

            def run() -> None:
                with torch.inference_mode():
                    self._model.generate(**kwargs)

            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            emitted = ""
            for piece in streamer:
                emitted += piece
                cut = _cut_at_stop(emitted, options.stop)
                if len(cut) < len(emitted):  # a stop string appeared: emit what precedes it, then end
                    yield cut[len(emitted) - len(piece) :]
                    break
                yield piece
            worker.join()


def _cut_at_stop(text: str, stops: Sequence[str]) -> str:
    for stop in stops:
        text = text.split(stop, 1)[0]
    return text
