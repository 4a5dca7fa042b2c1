"""Frames per second of the built-in maze world on ONE CPU core, single-frame and batched.

Measures `MazeWorld.step(action)` (move + render one frame, the path recorders use), `MazeBatch.step`
(B players, each in its own maze, stepped and rendered in one call) and `MazeWorld.render_batch`
(B arbitrary poses in one maze, rendering only). The process pins itself to core 0 and caps every
thread pool at one thread before numpy is imported, so the figures are per core. Prints a table
and writes bench/results/world-fps-<date>.json with the machine, numpy version and the figures.

  python bench/world_fps.py
  python bench/world_fps.py --seconds 1 --batch-sizes 1,16,64,256 --size 64x64
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

import argparse  # noqa: E402  (imports follow the pinning on purpose)
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from vidgen_rt.machine import cpu_model  # noqa: E402
from vidgen_rt.worlds import ACTIONS, MazeBatch, MazeWorld  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def timed(call, frames_per_call: int, seconds: float) -> float:
    """Frames per second of `call()`, after one warm-up call, over at least `seconds`."""
    call()
    calls, start = 0, time.perf_counter()
    while True:
        call()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return calls * frames_per_call / elapsed


def bench_single(height: int, width: int, seconds: float) -> float:
    world = MazeWorld(0, height=height, width=width)
    world.reset()
    actions = iter(np.random.default_rng(0).integers(0, len(ACTIONS), 10_000_000).tolist())
    return timed(lambda: world.step(next(actions)), 1, seconds)


def bench_batch_step(batch: int, height: int, width: int, seconds: float) -> float:
    worlds = MazeBatch(list(range(batch)), height=height, width=width)
    worlds.reset()
    rng = np.random.default_rng(0)
    return timed(lambda: worlds.step(rng.integers(0, len(ACTIONS), batch)), batch, seconds)


def bench_render_poses(batch: int, height: int, width: int, seconds: float) -> float:
    """Rendering only: B poses walked by random actions in maze 0, rendered in one call."""
    walker = MazeBatch([0] * batch, height=4, width=4)
    rng = np.random.default_rng(1)
    for _ in range(50):
        walker.step(rng.integers(0, len(ACTIONS), batch))
    world = MazeWorld(0, height=height, width=width)
    positions, angles = walker.positions, walker.angles
    return timed(lambda: world.render_batch(positions, angles), batch, seconds)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="64x64", help="frame size HxW (default: 64x64)")
    parser.add_argument("--batch-sizes", default="1,64,256", help="comma-separated batch sizes (default: 1,64,256)")
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement (default: 2)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON file to write (default: bench/results/world-fps-<date>.json)")
    args = parser.parse_args()
    try:
        args.height, args.width = (int(v) for v in args.size.lower().split("x"))
        args.batches = [int(b) for b in args.batch_sizes.split(",")]
    except ValueError:
        parser.error(f"--size must be HxW and --batch-sizes integers, got {args.size!r} and {args.batch_sizes!r}")
    if min(args.height, args.width, *args.batches) < 1:
        parser.error("sizes and batch sizes must be positive")
    return args


def main() -> None:
    args = parse_args()
    height, width, batches = args.height, args.width, args.batches
    rows = [{"path": "MazeWorld.step", "batch": 1, "fps": bench_single(height, width, args.seconds)}]
    for batch in batches:
        rows.append({"path": "MazeBatch.step", "batch": batch,
                     "fps": bench_batch_step(batch, height, width, args.seconds)})
    for batch in batches:
        rows.append({"path": "MazeWorld.render_batch", "batch": batch,
                     "fps": bench_render_poses(batch, height, width, args.seconds)})
    print(f"maze world, {height}x{width}, one core ({cpu_model()})")
    print(f"{'path':<24}{'batch':>7}{'frames/s':>12}")
    for row in rows:
        row["fps"] = round(row["fps"], 1)
        print(f"{row['path']:<24}{row['batch']:>7}{row['fps']:>12,.0f}")
    today = datetime.date.today().isoformat()
    report = {
        "benchmark": "world_fps", "world": "maze", "date": today, "height": height, "width": width,
        "seconds_per_measurement": args.seconds,
        "machine": {"cpu": cpu_model(), "cores_used": 1, "numpy": np.__version__,
                    "python": platform.python_version(), "platform": platform.platform()},
        "results": rows,
    }
    out = args.out or RESULTS / f"world-fps-{today}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
