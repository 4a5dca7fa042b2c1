"""Where one graph's time goes under OpenVINO's CPU plugin (docs/performance.md).

Compiles each named graph of a bundle as the native runtime's OpenVINO backend does (one
INFERENCE_NUM_THREADS setting, the precision hint, no CPU pinning), feeds it inputs of the right
shapes, and reads the plugin's per-node counters (PERF_COUNT) over many calls: the time per call
grouped by (node type, kernel), and each FullyConnected node's time with its weight shape, whose
achieved GFLOP/s and GB/s show whether a layer is bound by arithmetic, by memory or by neither.

    python bench/openvino_profile.py maze.vgrt --graphs step,sample,decode --precision bf16 \\
        --json bench/results/openvino-profile-<date>.json
    (vidgen export maze -o maze.vgrt first)
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from pathlib import Path

import numpy as np

CALLS = 200
WARMUP = 30
BYTES = {"bf16": 2, "f32": 4}


def feeds_for(compiled) -> dict:
    """Inputs of every declared shape: small floats, small non-negative integers (actions, lags)."""
    rng = np.random.default_rng(0)
    feeds = {}
    for port in compiled.inputs:
        shape = list(port.get_partial_shape().to_shape())
        dtype = port.get_element_type().to_dtype()
        values = rng.random(shape) * (0.5 if dtype.kind == "f" else 3)
        feeds[port.get_any_name()] = values.astype(dtype)
    return feeds


def profile_graph(core, path: Path, precision: str, threads: int) -> dict:
    compiled = core.compile_model(core.read_model(str(path)), "CPU", {
        "INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": precision,
        "ENABLE_CPU_PINNING": False, "PERF_COUNT": True})
    request = compiled.create_infer_request()
    feeds = feeds_for(compiled)
    for _ in range(WARMUP):
        request.infer(feeds)
    by_kernel, layers, wall = collections.defaultdict(float), collections.defaultdict(float), []
    for _ in range(CALLS):
        began = time.perf_counter()
        request.infer(feeds)
        wall.append(time.perf_counter() - began)
        for node in request.profiling_info:
            milliseconds = node.real_time.total_seconds() * 1e3 / CALLS
            by_kernel[f"{node.node_type} ({node.exec_type})"] += milliseconds
            if node.node_type == "FullyConnected":
                layers[node.node_name] += milliseconds
    return {"wall_p50_ms": round(float(np.median(wall)) * 1e3, 4),
            "counted_ms": round(sum(by_kernel.values()), 4),
            "by_kernel_ms": {k: round(v, 4) for k, v in sorted(by_kernel.items(), key=lambda kv: -kv[1])},
            "fully_connected": _layer_rates(compiled, layers, precision)}


def _layer_rates(compiled, layers: dict, precision: str) -> list[dict]:
    """Each FullyConnected node: rows × weight shape, time, and the GFLOP/s and weight GB/s it reached."""
    ops = {op.get_friendly_name(): op for op in compiled.get_runtime_model().get_ops()}
    rows = []
    for name, milliseconds in layers.items():
        op = ops.get(name)
        if op is None:
            continue
        activations = list(op.input(0).get_partial_shape().to_shape())
        weight = list(op.input(1).get_partial_shape().to_shape())
        tokens = int(np.prod(activations[:-1]))
        flops = 2.0 * tokens * weight[0] * weight[1]
        weight_bytes = weight[0] * weight[1] * BYTES.get(precision, 4)
        rows.append({"node": name, "rows": tokens, "weight": weight, "ms": round(milliseconds, 4),
                     "gflops": round(flops / milliseconds / 1e6, 1),
                     "weight_gbs": round(weight_bytes / milliseconds / 1e6, 2)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", type=Path, help="an exported bundle directory (NAME.vgrt)")
    parser.add_argument("--graphs", default="step,noise,sample,decode", help="graphs to profile, comma-separated")
    parser.add_argument("--precision", choices=("f32", "bf16"), default="bf16", help="inference precision hint")
    parser.add_argument("--threads", type=int, default=1, help="INFERENCE_NUM_THREADS (default: 1, as each "
                        "stage of the asynchronous stream)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    try:
        import openvino
    except ImportError as error:
        raise SystemExit(f"OpenVINO not available: {error}; pip install openvino") from error
    core = openvino.Core()
    result = {"bundle": str(args.bundle), "precision": args.precision, "threads": args.threads,
              "openvino": openvino.__version__, "calls": CALLS, "graphs": {}}
    for name in args.graphs.split(","):
        path = args.bundle / f"{name}.onnx"
        if not path.exists():
            raise SystemExit(f"{path}: no such graph in the bundle")
        graph = result["graphs"][name] = profile_graph(core, path, args.precision, args.threads)
        top = ", ".join(f"{k} {v:.3f}" for k, v in list(graph["by_kernel_ms"].items())[:3])
        print(f"{name}: {graph['wall_p50_ms']:.3f} ms per call (p50); {top}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
