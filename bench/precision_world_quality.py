"""The sampled world's quality under each native backend and precision, against fp32's own spread.

`bench/precision_quality.py` asks whether a faster precision draws fp32's frame from the same true
context at temperature 0. This asks the second half of the "quality kept" target (issue "speed to
the floor"): does the world *sampled* at temperature 1 stay as sharp, as real and as faithful to the
actions? Sampling is random, so fp32's own figures move from one noise seed to the next: each
backend runs with the same `--seeds` (the runtime draws the noise, so a seed gives every backend
the same draws), and a faster backend keeps quality where its mean lies inside the range of fp32's
seeds on each figure.

Per backend and seed, on held-out episodes of the world (seeds from 1,000,000, as `vidgen eval`):
- free-running: the stream is reset to an episode's first `window` true frames, then generates
  `--horizon` frames under the episode's own actions: sharpness at h = 1 / 16 / 64 and over the
  bands 1–16 / 17–64 (metrics/sharpness.py), rollout PSNR at h = 16 / 64 and, for a fixed maze level,
  the median nearest-real-view PSNR at h = 16 / 64 (metrics/nearest_view.py);
- action faithfulness: at every `--stride`'th position the stream is reset to the true context and
  draws the next frame under the true action; the share whose dominant motion agrees with the real
  next frame's (metrics/motion.py).

    .venv/bin/python bench/precision_world_quality.py maze
    .venv/bin/python bench/precision_world_quality.py maze --backends native,native-openvino-bf16 --seeds 0,1

Writes bench/results/precision-world-quality-NAME-DATE.json (--json to choose).
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
from vidgen_rt.metrics.motion import motion_agreement
from vidgen_rt.metrics.nearest_view import ViewBank
from vidgen_rt.metrics.sharpness import sharpness_by_band, sharpness_by_horizon
from vidgen_rt.runtime.factory import NATIVE_BUNDLE_BACKENDS, open_stepper
from vidgen_rt.worlds import HELD_OUT_SEED, parse_world

RESULTS = Path(__file__).resolve().parent / "results"
REFERENCE = "native"
BACKENDS = NATIVE_BUNDLE_BACKENDS   # name -> (bundle precision, native backend, compute precision)
HORIZONS = (1, 16, 64)
BANDS = ((1, 16), (17, 64))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("world", help="shipped world name, run or checkpoint directory (a built-in or gym world)")
    parser.add_argument("--backends", default="native,native-openvino-bf16,native-int8",
                        help=f"comma-separated, from {', '.join(BACKENDS)} ({REFERENCE} is always run first)")
    parser.add_argument("--seeds", default="0,1,2", help="noise seeds every backend runs (default: 0,1,2)")
    parser.add_argument("--episodes", type=int, default=8, help="held-out episodes (default: 8)")
    parser.add_argument("--horizon", type=int, default=64, help="generated frames per episode (default: 64)")
    parser.add_argument("--stride", type=int, default=4, help="positions between faithfulness draws (default: 4)")
    parser.add_argument("--threads", type=int, default=1, help="threads per graph (default: 1)")
    parser.add_argument("--json", type=Path,
                        help="output path (default: bench/results/precision-world-quality-NAME-DATE.json)")
    args = parser.parse_args(argv)
    args.backends = [REFERENCE] + [b for b in args.backends.split(",") if b and b != REFERENCE]
    unknown = [b for b in args.backends if b not in BACKENDS]
    if unknown:
        parser.error(f"unknown backend {unknown[0]!r}: expected one of {', '.join(BACKENDS)}")
    try:
        args.seeds = [int(seed) for seed in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds {args.seeds!r}: expected comma-separated integers, e.g. 0,1,2")
    if len(args.seeds) < 2:
        parser.error("--seeds: at least two, so fp32 has a spread to compare with")
    if args.episodes < 1 or args.stride < 1 or args.horizon < max(HORIZONS):
        parser.error(f"--episodes and --stride must be at least 1, --horizon at least {max(HORIZONS)}")
    return args


def rollouts(stepper, episodes: list[dict], window: int, horizon: int) -> np.ndarray:
    """(E, horizon, H, W, 3) frames generated after each episode's first `window` true frames."""
    generated = []
    for episode in episodes:
        frames, actions = episode["frames"], episode["actions"]
        stepper.reset(frames[:window], actions[:window - 1])
        generated.append([np.array(stepper.step(int(actions[window - 1 + h]))[0, ..., :3]) for h in range(horizon)])
    return np.asarray(generated)


