"""int8 variant: dynamic quantization of the transformer blocks' MLP and output-projection MatMuls.

Weights become int8 once at export (one scale per output channel); activations are quantized per
call (DynamicQuantizeLinear), and MatMulInteger runs on the CPU's integer dot-product paths
(AVX-512 VNNI, AMX where ONNX Runtime's kernels use it).

Which MatMuls, by measurement on the shipped world (free-running 256-frame rollout PSNR against
PyTorch fp32): all of them 28.9 dB; every block Linear (qkv, proj, MLP) 39.8 dB; MLP + proj 45.1 dB.
The small input and output projections (16 latent channels <-> d_model) and the qkv projection
decide where attention looks, and rounding them sends a rollout elsewhere; the MLP and the
attention output projection carry two thirds of the Linear FLOPs and tolerate int8. Attention
itself, the norms and the residual stream stay in float. encode and decode stay fp32.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import tempfile
from pathlib import Path

import onnx

from vidgen_rt.errors import BundleError

# The dynamo exporter records each node's module path in its "namespace" metadata.
QUANTIZED_MODULES = re.compile(r"dynamics\.blocks\.\d+\.(mlp\.\d+|attn\.proj):")


def quantized_nodes(model: onnx.ModelProto) -> list[str]:
    """Names of the MatMul nodes that belong to the blocks' MLPs and attention output projections."""
    chosen = []
    for node in model.graph.node:
        namespace = next((p.value for p in node.metadata_props if p.key == "namespace"), "")
        if node.op_type == "MatMul" and QUANTIZED_MODULES.search(namespace):
            chosen.append(node.name)
    return chosen


def quantize_matmuls(path: Path) -> None:
    """Replace the float graph at `path` with its dynamically quantized version, in place."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    path = Path(path)
    nodes = quantized_nodes(onnx.load(str(path)))
    if not nodes:
        raise BundleError(f"{path}: no MLP or projection MatMuls found to quantize (node metadata missing?)")
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".onnx")
    os.close(fd)
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)  # the quantizer logs a notice per skipped node
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            quantize_dynamic(str(path), temp, op_types_to_quantize=["MatMul"], nodes_to_quantize=nodes,
                             weight_type=QuantType.QInt8, per_channel=True, extra_options={"MatMulConstBOnly": True})
        os.replace(temp, path)
    finally:
        logger.setLevel(level)
        if os.path.exists(temp):
            os.remove(temp)
