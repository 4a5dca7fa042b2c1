"""Milliseconds per cached dynamics step of a world, PyTorch against its exported ONNX graphs.

One process, one run, interleaved rounds after warm-up, so the figures compare side by side:
- `torch-eager-fp32`: `FrameCausalTransformer.step` in fp32, batch 1, driven from Python;
- `torch-bf16`: the same under `torch.autocast("cpu", torch.bfloat16)` (AMX on this CPU);
- `ort-fp32`, `ort-fp16`, `ort-int8`: `step.onnx` of bundles exported here, run by ONNX Runtime,
  each under every session setting tried (intra-op threads 1 and 2, spinning on and off).
The cache is full (every lag valid), as in steady-state play. This is the one script that calls the
step graph outside its three implementations (docs/architecture.md §4): it times one call in
isolation, with no ring and no loop. Prints a table and writes
bench/results/export-<date>.json.

  python bench/export_step.py                 # the shipped maze world (small)
  python bench/export_step.py --world runs/maze-small --rounds 5 --steps 200
"""

import argparse
import datetime
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from vidgen_rt.export import export_bundle, load_bundle
from vidgen_rt.export.graphs import step_inputs
from vidgen_rt.machine import machine_info
from vidgen_rt.runtime.ort_stepper import session_options
from vidgen_rt.train.checkpoint import load_checkpoint

RESULTS = Path(__file__).resolve().parent / "results"


def torch_runner(model, bf16: bool):
    inputs = step_inputs(model.config, 1, torch.float32)
    past = [(inputs[f"past_key_{layer}"].normal_(), inputs[f"past_value_{layer}"].normal_())
            for layer in range(model.config.n_layers)]

    def run():
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            model.dynamics.step(inputs["latents"], inputs["action"], None, None, past, inputs["lags"])
    return run


def ort_runner(bundle, threads: int, spinning: bool):
    session = ort.InferenceSession(str(bundle.graph_path("step", 1)), session_options(threads, spinning),
                                   providers=["CPUExecutionProvider"])
    dtype = bundle.cache_dtype
    feeds = {io["name"]: np.zeros(io["shape"], dtype=io["dtype"]) for io in bundle.graph("step")["inputs"]}
    rng = np.random.default_rng(0)
    for name in feeds:
        if name.startswith("past_"):
            feeds[name] = rng.standard_normal(feeds[name].shape).astype(dtype)
    feeds["lags"] = np.arange(1, len(feeds["lags"]) + 1, dtype=np.int64)
    return lambda: session.run(None, feeds)


def measure(runners: dict, rounds: int, steps: int) -> dict:
    for run in runners.values():  # warm-up: allocator, thread pools, kernel selection
        for _ in range(20):
            run()
    samples = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            began = time.perf_counter()
            for _ in range(steps):
                run()
            samples[name].append((time.perf_counter() - began) * 1000.0 / steps)
    return {name: {"ms_per_step": float(np.median(values)), "rounds_ms": values} for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", default="maze", help="shipped world, run or checkpoint (default: maze)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    model, config, _ = load_checkpoint(args.world)
    runners = {"torch-eager-fp32": torch_runner(model, bf16=False), "torch-bf16": torch_runner(model, bf16=True)}
    with tempfile.TemporaryDirectory() as scratch:
        for precision in ("fp32", "fp16", "int8"):
            bundle = load_bundle(export_bundle(args.world, Path(scratch) / f"{precision}.vgrt",
                                               precision=precision, quiet=True))
            for threads in (1, 2):
                for spinning in (True, False):
                    label = f"ort-{precision} intra_op_threads={threads} allow_spinning={'on' if spinning else 'off'}"
                    runners[label] = ort_runner(bundle, threads, spinning)
        results = measure(runners, args.rounds, args.steps)
    report = {
        "date": datetime.date.today().isoformat(), "world": args.world, "preset": config.preset,
        "machine": machine_info(),
        "versions": {"torch": torch.__version__, "onnxruntime": ort.__version__},
        "rounds": args.rounds, "steps_per_round": args.steps, "results": results,
    }
    for name, figures in results.items():
        print(f"{name:36s} {figures['ms_per_step']:7.2f} ms/step  {1000 / figures['ms_per_step']:7.0f} steps/s")
    out = args.out or RESULTS / f"export-{report['date']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
