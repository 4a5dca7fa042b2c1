"""int8 variant: dynamic quantization of the MatMuls of `step.onnx` for CPUs.

Weights become int8 once at export (one scale per output channel: per-tensor scales cost about 5 dB
of rollout PSNR on the shipped world); activations are quantized per call (DynamicQuantizeLinear), and
MatMulInteger runs on the CPU's integer dot-product paths (AVX-512 VNNI, AMX where ONNX Runtime's
kernels use it). Only MatMul nodes are touched: attention's softmax, the norms and the residual
stream stay in float, which is where the quality of an autoregressive rollout is decided. encode and
decode stay fp32: they are convolutions, and decode's output is what the user sees.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
from pathlib import Path


def quantize_matmuls(path: Path) -> None:
    """Replace the float graph at `path` with its dynamically quantized version, in place."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    path = Path(path)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".onnx")
    os.close(fd)
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)  # the quantizer logs a notice per skipped node
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            quantize_dynamic(str(path), temp, op_types_to_quantize=["MatMul"], weight_type=QuantType.QInt8,
                             per_channel=True, extra_options={"MatMulConstBOnly": True})
        os.replace(temp, path)
    finally:
        logger.setLevel(level)
        if os.path.exists(temp):
            os.remove(temp)
