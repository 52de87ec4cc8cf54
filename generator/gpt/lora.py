"""Low-rank adapters (LoRA) for cheap re-tuning of a trained model.

Each chosen linear layer keeps its weight W frozen and learns a rank-r update B @ A, scaled by
alpha / r; B starts at zero, so an adapted model begins exactly where the base model is. Merging
folds the update into W and leaves plain linear layers, so a merged model runs at full speed.
"""

from __future__ import annotations

import math

import torch
from torch import nn

DEFAULT_TARGETS = ("attn.qkv", "attn.proj", "mlp.fc", "mlp.proj")


class LoRALinear(nn.Module):
    def __init__(self, base: nn.Linear, rank: int = 8, alpha: float = 16.0, dropout: float = 0.0) -> None:
        super().__init__()
        if rank < 1:
            raise ValueError("the LoRA rank must be at least 1")
        self.base = base
        self.base.weight.requires_grad_(False)
        if self.base.bias is not None:
            self.base.bias.requires_grad_(False)
        self.rank, self.scale = rank, alpha / rank
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))  # (r, in)
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))  # (out, r): starts as no change
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        update = self.dropout(x) @ self.lora_a.T @ self.lora_b.T  # (..., in) -> (..., r) -> (..., out)
        return self.base(x) + self.scale * update

    def merged(self) -> nn.Linear:
        """A plain linear layer computing the same function."""
        out = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None)
        with torch.no_grad():
            out.weight.copy_(self.base.weight + self.scale * (self.lora_b @ self.lora_a))  # (out, in)
            if self.base.bias is not None:
                out.bias.copy_(self.base.bias)
        return out


def add_lora(
    model: nn.Module, rank: int = 8, alpha: float = 16.0, targets: tuple[str, ...] = DEFAULT_TARGETS
) -> list[str]:
    """Freeze ``model`` and wrap the linear layers whose names end with a target; returns their names."""
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    wrapped = []
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.Linear) and name.endswith(targets):
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name), child, LoRALinear(module, rank, alpha))
            wrapped.append(name)
    if not wrapped:
        raise ValueError(f"no linear layer matches {targets}")
    return wrapped


def merge_lora(model: nn.Module) -> int:
    """Fold every adapter into its layer; returns how many were merged."""
    merged = 0
    for name, module in list(model.named_modules()):
        if isinstance(module, LoRALinear):
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name), child, module.merged())
            merged += 1
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    return merged
