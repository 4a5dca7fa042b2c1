"""This machine's measured matmul peak per precision, the denominator of every roofline fraction.

- fp32 and bf16: `torch.matmul` on square matrices large enough to be compute-bound, with all the
  threads the benchmark uses (oneDNN / MKL kernels: AVX-512, AMX-BF16 where the CPU has them);
- int8: ONNX Runtime's `MatMulInteger` (uint8 x int8 -> int32) on a one-node graph, because that
  is the kernel the int8 bundles run (their DynamicQuantizeLinear + MatMulInteger MatMuls).

Each figure is the best of repeated timed products over about `seconds` (best, not mean: the peak
is what the machine can do, and a busy neighbour only ever makes a product slower).
"""

from __future__ import annotations

import time

import numpy as np

PEAK_METHODS = {
    "fp32": "torch.matmul float32, {n}x{n}",
    "bf16": "torch.matmul bfloat16, {n}x{n}",
    "int8": "onnxruntime MatMulInteger uint8 x int8 -> int32, {n}x{n}",
}


def _best_gflops(product, flops: float, seconds: float) -> float:
    product()  # warm-up: packing buffers, thread pool, kernel choice
    best, deadline = float("inf"), time.perf_counter() + seconds
    while True:
        began = time.perf_counter()
        product()
        best = min(best, time.perf_counter() - began)
        if time.perf_counter() > deadline:
            return flops / best / 1e9


def torch_peak(dtype_name: str, threads: int, n: int, seconds: float) -> float:
    import torch

    torch.set_num_threads(threads)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    out = torch.empty(n, n, dtype=dtype)
    with torch.no_grad():
        return _best_gflops(lambda: torch.matmul(a, b, out=out), 2.0 * n ** 3, seconds)


def int8_peak(threads: int, n: int, seconds: float) -> float:
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b"], ["c"])], "int8_peak",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [n, n]),
         helper.make_tensor_value_info("b", TensorProto.INT8, [n, n])],
        [helper.make_tensor_value_info("c", TensorProto.INT32, [n, n])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    onnx.checker.check_model(model)
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {"a": rng.integers(0, 256, (n, n), dtype=np.uint8), "b": rng.integers(-128, 128, (n, n), dtype=np.int8)}
    return _best_gflops(lambda: session.run(None, feeds), 2.0 * n ** 3, seconds)


def measure_peaks(threads: int, precisions=("fp32", "bf16", "int8"), n: int = 1024,
                  seconds: float = 0.5) -> tuple[dict, dict]:
    """({precision: GFLOP/s}, {precision: how it was measured})."""
    peaks, methods = {}, {}
    for precision in precisions:
        if precision == "int8":
            peaks[precision] = int8_peak(threads, n, seconds)
        else:
            peaks[precision] = torch_peak(precision, threads, n, seconds)
        methods[precision] = PEAK_METHODS[precision].format(n=n) + f", {threads} threads, best of {seconds:g} s"
    return {k: round(v, 1) for k, v in peaks.items()}, methods
