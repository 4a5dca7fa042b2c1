"""This machine's measured matmul peak per precision and its memory read bandwidth: the denominators
of every roofline fraction and of the per-frame floor (`floor.py`).

- fp32 and bf16: `torch.matmul` on square matrices large enough to be compute-bound, with all the
  threads the benchmark uses (oneDNN / MKL kernels: AVX-512, AMX-BF16 where the CPU has them);
- int8: ONNX Runtime's `MatMulInteger` (uint8 x int8 -> int32) on a one-node graph, because that
  is the kernel the int8 bundles run (their DynamicQuantizeLinear + MatMulInteger MatMuls).

Each figure is the best of repeated timed products over about `seconds` (best, not mean: the peak
is what the machine can do, and a busy neighbour only ever makes a product slower).

Read bandwidth: `torch.sum` over a float32 buffer far larger than any last-level cache (512 MiB), with
the same threads, best of a few passes. Every byte comes from memory once and the sum's vector adds
keep far ahead of it, so bytes / time is what a frame reading weights it cannot keep in cache gets.
The buffer is written once first: untouched pages all map to one zero page, which reads from cache.
"""

from __future__ import annotations

import itertools
import time

import numpy as np

PEAK_METHODS = {
    "fp32": "torch.matmul float32, {n}x{n}",
    "bf16": "torch.matmul bfloat16, {n}x{n}",
    "int8": "onnxruntime MatMulInteger uint8 x int8 -> int32, {n}x{n}",
}
BANDWIDTH_METHOD = "torch.sum float32, {mib} MiB buffer, {threads} threads, best of {repeats} passes"


def _best_seconds(work, seconds: float = 0.0, repeats: int = 1) -> float:
    """The fastest of at least `repeats` timed runs of `work`, running for at least `seconds`."""
    work()  # warm-up: packing buffers, thread pool, kernel choice
    best, deadline = float("inf"), time.perf_counter() + seconds
    for run in itertools.count(1):
        began = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - began)
        if run >= repeats and time.perf_counter() > deadline:
            return best


def _best_gflops(product, flops: float, seconds: float) -> float:
    return flops / _best_seconds(product, seconds) / 1e9


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


def measure_bandwidth(threads: int, mib: int = 512, repeats: int = 5) -> tuple[float, str]:
    """(memory read bandwidth in GB/s, how it was measured)."""
    import torch

    torch.set_num_threads(threads)
    buffer = torch.full((mib * 2 ** 20 // 4,), 1.0, dtype=torch.float32)  # written: every page is real
    seconds = _best_seconds(buffer.sum, repeats=repeats)
    gbs = buffer.numel() * buffer.element_size() / seconds / 1e9
    return round(gbs, 2), BANDWIDTH_METHOD.format(mib=mib, threads=threads, repeats=repeats)


FIXED_WORK_METHOD = ("{units} units of {reps} x torch.matmul float32 (16 x 1024) @ (1024 x 4864), {mib:.0f} MiB of "
                     "weights (a step's shape and bytes), {threads} threads, garbage collector off")
LONG_UNIT_MS = 1.0   # a unit this much slower than the median counts as a stall


def measure_fixed_work_tail(threads: int, units: int = 500, unit_ms: float = 2.0) -> tuple[dict, str]:
    """How evenly this machine runs the same work over and over: `units` timed repeats of a frame-sized
    unit (16-row matmuls over a step's worth of fp32 weights, about `unit_ms` each). Every unit does
    the same arithmetic on the same memory, so its tail (p99 / p50, stalls longer than the median by
    `LONG_UNIT_MS`) is the host's and the operating system's, not a backend's: the bound below which
    no frame interval's tail can go on this machine."""
    import gc

    import torch

    torch.set_num_threads(threads)
    weights, rows = torch.randn(1024, 4864), torch.randn(16, 1024)
    out = torch.empty(16, 4864)
    one = _best_seconds(lambda: torch.matmul(rows, weights, out=out), repeats=20)
    reps = max(1, round(unit_ms / 1e3 / one))
    seconds = np.empty(units)
    gc.disable()
    try:
        for unit in range(units):
            began = time.perf_counter()
            for _ in range(reps):
                torch.matmul(rows, weights, out=out)
            seconds[unit] = time.perf_counter() - began
    finally:
        gc.enable()
    method = FIXED_WORK_METHOD.format(units=units, reps=reps, mib=weights.numel() * 4 / 2 ** 20, threads=threads)
    return tail_figures(seconds * 1e3), method


def tail_figures(ms: np.ndarray) -> dict:
    """Percentiles of unit times in ms, p99 / p50, and the share of units `LONG_UNIT_MS` over the median."""
    p50, p90, p99 = (float(value) for value in np.percentile(ms, [50, 90, 99]))
    return {"p50_ms": round(p50, 3), "p90_ms": round(p90, 3), "p99_ms": round(p99, 3),
            "p99_over_p50": round(p99 / p50, 3),
            "long_unit_fraction": round(float(np.mean(ms > p50 + LONG_UNIT_MS)), 4)}
