"""FLOPs per generated frame (one multiply-add = 2 FLOPs), from the config and the graph.

Dynamics step, per layer, for N tokens per frame, width d, MLP ratio r and a full window of m frames:
    qkv 2·N·d·3d + output projection 2·N·d² + MLP 2·2·N·d·rd + attention 2·2·N·(m·N)·d
plus the input and output projections 2·2·N·(C·p²)·d, p×p latent cells making one token. The decoder's
convolutions and a flow head's convolutions and Linears are counted exactly by running the module once
on one frame's inputs with hooks (2 · output elements · MACs per element). A flow head runs once per
Euler step, K times per frame. Normalisations, activations and the softmax are not counted: they are
a few percent and do not run on the matmul units whose peak the benchmarks compare against.
"""

import torch
from torch import nn

from vidgen_rt.config import ModelConfig


def dynamics_step_flops(config: ModelConfig) -> int:
    N, d, C = config.tokens_per_frame, config.d_model, config.token_channels
    per_layer = (2 * N * d * 3 * d + 2 * N * d * d + 2 * 2 * N * d * config.mlp_ratio * d
                 + 2 * 2 * N * (config.window * N) * d)
    return config.n_layers * per_layer + 2 * 2 * N * C * d


def module_flops(module: nn.Module, *example: torch.Tensor) -> int:
    """FLOPs of every Conv2d and Linear in `module` for one forward of `example`."""
    total = 0

    def count(layer, _inputs, output):
        nonlocal total
        if isinstance(layer, nn.Conv2d):
            macs_per_output = layer.in_channels // layer.groups * layer.kernel_size[0] * layer.kernel_size[1]
        else:
            macs_per_output = layer.in_features
        total += 2 * output.numel() * macs_per_output

    hooks = [m.register_forward_hook(count) for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad():
            module(*example)
    finally:
        for hook in hooks:
            hook.remove()
    return total


def frame_flops(model) -> dict:
    """FLOPs of one generated frame of a WorldModel: the dynamics step, one Euler step of a flow head
    (`sample`, one run of sample.onnx; 0 for an mse head), the decode, and the total at the config's K."""
    config = model.config
    latent = torch.zeros(1, config.latent_channels, config.latent_height, config.latent_width)
    step = dynamics_step_flops(config)
    decode = module_flops(model.tokenizer.decoder, latent)
    sampler = model.dynamics.sampler
    sample = 0 if sampler is None else module_flops(
        sampler, latent, torch.zeros(1), torch.zeros(1, config.tokens_per_frame, config.d_model))
    steps = config.sampling_steps if sampler is not None else 0
    return {"step": step, "sample": sample, "decode": decode, "total": step + steps * sample + decode}
