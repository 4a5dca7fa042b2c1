"""Frames per second of one stream of a bundle (step + decode, batch 1) through the native runtime,
the Python reference driver OrtStepper and PyTorch eager, in one run on this machine.

Every stepper comes from `vidgen_rt.open_stepper`. The native runtime is measured from Python (the
GIL is released inside each step, frames come back zero-copy); its own stats give the time spent inside ONNX Runtime's Run
calls (step + decode graphs), from which the runtime overhead — everything else in a frame — is
reported as a share of the frame time, both inside the C++ step and as Python sees it. PyTorch
eager is the checkpoint's `TorchStepper`, decoding every frame.
RSS is sampled before and after a long native run to show growth. Writes
bench/results/runtime-<date>.json.

  python bench/runtime_fps.py --bundle /tmp/maze.vgrt
  python bench/runtime_fps.py --frames 1000 --rss-frames 100000
"""

import argparse
import datetime
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def timed_frames(step, actions) -> float:
    start = time.perf_counter()
    for action in actions:
        step(action)
    return len(actions) / (time.perf_counter() - start)


def bench_native(bundle, actions, threads, warmup):
    import vidgen_rt

    with vidgen_rt.open_stepper(bundle, "native", intra_op_threads=threads) as stream:
        for action in actions[:warmup]:
            stream.step(action)
        fps = timed_frames(stream.step, actions)
        stats = stream.stats()
    ort_ms = stats["step"]["mean_ms"] + stats["decode"]["mean_ms"]
    frame_ms = 1000.0 / fps
    return {
        "backend": "native (libvidgen_rt, ORT C API)", "fps": round(fps, 1),
        "frame_ms": round(frame_ms, 3), "ort_run_ms": round(ort_ms, 3),
        "step_ms": stats["step"], "decode_ms": stats["decode"], "total_ms": stats["total"],
        "overhead_in_cxx_pct": round(100 * (stats["total"]["mean_ms"] - ort_ms) / stats["total"]["mean_ms"], 2),
        "overhead_from_python_pct": round(100 * (frame_ms - ort_ms) / frame_ms, 2),
        "ort_library": stream.runtime.info["backend_library"],
    }


def bench_ort_stepper(bundle, actions, threads, warmup):
    import vidgen_rt

    stepper = vidgen_rt.open_stepper(bundle, "ort-python", intra_op_threads=threads)
    stepper.reset()
    for action in actions[:warmup]:
        stepper.step(action)
    return {"backend": "OrtStepper (Python + onnxruntime)", "fps": round(timed_frames(stepper.step, actions), 1)}


def bench_torch(checkpoint, bundle, actions, threads, warmup):
    import torch

    import vidgen_rt
    from vidgen_rt.export.bundle import load_bundle

    torch.set_num_threads(threads)
    stepper = vidgen_rt.open_stepper(checkpoint, "torch")
    context = load_bundle(bundle).context()
    stepper.reset(context["frames"], context["actions"])
    for action in actions[:warmup]:
        stepper.step(action)
    fps = timed_frames(stepper.step, actions)
    return {"backend": "torch-eager (TorchStepper: cached step + decode, fp32)", "fps": round(fps, 1),
            "torch": torch.__version__}


def rss_growth(bundle, frames, threads):
    import vidgen_rt

    rng = np.random.default_rng(1)
    with vidgen_rt.open_stepper(bundle, "native", intra_op_threads=threads) as stream:
        n_actions = len(stream.info.action_names)
        for action in rng.integers(0, n_actions, 1000):
            stream.step(action)
        before = rss_mb()
        start = time.perf_counter()
        for action in rng.integers(0, n_actions, frames):
            stream.step(action)
        elapsed = time.perf_counter() - start
        after = rss_mb()
    return {"frames": frames, "rss_before_mb": round(before, 2), "rss_after_mb": round(after, 2),
            "growth_mb": round(after - before, 2), "fps": round(frames / elapsed, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, help="bundle to run (default: export the shipped maze world)")
    parser.add_argument("--checkpoint", default="maze", help="checkpoint for torch-eager (default: maze)")
    parser.add_argument("--frames", type=int, default=1000, help="timed frames per backend (default 1000)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads (default 2 = the physical cores)")
    parser.add_argument("--rss-frames", type=int, default=100_000, help="frames of the RSS run (default 100000)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        bundle = args.bundle
        if bundle is None:
            from vidgen_rt.export import export_bundle

            bundle = export_bundle(args.checkpoint, Path(scratch) / "maze.vgrt", batches=[1], quiet=True)
        actions = np.random.default_rng(0).integers(0, 7, args.frames + args.warmup).tolist()
        rows = [bench_native(bundle, actions, args.threads, args.warmup),
                bench_ort_stepper(bundle, actions, args.threads, args.warmup),
                bench_torch(args.checkpoint, bundle, actions, args.threads, args.warmup)]
        for row in rows:
            print(f"{row['backend']:<50}{row['fps']:>10.1f} frames/s")
        native = rows[0]
        print(f"native overhead outside ORT Run: {native['overhead_in_cxx_pct']} % inside the C++ step, "
              f"{native['overhead_from_python_pct']} % of the frame as Python sees it")
        rss = rss_growth(bundle, args.rss_frames, args.threads) if args.rss_frames else None
        if rss:
            print(f"RSS over {rss['frames']} native frames: {rss['rss_before_mb']} -> {rss['rss_after_mb']} MB")

    from vidgen_rt.machine import machine_info

    today = datetime.date.today().isoformat()
    report = {
        "benchmark": "runtime_fps", "date": today, "bundle": str(args.bundle or f"export of {args.checkpoint}"),
        "batch": 1, "frames": args.frames, "warmup": args.warmup, "intra_op_threads": args.threads,
        "spinning": True, "load_average": os.getloadavg(),
        "machine": machine_info(),
        "results": rows, "rss": rss,
    }
    out = args.out or RESULTS / f"runtime-{today}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
