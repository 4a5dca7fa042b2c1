"""The graphs of a bundle as ONNX, exported with PyTorch's dynamo exporter: encode, step, decode, and
for a flow head (docs/architecture.md §3) also noise and sample.

Each graph is a small `nn.Module` wrapping the trained model so its inputs and outputs are exactly
the step contract's (docs/architecture.md §4): `encode` takes RGB uint8 frames (B, H, W, 3) as a camera or a store
holds them, `decode` returns RGBA uint8 (B, H, W, 4) ready for a GL texture upload, and `step` is the
cached transformer step with the cache passed in and the frame's own keys/values passed out (its
first output is `next_latents`, or `head_cond` for a flow head). `noise` turns the runtime's Philox
bits into Gaussian noise times the temperature and `sample` is one Euler step of the head, so no
graph holds a random op; `sample_k{K}` is noise and all K steps unrolled into one graph, which saves
a runtime the K + 1 calls (and their fixed cost) for the K values that benchmarks and defaults use.
Shapes are static: batch B is fixed per exported file.

Why dynamo: it is the exporter current PyTorch recommends (`torch.onnx.export(..., dynamo=True)`),
it records the graph from `torch.export` rather than tracing Python, and it writes plain default-domain
ops at the opset we ask for. Opset 18 keeps LayerNormalization and GroupNormalization as single nodes,
both on TensorRT's supported list.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from vidgen_rt.config import ModelConfig
from vidgen_rt.model.heads import FLOW_HEADS, fused_sampling_steps, sample, sample_step
from vidgen_rt.model.world_model import WorldModel
from vidgen_rt.runtime.noise import BITS_PER_VALUE

OPSET = 18
DTYPES = {"fp32": torch.float32, "fp16": torch.float16}


class EncodeGraph(nn.Module):
    """frames (B, H, W, 3) uint8 -> latents (B, C, h, w)."""

    def __init__(self, model: WorldModel):
        super().__init__()
        self.tokenizer = model.tokenizer

    def forward(self, frames):
        dtype = self.tokenizer.encoder[0].weight.dtype
        images = frames.permute(0, 3, 1, 2).to(dtype) / 255.0  # (B, 3, H, W)
        return self.tokenizer.encode(images)


class DecodeGraph(nn.Module):
    """latents (B, C, h, w) -> frames (B, H, W, 4) uint8 RGBA, alpha 255."""

    def __init__(self, model: WorldModel):
        super().__init__()
        self.tokenizer = model.tokenizer

    def forward(self, latents):
        images = self.tokenizer.decode(latents).float().clamp(0.0, 1.0)  # (B, 3, H, W)
        rgb = (images * 255.0).round().permute(0, 2, 3, 1)  # (B, H, W, 3)
        alpha = torch.full_like(rgb[..., :1], 255.0)
        return torch.cat([rgb, alpha], dim=-1).to(torch.uint8)


class StepGraph(nn.Module):
    """The cached dynamics step with the contract's inputs; cond/guide only when the model has them."""

    def __init__(self, model: WorldModel):
        super().__init__()
        self.dynamics = model.dynamics
        self.has_cond = model.config.cond_dim > 0
        self.has_guide = model.config.guide_channels > 0

    def forward(self, latents, action, *rest):
        rest = list(rest)
        cond = rest.pop(0) if self.has_cond else None
        guide = rest.pop(0) if self.has_guide else None
        *past, lags = rest  # past_key_0, past_value_0, past_key_1, ...
        return self.dynamics.step(latents, action, cond, guide, list(zip(past[0::2], past[1::2])), lags)


class NoiseGraph(nn.Module):
    """noise_bits (B, 2, C, h, w) int32 of 24 bits, temperature (1,) float32 -> noise (B, C, h, w):
    temperature·sqrt(-2 ln u1)·cos(2π u2), u1 = (bits[:, 0] + 1)·2^-24, u2 = bits[:, 1]·2^-24."""

    def __init__(self, model: WorldModel):
        super().__init__()
        self.dtype = model.dynamics.ln_out.weight.dtype

    def forward(self, noise_bits, temperature):
        scale = 2.0 ** -BITS_PER_VALUE
        u1 = (noise_bits[:, 0].to(torch.float32) + 1.0) * scale  # (B, C, h, w), never 0
        u2 = noise_bits[:, 1].to(torch.float32) * scale
        radius = torch.sqrt(torch.log(u1) * -2.0)
        return (temperature * radius * torch.cos(u2 * (2.0 * torch.pi))).to(self.dtype)


class SampleGraph(nn.Module):
    """One Euler step of the flow head: head_cond (B, N, D), x (B, C, h, w), t (1,), dt (1,) -> x_next."""

    def __init__(self, model: WorldModel):
        super().__init__()
        self.head = model.dynamics.sampler

    def forward(self, head_cond, x, t, dt):
        return sample_step(self.head, head_cond, x, t, dt)


