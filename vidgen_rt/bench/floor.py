"""The per-frame floor of a benchmark row: the least time one batched frame can take on this machine
at the row's precision, and the fraction of it the backend reached (docs/benchmarks.md).

    floor_ms = max(FLOPs / peak[precision], bytes / read bandwidth)

FLOPs: the model's per-player FLOPs of the graphs a frame runs (step, the flow head's sample graph
K times, decode; `vidgen_rt/model/flops.py`) times the batch. Bytes: every weight of those graphs
read once per run (the sample graph's K times) at the precision's width, plus each player's KV
cache read by the step. Both come from the model config (`Workload.model_info`), so every backend of
a precision has the same floor whatever file format it runs.
"""

from __future__ import annotations

# Bytes per weight at each precision.
WEIGHT_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2, "int8": 1}
# Bytes per cached key/value: int8 quantizes weights only, its cache stays float32 (the manifest's
# cache dtype), as do its activations.
CACHE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2, "int8": 4}


def frame_work(model_info: dict, precision: str, batch: int, sampling_steps: int | None,
               nocache: bool = False) -> tuple[float, int]:
    """(FLOPs, bytes read) of one batched frame of `batch` players. A no-cache frame recomputes its
    window (`gflops_per_frame_nocache`) and reads no KV cache; `sampling_steps` is a flow head's K."""
    flops, weights = model_info["gflops_per_frame"], model_info["weights"]
    runs = {"step": 1, "sample": sampling_steps or 0, "decode": 1}
    gflops = (model_info["gflops_per_frame_nocache"] if nocache
              else sum(runs[graph] * flops[graph] for graph in runs))
    cache_values = 0 if nocache else model_info["kv_cache_values"]
    read = (sum(runs[graph] * weights[graph] for graph in runs) * WEIGHT_BYTES[precision]
            + batch * cache_values * CACHE_BYTES[precision])
    return batch * gflops * 1e9, read


def floor(flops: float, read_bytes: int, peak_gflops: float, bandwidth_gbs: float) -> dict:
    """The floor of one batched frame in ms, and which bound sets it ("compute" when they tie)."""
    if peak_gflops <= 0 or bandwidth_gbs <= 0:
        raise ValueError(f"floor: peak {peak_gflops} GFLOP/s and bandwidth {bandwidth_gbs} GB/s must be positive")
    compute_ms = flops / (peak_gflops * 1e9) * 1e3
    memory_ms = read_bytes / (bandwidth_gbs * 1e9) * 1e3
    return {"floor_ms": max(compute_ms, memory_ms), "floor_bound": "compute" if compute_ms >= memory_ms else "memory",
            "floor_compute_ms": compute_ms, "floor_memory_ms": memory_ms}


def floor_fields(model_info: dict, precision: str, batch: int, sampling_steps: int | None, nocache: bool,
                 peak_gflops: float | None, bandwidth_gbs: float, mean_ms: float) -> dict:
    """A result row's floor keys: `bytes_per_frame`, `floor_ms`, `floor_fps` (all players),
    `floor_fraction` (floor_ms / measured mean ms), `floor_bound` and its two terms; null figures
    where the precision has no measured peak (fp16 on a CPU)."""
    flops, read = frame_work(model_info, precision, batch, sampling_steps, nocache)
    if peak_gflops is None:
        return {"bytes_per_frame": read, "floor_ms": None, "floor_fps": None, "floor_fraction": None,
                "floor_bound": None}
    bound = floor(flops, read, peak_gflops, bandwidth_gbs)
    return {"bytes_per_frame": read, "floor_ms": significant(bound["floor_ms"]),
            "floor_fps": significant(batch * 1000.0 / bound["floor_ms"]),
            "floor_fraction": significant(bound["floor_ms"] / mean_ms), "floor_bound": bound["floor_bound"],
            "floor_compute_ms": significant(bound["floor_compute_ms"]),
            "floor_memory_ms": significant(bound["floor_memory_ms"])}


def significant(value: float, digits: int = 6) -> float:
    """`value` to `digits` significant figures: a tiny model's floor is microseconds, where rounding to
    decimal places would keep one digit of it."""
    return float(f"{value:.{digits}g}")
