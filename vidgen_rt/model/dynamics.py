"""FrameCausalTransformer: predicts the next frame's latents from the last m frames and a condition.

Tokens of frame t attend to every token of frames t-m+1 ... t: bidirectional inside a frame, causal
across frames, a sliding window of m frames. There is no absolute time: each head adds a learned bias
indexed by lag (the age of the attended frame), so rollouts can run forever. Spatial position is a
learned embedding per token; a token is p×p cells of the latent grid (`token_patch`, 1 = one cell), so
p = 2 quarters the tokens per frame and the cost of every layer. Conditions enter per frame: an action embedding, an optional continuous
vector (`cond`) and an optional guide map (`guide`, downsampled by the tokenizer factor).

Two forwards compute the same function:
- `forward` (training): a whole clip in parallel under a block-causal, windowed lag bias;
- `step` (inference, docs/architecture.md §4): one frame against an explicit KV cache owned by the caller, which
  returns the frame's own keys/values (`new_kv`) instead of writing into the cache.

Both return the step's output, which depends on the head (`config.head`, docs/architecture.md §3):
an "mse" model reads the next latents out directly (`next_latents`); a flow model returns the per-token
`head_cond` (B, [T,] N, d_model) that conditions its sampling head (`self.sampler`, model/heads.py),
run by `sample`. With `context_noise_embedding` each input frame also carries an embedding of the
noise level its latents were corrupted with (training), or of `context_noise_level` (inference).
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from vidgen_rt.config import ModelConfig
from vidgen_rt.model.heads import FLOW_HEADS, build_head, grid_to_tokens, sample, tokens_to_grid

# Bias of masked (empty, expired or future) slots. Finite so fp16 graphs stay NaN-free; exp(-1e4)
# underflows to exactly zero in fp32 and fp16 alike.
MASK_BIAS = -1.0e4


def lag_sentinel(config: ModelConfig) -> int:
    """The lag value that marks an empty or expired cache slot: any lag >= window is masked."""
    return config.window


class LagBiasedAttention(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.n_heads, self.head_dim = config.n_heads, config.head_dim
        self.window = config.window
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.proj = nn.Linear(config.d_model, config.d_model)
        # ALiBi-like start: each head prefers recent frames at its own rate, then learns its profile.
        slopes = torch.tensor([2.0 ** (-(h + 1) * 4.0 / config.n_heads) for h in range(config.n_heads)])
        self.lag_bias = nn.Parameter(-slopes[:, None] * torch.arange(config.window, dtype=torch.float32))

    def bias_table(self) -> torch.Tensor:
        """(heads, window + 1): the learned bias per lag, then the sentinel column (masked)."""
        masked = torch.full((self.n_heads, 1), MASK_BIAS, dtype=self.lag_bias.dtype, device=self.lag_bias.device)
        return torch.cat([self.lag_bias, masked], dim=1)

    def _qkv(self, x: torch.Tensor):
        B, n, d = x.shape
        qkv = self.qkv(x).reshape(B, n, 3, self.n_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, heads, n, head_dim)
        return q, k, v

    def _merge(self, out: torch.Tensor) -> torch.Tensor:
        B, _, n, _ = out.shape
        return self.proj(out.transpose(1, 2).reshape(B, n, self.n_heads * self.head_dim))  # (B, n, d)

    def forward(self, x: torch.Tensor, frame_lags: torch.Tensor, tokens_per_frame: int):
        """x (B, T*N, d); frame_lags (T, T) lag of key frame j seen from query frame i.

        Fused CPU attention kernels cannot backpropagate into `attn_mask`, and the unfused path is
        five times slower. So the learned lag bias rides inside the dot product instead: each query
        gains the bias row of its frame (times sqrt(head_dim), undoing the softmax scale) and each key
        a one-hot of its frame, giving q'.k' = q.k + sqrt(head_dim) * bias[lag]. The boolean mask
        only carries the block-causal window. `step` adds the same bias explicitly.
        """
        B, TN, _ = x.shape
        T, N, hd = frame_lags.shape[0], tokens_per_frame, self.head_dim
        q, k, v = self._qkv(x)
        allowed = frame_lags < self.window  # (T, T)
        bias = self.lag_bias[:, frame_lags.clamp(max=self.window - 1)] * allowed  # (heads, T, T)
        query_extra = (bias * math.sqrt(hd)).repeat_interleave(N, dim=1).to(q.dtype)  # (heads, TN, T)
        key_extra = torch.eye(T, dtype=q.dtype, device=x.device).repeat_interleave(N, dim=0)  # (TN, T)
        q_aug = torch.cat([q, query_extra.expand(B, -1, -1, -1)], dim=-1)  # (B, heads, TN, hd + T)
        k_aug = torch.cat([k, key_extra.expand(B, self.n_heads, -1, -1)], dim=-1)
        v_pad = F.pad(v, (0, T))  # fused kernels want equal head sizes; the padding comes out zero
        mask = allowed.repeat_interleave(N, dim=0).repeat_interleave(N, dim=1)  # (TN, TN)
        out = F.scaled_dot_product_attention(q_aug, k_aug, v_pad, attn_mask=mask, scale=hd ** -0.5)
        return self._merge(out[..., :hd]), k, v

    def step(self, x: torch.Tensor, past_k: torch.Tensor, past_v: torch.Tensor, bias: torch.Tensor):
        """x (B, N, d); past_k/v (B, heads, S, N, head_dim), read in place; bias (1, heads, 1, (S+1)·N)
        from `FrameCausalTransformer.lag_bias` -> out (B, N, d) and this frame's kv (B, 2·heads, N, head_dim).

        The past and the frame's own keys are scored separately and only the small score blocks are
        joined, so the graph never copies the cache (docs/architecture.md §4). Spelled out rather than
        fused: the exported step stays plain MatMul/Softmax, which every ONNX backend (TensorRT
        included) runs.
        """
        B, N, _ = x.shape
        H, S, hd = self.n_heads, past_k.shape[2], self.head_dim
        # Heads of q, k and v side by side: one transpose, and k, v together are this frame's kv.
        qkv = self.qkv(x).reshape(B, N, 3 * H, hd).transpose(1, 2)  # (B, 3·heads, N, hd)
        q, k, v = qkv.split(H, dim=1)  # each (B, heads, N, hd)
        q = q * hd ** -0.5
        past_keys = past_k.reshape(B, H, S * N, hd)  # a view of the ring block: (B, heads, S*N, hd)
        past_values = past_v.reshape(B, H, S * N, hd)
        scores = torch.cat([q @ past_keys.transpose(-1, -2), q @ k.transpose(-1, -2)], dim=-1) + bias
        past_probs, own_probs = scores.softmax(dim=-1).split([S * N, N], dim=-1)  # of (B, heads, N, (S+1)N)
        out = past_probs @ past_values + own_probs @ v  # (B, heads, N, hd)
        return self._merge(out), qkv[:, H:]


class Block(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(config.d_model)
        self.attn = LagBiasedAttention(config)
        self.ln2 = nn.LayerNorm(config.d_model)
        hidden = config.mlp_ratio * config.d_model
        self.mlp = nn.Sequential(nn.Linear(config.d_model, hidden), nn.GELU(), nn.Linear(hidden, config.d_model))

    def forward(self, x, frame_lags, tokens_per_frame):
        attended, k, v = self.attn(self.ln1(x), frame_lags, tokens_per_frame)
        x = x + attended
        return x + self.mlp(self.ln2(x)), k, v

    def step(self, x, past_k, past_v, bias):
        attended, kv = self.attn.step(self.ln1(x), past_k, past_v, bias)
        x = x + attended
        return x + self.mlp(self.ln2(x)), kv


class FrameCausalTransformer(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        d, N = config.d_model, config.tokens_per_frame
        self.in_proj = nn.Linear(config.token_channels, d)
        self.position = nn.Parameter(torch.randn(N, d) * 0.02)
        self.action_embedding = nn.Embedding(config.n_actions, d)
        self.cond_proj = nn.Linear(config.cond_dim, d) if config.cond_dim else None
        guide_stride = config.downsample * config.token_patch  # guide pixels under one token
        self.guide_proj = (nn.Conv2d(config.guide_channels, d, guide_stride, stride=guide_stride)
                           if config.guide_channels else None)
        self.noise_embedding = (nn.Sequential(nn.Linear(1, d), nn.SiLU(), nn.Linear(d, d))
                                if config.context_noise_embedding else None)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.ln_out = nn.LayerNorm(d)
        self.is_flow = config.head in FLOW_HEADS
        if self.is_flow:
            # The head sees the frame it continues through head_cond alone; a direct path from the
            # current latents spares the transformer carrying them through every layer.
            self.current_in = nn.Linear(config.token_channels, d)
        else:
            self.head = nn.Linear(d, config.token_channels)
        self.apply(self._init_weights)
        self.sampler = build_head(config)  # after apply(): the heads keep their own initialisation
        if not self.is_flow:
            nn.init.zeros_(self.head.weight)  # start as "next frame = this frame"
            nn.init.zeros_(self.head.bias)
        for block in self.blocks:  # GPT-2 style scaling of residual projections
            nn.init.normal_(block.attn.proj.weight, std=0.02 / math.sqrt(2 * config.n_layers))
            nn.init.normal_(block.mlp[2].weight, std=0.02 / math.sqrt(2 * config.n_layers))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def _to_tokens(self, latents):
        """latents (B, T, C, h, w) -> (B, T, N, C·p·p), each token the p×p cells it covers."""
        return grid_to_tokens(latents, self.config.token_patch)

    def _from_tokens(self, tokens, shape):
        """The inverse of `_to_tokens`: (B, T, N, C·p·p) -> latents of `shape` (B, T, C, h, w)."""
        _, _, C, h, w = shape
        return tokens_to_grid(tokens, self.config.token_patch, C, h, w)

    def _embed(self, latents, actions, cond, guide, noise_level):
        """latents (B, T, C, h, w), actions (B, T), noise_level (B, T) or None -> tokens (B, T, N, d)."""
        B, T = actions.shape
        x = self.in_proj(self._to_tokens(latents)) + self.position
        per_frame = self.action_embedding(actions)  # (B, T, d)
        if self.cond_proj is not None:
            per_frame = per_frame + self.cond_proj(cond)
        if self.noise_embedding is not None:
            if noise_level is None:  # inference: the level the config says the context has
                noise_level = torch.full((B, T), self.config.context_noise_level, device=latents.device)
            per_frame = per_frame + self.noise_embedding(noise_level.to(x.dtype)[..., None])
        x = x + per_frame.unsqueeze(2)
        if self.guide_proj is not None:
            guide_tokens = self.guide_proj(guide.flatten(0, 1)).flatten(2).transpose(1, 2)  # (B*T, N, d)
            x = x + guide_tokens.reshape(B, T, -1, x.shape[-1])
        return x

    def _output(self, x, latents):
        """Hidden states (B, T, N, d) + current latents (B, T, C, h, w) -> the step's output: next
        latents (B, T, C, h, w) for "mse", head_cond (B, T, N, d) for a flow head."""
        if self.is_flow:
            return self.ln_out(x) + self.current_in(self._to_tokens(latents))
        delta = self._from_tokens(self.head(self.ln_out(x)), latents.shape)  # (B, T, C, h, w)
        return (latents + delta).clamp(-1.0, 1.0)

    def sample(self, head_cond, noise, steps: int | None = None):
        """A flow head's next latents from head_cond (B, N, d) and noise (B, C, h, w), already scaled
        by the temperature, in `steps` Euler steps (default: config.sampling_steps)."""
        return sample(self.sampler, head_cond, noise, steps or self.config.sampling_steps)

    def predict(self, latents, actions, cond=None, guide=None, noise_level=None, noise=None):
        """Next latents of every frame whatever the head, as `forward` with "mse"; a flow head samples
        from `noise` (B, T, C, h, w), zeros (its deterministic output) when None."""
        out = self(latents, actions, cond, guide, noise_level)
        if not self.is_flow:
            return out
        noise = torch.zeros_like(latents) if noise is None else noise
        return self.sample(out.flatten(0, 1), noise.flatten(0, 1).to(out.dtype)).reshape(latents.shape)

    def frame_lags(self, num_frames: int, device=None) -> torch.Tensor:
        """(T, T) lag of frame j seen from frame i; future and out-of-window pairs get the sentinel."""
        index = torch.arange(num_frames, device=device)
        lags = index[:, None] - index[None, :]
        sentinel = lag_sentinel(self.config)
        return torch.where((lags >= 0) & (lags < self.config.window), lags, torch.full_like(lags, sentinel))

    def forward(self, latents, actions, cond=None, guide=None, noise_level=None, return_kv: bool = False):
        """Parallel training forward. latents (B, T, C, h, w) of frames 0..T-1, actions (B, T),
        noise_level (B, T) of the latents (None: config.context_noise_level): returns the step output
        for frames 1..T, the predicted latents (B, T, C, h, w) or head_cond (B, T, N, d)."""
        B, T = actions.shape
        N = self.config.tokens_per_frame
        x = self._embed(latents, actions, cond, guide, noise_level).reshape(B, T * N, -1)  # (B, T*N, d)
        frame_lags = self.frame_lags(T, latents.device)
        keys_values = []
        for block in self.blocks:
            x, k, v = block(x, frame_lags, N)
            keys_values.append((k, v))
        prediction = self._output(x.reshape(B, T, N, -1), latents)
        return (prediction, keys_values) if return_kv else prediction

    def lag_bias(self, lags: torch.Tensor) -> torch.Tensor:
        """Every layer's attention bias for one step, looked up once: lags (S,) int64 of the cached
        frames -> (L, heads, 1, (S+1)·N), the S frames' tokens then the frame's own (lag 0)."""
        L, H, N = self.config.n_layers, self.config.n_heads, self.config.tokens_per_frame
        tables = torch.stack([block.attn.bias_table() for block in self.blocks])  # (L, heads, window + 1)
        frame_lags = torch.cat([lags, lags.new_zeros(1)])  # (S+1,)
        bias = tables.index_select(2, frame_lags)  # (L, heads, S+1)
        S1 = frame_lags.shape[0]
        return bias[:, :, None, :, None].expand(L, H, 1, S1, N).reshape(L, H, 1, S1 * N)

    def step(self, latents, action, cond, guide, past, lags):
        """One cached step (docs/architecture.md §4).

        latents (B, C, h, w) of frame t; action (B,) int64; cond (B, Dc) or None; guide (B, G, H, W)
        or None; past: per layer its (past_key, past_value), each (B, heads, S, N, head_dim) — a list
        of pairs, or the ring (L, 2, B, heads, S, N, head_dim) itself; lags (S,) int64, sentinel = window.
        Returns the output for frame t+1 — next_latents (B, C, h, w) for "mse", head_cond (B, N, d) for
        a flow head — and new_kv (L, 2, B, heads, N, head_dim).
        """
        x = self._embed(latents.unsqueeze(1), action.unsqueeze(1),
                        None if cond is None else cond.unsqueeze(1),
                        None if guide is None else guide.unsqueeze(1), None).squeeze(1)  # (B, N, d)
        biases = self.lag_bias(lags).split(1)  # L of (1, heads, 1, (S+1)N)
        new_kv = []
        for block, (past_k, past_v), bias in zip(self.blocks, past, biases):
            x, kv = block.step(x, past_k, past_v, bias)
            new_kv.append(kv)  # (B, 2·heads, N, head_dim)
        output = self._output(x.unsqueeze(1), latents.unsqueeze(1)).squeeze(1)
        B, _, N, hd = new_kv[0].shape
        new_kv = torch.cat(new_kv, dim=1).reshape(B, len(new_kv), 2, -1, N, hd)  # (B, L, 2, heads, N, hd)
        return output, new_kv.permute(1, 2, 0, 3, 4, 5)  # (L, 2, B, heads, N, head_dim)
