"""Teacher-forced quality of each native backend and precision against fp32 ONNX Runtime.

The question a faster precision must answer (issue "speed to the floor", quality kept): given the
same true context, does it still draw the frame fp32 draws? For held-out episodes of the world
(seeds from 1,000,000, as `vidgen eval`), at every --stride'th position t the stream is reset to the
true frames t-m+1..t and the actions between them, then steps once with the true action at
temperature 0 (a flow head's deterministic output; an mse head has no other). Reported per backend:
PSNR of that frame against the fp32 ONNX Runtime backend's (`vs_fp32_db`: mean and worst) and
against the real next frame (`vs_real_db`), plus the share of frames within 40 dB of fp32.

    .venv/bin/python bench/precision_quality.py maze
    .venv/bin/python bench/precision_quality.py runs/pong-flow --episodes 2 --backends native,native-openvino-bf16

Writes bench/results/precision-quality-NAME-DATE.json (--json to choose). Backends: native (ONNX
Runtime, fp32 bundle: the reference), native-int8 (ONNX Runtime, int8 bundle), native-openvino
(OpenVINO f32) and native-openvino-bf16 (OpenVINO computing in bf16), all on the native runtime.
"""

from __future__ import annotations

import argparse
import datetime
import tempfile
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vidgen_rt.atomic import write_json_atomic
from vidgen_rt.bench.workload import Workload
from vidgen_rt.generate import world_of
from vidgen_rt.machine import machine_info
from vidgen_rt.metrics.evaluate import held_out_episodes
from vidgen_rt.metrics.image import psnr
from vidgen_rt.runtime.factory import NATIVE_BUNDLE_BACKENDS, open_stepper
from vidgen_rt.worlds import HELD_OUT_SEED

RESULTS = Path(__file__).resolve().parent / "results"
REFERENCE = "native"
BACKENDS = NATIVE_BUNDLE_BACKENDS   # name -> (bundle precision, native backend, compute precision)
QUALITY_FLOOR_DB = 40.0  # the bar for a faster precision against fp32, teacher-forced
PSNR_CAP_DB = 100.0      # identical frames have infinite PSNR; capped so a mean stays finite
SHARE_KEY = f"share_within_{QUALITY_FLOOR_DB:.0f}_db"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("world", help="shipped world name, run or checkpoint directory (a built-in or gym world)")
    parser.add_argument("--backends", default="native,native-int8,native-openvino,native-openvino-bf16",
                        help=f"comma-separated, from {', '.join(BACKENDS)} ({REFERENCE} is always run first)")
    parser.add_argument("--episodes", type=int, default=4, help="held-out episodes (default: 4)")
    parser.add_argument("--frames", type=int, default=96, help="frames per episode (default: 96)")
    parser.add_argument("--stride", type=int, default=4, help="positions between measured frames (default: 4)")
    parser.add_argument("--threads", type=int, default=1, help="threads per graph (default: 1)")
    parser.add_argument("--json", type=Path, help="output path (default: bench/results/precision-quality-NAME-DATE.json)")
    args = parser.parse_args(argv)
    args.backends = [REFERENCE] + [b for b in args.backends.split(",") if b and b != REFERENCE]
    unknown = [b for b in args.backends if b not in BACKENDS]
    if unknown:
        parser.error(f"unknown backend {unknown[0]!r}: expected one of {', '.join(BACKENDS)}")
    if args.episodes < 1 or args.stride < 1:
        parser.error("--episodes and --stride must be at least 1")
    return args


def positions(episodes: list[dict], window: int, stride: int) -> list[tuple[int, int]]:
    """(episode, t) of every measured position: t is the last true context frame, t + 1 is drawn."""
    return [(e, t) for e, ep in enumerate(episodes) for t in range(window - 1, len(ep["frames"]) - 1, stride)]


def teacher_forced_frames(stepper, episodes: list[dict], measured: list[tuple[int, int]], window: int,
                          label: str) -> list[np.ndarray]:
    """The frame the stepper draws after each measured position's true context, RGB uint8."""
    drawn = []
    for e, t in tqdm(measured, desc=label, leave=False):
        frames, actions = episodes[e]["frames"], episodes[e]["actions"]
        stepper.reset(frames[t - window + 1:t + 1], actions[t - window + 1:t])
        drawn.append(np.array(stepper.step(int(actions[t]))[0, ..., :3]))
    return drawn


def main(argv=None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vgrt-precision-") as scratch:
        work = Workload(args.world, Path(scratch), [1])
        _, config, state = work.model
        m = config.model
        if m.cond_dim or m.guide_channels:
            raise SystemExit(f"{args.world}: a world with cond vectors or guide maps is not supported here")
        episodes, _ = held_out_episodes(world_of(state), args.episodes, HELD_OUT_SEED, args.frames, m,
                                        guided=False, quiet=False)
        measured = positions(episodes, m.window, args.stride)
        real = [episodes[e]["frames"][t + 1] for e, t in measured]
        drawn = {}
        for name in args.backends:
            precision, native, compute = BACKENDS[name]
            stepper = open_stepper(work.bundle(precision), "native", batch=1, intra_op_threads=args.threads,
                                   native_backend=native, compute_precision=compute, temperature=0.0)
            try:
                drawn[name] = teacher_forced_frames(stepper, episodes, measured, m.window, name)
            finally:
                stepper.close()
    rows = {}
    for name, frames in drawn.items():
        vs_fp32 = np.array([psnr(a, b) for a, b in zip(frames, drawn[REFERENCE])])
        vs_real = np.array([psnr(a, b) for a, b in zip(frames, real)])
        finite = np.minimum(vs_fp32, PSNR_CAP_DB)
        rows[name] = {"vs_fp32_db_mean": round(float(finite.mean()), 2), "vs_fp32_db_min": round(float(finite.min()), 2),
                      SHARE_KEY: round(float((vs_fp32 >= QUALITY_FLOOR_DB).mean()), 4),
                      "vs_real_db_mean": round(float(vs_real.mean()), 2)}
    name = Path(args.world).name
    out = args.json or RESULTS / f"precision-quality-{name}-{datetime.date.today().isoformat()}.json"
    result = {"date": datetime.date.today().isoformat(), "world": args.world, "head": m.head,
              "episodes": args.episodes, "frames_per_episode": args.frames, "stride": args.stride,
              "measured_frames": len(real), "threads": args.threads, "temperature": 0.0,
              "reference": REFERENCE, "psnr_cap_db": PSNR_CAP_DB, "machine": machine_info(), "results": rows}
    print(f"{'backend':24} {'vs fp32 mean':>13} {'vs fp32 min':>12} {'>= 40 dB':>9} {'vs real':>8}")
    for backend, row in rows.items():
        print(f"{backend:24} {row['vs_fp32_db_mean']:13.2f} {row['vs_fp32_db_min']:12.2f} "
              f"{row[SHARE_KEY]:9.3f} {row['vs_real_db_mean']:8.2f}")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
