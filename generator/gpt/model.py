"""Citewise's own decoder-only transformer, small enough to train on a CPU in an hour.

Token embeddings plus learned positions, pre-norm blocks of causal multi-head self-attention and a
GELU feed-forward layer with residual connections, a final layer norm and an output head tied to
the token embeddings. Decoding keeps a key/value cache per layer, so each new token costs one
position of work instead of the whole sequence. Shapes in comments: B batch, T time (tokens),
C channels (``n_embd``), H heads, D head size (C / H), V vocabulary.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Collection, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int = 4096
    context: int = 512  # longest sequence the positions cover
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 256
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})")

    @property
    def parameters(self) -> int:
        """Trainable parameters (the tied output head counted once)."""
        c = self.n_embd
        per_block = 4 * c * c + 4 * c + 8 * c * c + 5 * c + 4 * c  # attention, MLP, two layer norms
        return self.vocab_size * c + self.context * c + self.n_layer * per_block + 2 * c


class KVCache:
    """Keys and values of the positions seen so far, one preallocated buffer per layer."""

    def __init__(self, config: GPTConfig, batch: int, device: torch.device, dtype: torch.dtype) -> None:
        shape = (batch, config.n_head, config.context, config.n_embd // config.n_head)  # (B, H, T, D)
        self.keys = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.n_layer)]
        self.values = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.n_layer)]
        self.length = 0  # positions filled

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store this step's keys/values (B, H, t, D); return everything so far (B, H, length+t, D)."""
        end = self.length + k.size(2)
        self.keys[layer][:, :, self.length : end] = k
        self.values[layer][:, :, self.length : end] = v
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd)  # queries, keys, values of every head
        self.proj = nn.Linear(config.n_embd, config.n_embd)  # heads concatenated, projected back
        self.dropout = config.dropout

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # 3 x (B, T, C)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, H, T, D)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, H, T, D)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, H, T, D)
        past = 0
        if cache is not None:
            past = cache.length
            k, v = cache.append(layer, k, v)  # (B, H, past+T, D)
        dropout = self.dropout if self.training else 0.0
        if past == 0:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=dropout)  # (B, H, T, D)
        else:
            # New query i sits at position past+i and may look at keys 0..past+i.
            allowed = torch.ones(T, past + T, dtype=torch.bool, device=x.device).tril(diagonal=past)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=dropout)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # heads side by side: (B, T, C)
        return self.proj(y)


class MLP(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.proj = nn.Linear(4 * config.n_embd, config.n_embd)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.proj(F.gelu(self.fc(x))))  # (B, T, C) -> (B, T, 4C) -> (B, T, C)


class Block(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), cache, layer)  # (B, T, C)
        return x + self.mlp(self.ln2(x))  # (B, T, C)


