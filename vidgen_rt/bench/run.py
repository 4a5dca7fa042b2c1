"""`run_bench`: one benchmark run from a WORLD or BUNDLE to the report dict that `vidgen bench` prints
and writes as JSON (schema in docs/benchmarks.md)."""

from __future__ import annotations

import datetime
import os
import tempfile

from vidgen_rt.bench.backends import BACKENDS, build_backends
from vidgen_rt.bench.peak import measure_bandwidth, measure_fixed_work_tail, measure_peaks
from vidgen_rt.bench.scenarios import SCENARIOS, Scenario, Settings
from vidgen_rt.bench.workload import Workload
from vidgen_rt.errors import ConfigError
from vidgen_rt.machine import cpu_ticks, steal_fraction
from vidgen_rt.runtime.stepper import check_sampling

MULTI_BATCHES = (1, 2, 4, 8, 16)
MIN_FRAMES = 10


def check_request(scenario: str, backends, frames: int, batches, sampling_steps=None) -> None:
    if scenario not in SCENARIOS:
        raise ConfigError(f"--scenario {scenario!r}: expected one of {', '.join(SCENARIOS)}")
    unknown = [name for name in backends if name not in BACKENDS]
    if unknown or not backends:
        raise ConfigError(f"--backends: unknown backend {', '.join(unknown) or '(none given)'}; "
                          f"expected a comma-separated list of {', '.join(BACKENDS)}")
    if frames < MIN_FRAMES:
        raise ConfigError(f"--frames {frames}: at least {MIN_FRAMES} frames are needed for percentiles")
    if batches is not None and (not batches or min(batches) < 1 or 1 not in batches):
        raise ConfigError(f"--batches {batches}: expected batch sizes >= 1, including 1")
    if sampling_steps is not None and (not sampling_steps or len(set(sampling_steps)) != len(sampling_steps)):
        raise ConfigError(f"--sampling-steps {sampling_steps}: expected distinct values, e.g. 1,2,4")
    for k in sampling_steps or ():
        check_sampling(sampling_steps=k)


def run_bench(source, scenario: str = "single", backends=("torch-eager", "native"), frames: int = 300,
              threads: int | None = None, batches=None, no_cache: bool = False, target_fps: float = 30.0,
              warmup: int = 20, quiet: bool = False, sampling_steps=None,
              temperature: float = 1.0, turn_warmup: int = Settings.turn_warmup) -> tuple[dict, dict]:
    """(report, latencies per backend label in ms). `batches` (multi/offline): the batch sizes to
    export and try (default 1, 2, 4, 8, 16); single always runs batch 1. `sampling_steps`: the K of a
    flow head to measure, each a row per backend (default: the world's K); `temperature` its noise;
    `turn_warmup`: untimed frames opening each round-robin turn (scenarios.py)."""
    import torch

    backends = list(dict.fromkeys(backends))
    check_request(scenario, backends, frames, batches, sampling_steps)
    check_sampling(temperature=temperature)
    if turn_warmup < 1:
        raise ConfigError(f"turn_warmup {turn_warmup}: at least one untimed frame must open each turn")
    threads = threads or len(os.sched_getaffinity(0))
    if threads < 1:
        raise ConfigError(f"--threads {threads}: expected at least 1")
    torch.set_num_threads(threads)
    sizes = [1] if scenario == "single" else sorted(set(batches or MULTI_BATCHES))
    load_before = os.getloadavg()
    ticks_before = cpu_ticks()
    with tempfile.TemporaryDirectory(prefix="vidgen-bench-") as scratch:
        workload = Workload(source, scratch, sizes)
        model_info = workload.model_info()
        chosen = build_backends(backends, workload, threads, no_cache, sampling_steps, temperature)
        precisions = sorted({b.precision for b in chosen if b.skipped is None} & {"fp32", "bf16", "int8"} | {"fp32"})
        peaks, methods = measure_peaks(threads, precisions)
        bandwidth, bandwidth_method = measure_bandwidth(threads)
        fixed_work, fixed_work_method = measure_fixed_work_tail(threads)
        settings = Settings(frames=frames, warmup=warmup, target_fps=target_fps, quiet=quiet, turn_warmup=turn_warmup)
        run = Scenario(scenario, chosen, workload.needed_batches, workload.config.model.n_actions, model_info,
                       peaks, bandwidth, settings)
        results = run.run()
    report = {
        "scenario": scenario,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": _machine(load_before, ticks_before),
        "model": model_info,
        "peak_gflops": peaks, "peak_method": methods,
        "bandwidth_gbs": bandwidth, "bandwidth_method": bandwidth_method,
        "fixed_work_tail": fixed_work, "fixed_work_method": fixed_work_method,
        "settings": {"frames": frames, "warmup": warmup, "chunk": settings.chunk, "turn_warmup": turn_warmup,
                     "threads": threads, "batches": workload.needed_batches, "target_fps": target_fps, "no_cache": no_cache,
                     "head": workload.config.model.head, "sampling_steps": sampling_steps,
                     "temperature": temperature,
                     "bundles": sorted(workload.bundles)},
        "versions": _versions(),
        "results": results,
    }
    return report, run.latencies


def _machine(load_before, ticks_before) -> dict:
    from vidgen_rt.machine import machine_info

    stolen = steal_fraction(ticks_before, cpu_ticks())
    return {**machine_info(), "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "steal_fraction": None if stolen is None else round(stolen, 4)}


def _versions() -> dict:
    import onnxruntime
    import torch

    from vidgen_rt import __version__

    return {"vidgen_rt": __version__, "torch": torch.__version__, "onnxruntime": onnxruntime.__version__}