class FusedSampleGraph(nn.Module):
    """`noise` then K `sample` steps in one graph: head_cond (B, N, D), noise_bits (B, 2, C, h, w),
    temperature (1,) -> next_latents (B, C, h, w). `heads.sample` bakes in the float32 times every
    runtime feeds sample.onnx as constants."""

    def __init__(self, model: WorldModel, steps: int):
        super().__init__()
        self.noise = NoiseGraph(model)
        self.head = model.dynamics.sampler
        self.steps = steps

    def forward(self, head_cond, noise_bits, temperature):
        return sample(self.head, head_cond, self.noise(noise_bits, temperature), self.steps)


def step_inputs(config: ModelConfig, batch: int, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Example inputs of `step.onnx`, in graph order, named as in the manifest."""
    inputs = {
        "latents": torch.zeros(batch, config.latent_channels, config.latent_height, config.latent_width, dtype=dtype),
        "action": torch.zeros(batch, dtype=torch.int64),
    }
    if config.cond_dim:
        inputs["cond"] = torch.zeros(batch, config.cond_dim, dtype=dtype)
    if config.guide_channels:
        inputs["guide"] = torch.zeros(batch, config.guide_channels, config.frame_height, config.frame_width,
                                      dtype=dtype)
    # One input per layer and kind, each a contiguous block (l, 0) or (l, 1) of the runtime's ring
    # [L, 2, B, heads, S, N, head_dim], so a runtime binds it by address (docs/architecture.md §4).
    block = (batch, config.n_heads, config.cache_slots, config.tokens_per_frame, config.head_dim)
    for layer in range(config.n_layers):
        inputs[f"past_key_{layer}"] = torch.zeros(block, dtype=dtype)
        inputs[f"past_value_{layer}"] = torch.zeros(block, dtype=dtype)
    inputs["lags"] = torch.arange(1, config.cache_slots + 1, dtype=torch.int64)
    return inputs


def graph_specs(config: ModelConfig, batch: int, dtype: torch.dtype) -> dict:
    """(module factory, example inputs, output names) for each graph at one batch size."""
    frames = torch.zeros(batch, config.frame_height, config.frame_width, 3, dtype=torch.uint8)
    latent_shape = (batch, config.latent_channels, config.latent_height, config.latent_width)
    latents = torch.zeros(latent_shape, dtype=dtype)
    flow = config.head in FLOW_HEADS
    specs = {
        "encode": (EncodeGraph, {"frames": frames}, ["latents"]),
        "step": (StepGraph, step_inputs(config, batch, dtype), ["head_cond" if flow else "next_latents", "new_kv"]),
    }
    if flow:
        head_cond = torch.zeros(batch, config.tokens_per_frame, config.d_model, dtype=dtype)
        one = torch.ones(1, dtype=torch.float32)
        specs["noise"] = (NoiseGraph, {"noise_bits": torch.zeros(batch, 2, *latent_shape[1:], dtype=torch.int32),
                                       "temperature": one}, ["noise"])
        specs["sample"] = (SampleGraph, {"head_cond": head_cond, "x": latents, "t": one * 0.5, "dt": one * 0.25},
                           ["x_next"])
        for steps in fused_sampling_steps(config.sampling_steps):
            specs[f"sample_k{steps}"] = (functools.partial(FusedSampleGraph, steps=steps),
                                         {"head_cond": head_cond, "noise_bits": specs["noise"][1]["noise_bits"],
                                          "temperature": one}, ["next_latents"])
    specs["decode"] = (DecodeGraph, {"latents": latents}, ["frames"])
    return specs


def export_graph(module: nn.Module, inputs: dict[str, torch.Tensor], output_names: list[str], path: Path) -> None:
    """Export one module to a self-contained ONNX file (weights inline, static shapes)."""
    with _quiet_exporter():
        program = torch.onnx.export(module.eval(), tuple(inputs.values()), dynamo=True, opset_version=OPSET,
                                    input_names=list(inputs), output_names=output_names,
                                    optimize=True, verbose=False)
    model = program.model_proto
    model.producer_name = "vidgen_rt"
    onnx.save_model(model, str(path), save_as_external_data=False)


def export_graphs(model: WorldModel, precision: str, batch: int, directory: Path, suffix: str) -> dict[str, Path]:
    """Write every graph of the model's head for one batch size; returns graph name -> file path."""
    dtype = DTYPES[precision]
    model = model.to(dtype).eval()
    paths = {}
    for name, (factory, inputs, outputs) in graph_specs(model.config, batch, dtype).items():
        paths[name] = Path(directory) / f"{name}{suffix}.onnx"
        with torch.no_grad():
            export_graph(factory(model), inputs, outputs, paths[name])
    return paths


@contextlib.contextmanager
def _quiet_exporter():
    """The dynamo exporter narrates every stage on stdout and warns about optional packages
    (torchvision); a bundle export shows its own progress instead."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