class GPT(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.context, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tied: one matrix reads and writes tokens
        self.apply(self._init_weights)
        for name, parameter in self.named_parameters():  # residual projections scaled by depth (GPT-2)
            if name.endswith("proj.weight"):
                nn.init.normal_(parameter, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None, cache: KVCache | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits (B, T, V) for token ids (B, T); with ``targets`` (B, T, -100 = ignore), also the mean
        cross-entropy. With ``cache``, ``idx`` continues the cached positions and the cache grows."""
        T = idx.size(1)
        start = cache.length if cache is not None else 0
        if start + T > self.config.context:
            raise ValueError(f"{start + T} tokens exceed the model's context of {self.config.context}")
        positions = torch.arange(start, start + T, device=idx.device)  # (T,)
        x = self.drop(self.wte(idx) + self.wpe(positions))  # (B, T, C)
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer)  # (B, T, C)
        if cache is not None:
            cache.length += T
        logits = self.lm_head(self.ln_f(x))  # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100)
        return logits, loss

    def new_cache(self, batch: int = 1) -> KVCache:
        weight = self.wte.weight
        return KVCache(self.config, batch, weight.device, weight.dtype)

    # -- decoding ----------------------------------------------------------------------------------

    @torch.inference_mode()
    def generate(
        self,
        prompt: list[int],
        max_new_tokens: int,
        *,
        temperature: float = 0.0,
        top_k: int | None = None,
        top_p: float | None = None,
        stop: frozenset[int] = frozenset(),
        generator: torch.Generator | None = None,
        allowed: Callable[[list[int]], Collection[int] | None] | None = None,
    ) -> Iterator[int]:
        """Yields new token ids one at a time. ``temperature`` 0 is greedy; otherwise sampling,
        restricted to the ``top_k`` most likely tokens and/or the smallest set whose probability
        reaches ``top_p``. Stops at a token in ``stop`` (not yielded) or at the context's end.
        ``allowed``, given the tokens produced so far, names the only ids the next one may be
        (None: any); constrained decoding such as copying from the prompt uses it."""
        if not prompt:
            raise ValueError("the prompt is empty")
        room = self.config.context - len(prompt)
        if room <= 0:
            raise ValueError(f"the prompt ({len(prompt)} tokens) fills the context of {self.config.context}")
        cache = self.new_cache()
        idx = torch.tensor([prompt], dtype=torch.long, device=self.wte.weight.device)  # (1, T)
        produced: list[int] = []
        for _ in range(min(max_new_tokens, room)):
            logits, _ = self(idx, cache=cache)
            scores = logits[0, -1]  # (V,)
            permitted = allowed(produced) if allowed is not None else None
            if permitted is not None:
                if not permitted:
                    return
                mask = torch.full_like(scores, float("-inf"))
                mask[list(permitted)] = 0.0
                scores = scores + mask
            token = sample(scores, temperature, top_k, top_p, generator)
            if token in stop:
                return
            produced.append(token)
            yield token
            idx = torch.tensor([[token]], dtype=torch.long, device=idx.device)  # (1, 1)

    # -- files -------------------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """``config.json`` plus ``model.safetensors`` (the tied head stored once)."""
        from safetensors.torch import save_file

        directory.mkdir(parents=True, exist_ok=True)
        weights = {k: v.detach().contiguous() for k, v in self.state_dict().items() if k != "lm_head.weight"}
        save_file(weights, str(directory / WEIGHTS_FILE))
        (directory / CONFIG_FILE).write_text(json.dumps(asdict(self.config), indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> GPT:
        from safetensors.torch import load_file

        config = GPTConfig(**json.loads((directory / CONFIG_FILE).read_text()))
        model = cls(config)
        weights = load_file(str(directory / WEIGHTS_FILE))
        missing, unexpected = model.load_state_dict(weights, strict=False)
        if unexpected or set(missing) - {"lm_head.weight"}:
            raise ValueError(
                f"{directory} does not match its config (missing {missing}, unexpected {unexpected})"
            )
        model.eval()
        return model


def sample(
    logits: torch.Tensor,
    temperature: float = 0.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> int:
    """One token id from next-token logits (V,)."""
    if temperature <= 0:
        return int(torch.argmax(logits))
    logits = logits / temperature
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        ordered, order = torch.sort(logits, descending=True)
        cumulative = torch.softmax(ordered, dim=-1).cumsum(dim=-1)
        drop = cumulative - torch.softmax(ordered, dim=-1) >= top_p  # keep until top_p is reached
        logits = logits.masked_fill(torch.zeros_like(drop).scatter(0, order, drop), float("-inf"))
    probabilities = torch.softmax(logits, dim=-1)
    return int(torch.multinomial(probabilities, 1, generator=generator))


def quantize_int8(model: GPT) -> nn.Module:
    """A copy for CPU inference with int8 weights in every linear layer (activations quantised on the
    fly); the embeddings stay fp32. About 4x smaller linear weights, faster matrix products."""
    import copy

    quantized = copy.deepcopy(model).eval()
    quantized.lm_head = nn.Linear(model.config.n_embd, model.config.vocab_size, bias=False)
    quantized.lm_head.weight = nn.Parameter(model.wte.weight.detach().clone())  # untied: quantised apart
    with warnings.catch_warnings():  # torch marks torch.ao deprecated in favour of torchao (not installed)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return torch.ao.quantization.quantize_dynamic(quantized, {nn.Linear}, dtype=torch.qint8)
