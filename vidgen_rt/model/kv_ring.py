"""KVRing: the caller-owned KV cache of the step contract (docs/architecture.md §4), in PyTorch.

The cache is a preallocated ring `[n_layers, 2, B, n_heads, cache_slots, tokens_per_frame, head_dim]`
of cache_slots = window - 1 slots plus a `lags` vector `[cache_slots]` giving each slot's age in
frames (`lag_sentinel`, equal to the window, marks empty or expired slots). After every step the frame's own keys/values (`new_kv`) go into the oldest slot, whose age
has just reached the window, and every other age grows by one. The step graph itself never writes
into the cache; this class (driven by runtime/torch_stepper.py) and the other two implementations
of the step do.
"""

from __future__ import annotations

import torch

from vidgen_rt.config import ModelConfig
from vidgen_rt.model.dynamics import lag_sentinel


class KVRing:
    def __init__(self, config: ModelConfig, batch: int = 1, dtype=torch.float32, device=None):
        self.sentinel = lag_sentinel(config)
        shape = (config.n_layers, 2, batch, config.n_heads, config.cache_slots,
                 config.tokens_per_frame, config.head_dim)
        self.kv = torch.zeros(shape, dtype=dtype, device=device)
        self.lags = torch.full((config.cache_slots,), self.sentinel, dtype=torch.int64, device=device)
        self.next_slot = 0

    def push(self, new_kv: torch.Tensor) -> None:
        """Store one frame's keys/values (n_layers, 2, B, n_heads, tokens_per_frame, head_dim) as the
        newest slot (lag 1)."""
        self.lags = torch.clamp(self.lags + 1, max=self.sentinel)
        self.kv[:, :, :, :, self.next_slot] = new_kv
        self.lags[self.next_slot] = 1
        self.next_slot = (self.next_slot + 1) % self.lags.shape[0]

    def snapshot(self) -> tuple:
        return self.kv.clone(), self.lags.clone(), self.next_slot

    def restore(self, snapshot: tuple) -> None:
        kv, lags, next_slot = snapshot
        self.kv.copy_(kv)
        self.lags.copy_(lags)
        self.next_slot = next_slot