def faithfulness(stepper, episodes: list[dict], window: int, stride: int) -> float:
    """Share of next frames drawn from true context whose dominant motion agrees with the real one."""
    agreed = []
    for episode in episodes:
        frames, actions = episode["frames"], episode["actions"]
        for t in range(window - 1, len(frames) - 1, stride):
            stepper.reset(frames[t - window + 1:t + 1], actions[t - window + 1:t])
            drawn = np.array(stepper.step(int(actions[t]))[0, ..., :3])
            agreed.append(motion_agreement(frames[t], frames[t + 1], drawn))
    return float(np.mean(agreed))


def figures(generated: np.ndarray, real: np.ndarray, bank: ViewBank | None) -> dict:
    """The free-running figures of (E, T, H, W, 3) generated frames against the real ones."""
    curve = sharpness_by_horizon(generated, real)
    result = {f"sharpness_h{h}": float(curve[h - 1]) for h in HORIZONS}
    bands = sharpness_by_band(generated, real, BANDS)
    result.update({f"sharpness_{band}": value for band, value in bands.items()})
    for h in HORIZONS[1:]:
        result[f"ar_psnr_h{h}"] = float(np.mean(psnr(generated[:, h - 1], real[:, h - 1])))
        if bank is not None:
            result[f"nearest_view_h{h}"] = float(np.median(bank.match(generated[:, h - 1]).psnr))
    return result


def within_spread(runs: list[dict], reference: list[dict]) -> dict:
    """Per figure: the backend's mean over seeds, fp32's range over seeds, and whether the mean lies in it."""
    verdict = {}
    for key in runs[0]:
        low, high = min(run[key] for run in reference), max(run[key] for run in reference)
        mean = float(np.mean([run[key] for run in runs]))
        verdict[key] = {"mean": round(mean, 4), "fp32_range": [round(low, 4), round(high, 4)],
                        "within": bool(low <= mean <= high)}
    return verdict


def measure(work, name: str, args, episodes, m, bank) -> list[dict]:
    """Every seed's figures for one backend."""
    precision, native, compute = BACKENDS[name]
    stepper = open_stepper(work.bundle(precision), "native", batch=1, intra_op_threads=args.threads,
                           native_backend=native, compute_precision=compute, temperature=1.0)
    real = np.asarray([episode["frames"][m.window:m.window + args.horizon] for episode in episodes])
    runs = []
    try:
        for seed in tqdm(args.seeds, desc=name, leave=False):
            stepper.set_sampling(seed=seed)
            run = figures(rollouts(stepper, episodes, m.window, args.horizon), real, bank)
            run["action_faithfulness"] = faithfulness(stepper, episodes, m.window, args.stride)
            runs.append({key: round(value, 4) for key, value in run.items()})
    finally:
        stepper.close()
    return runs


def maze_bank(world: str, m) -> ViewBank | None:
    """The nearest-view bank of a fixed maze level; None for other worlds (no bank of true renders)."""
    if world.startswith("gym:"):
        return None
    name, options = parse_world(world)
    if name != "maze" or options.get("level") is None:
        return None
    return ViewBank(world, height=m.frame_height, width=m.frame_width)


def main(argv=None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vgrt-world-quality-") as scratch:
        work = Workload(args.world, Path(scratch), [1])
        _, config, state = work.model
        m = config.model
        if m.cond_dim or m.guide_channels:
            raise SystemExit(f"{args.world}: a world with cond vectors or guide maps is not supported here")
        if m.head == "mse":
            raise SystemExit(f"{args.world}: an mse head draws nothing; bench/precision_quality.py covers it")
        world = world_of(state)
        episodes, _ = held_out_episodes(world, args.episodes, HELD_OUT_SEED, m.window + args.horizon, m,
                                        guided=False, quiet=False)
        bank = maze_bank(world, m)
        per_backend = {name: measure(work, name, args, episodes, m, bank) for name in args.backends}
    reference = per_backend[REFERENCE]
    rows = {name: {"per_seed": runs, "against_fp32": within_spread(runs, reference)}
            for name, runs in per_backend.items()}
    name = Path(args.world).name
    out = args.json or RESULTS / f"precision-world-quality-{name}-{datetime.date.today().isoformat()}.json"
    result = {"date": datetime.date.today().isoformat(), "world": args.world, "head": m.head,
              "sampling_steps": m.sampling_steps, "episodes": args.episodes, "horizon": args.horizon,
              "stride": args.stride, "seeds": args.seeds, "threads": args.threads, "temperature": 1.0,
              "reference": REFERENCE, "machine": machine_info(), "results": rows}
    for backend, row in rows.items():
        print(backend)
        for key, verdict in row["against_fp32"].items():
            low, high = verdict["fp32_range"]
            print(f"  {key:26} {verdict['mean']:9.4f}   fp32 {low:.4f}..{high:.4f}   "
                  f"{'within' if verdict['within'] else 'OUTSIDE'}")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
