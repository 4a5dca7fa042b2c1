"""Drift-control ablation: one world's dynamics trained with and without each drift control, every
variant evaluated on the same held-out episodes, PSNR against horizon side by side.

Variants (docs/architecture.md §3's two drift controls, on and off):
  none      train.context_noise=0    train.rollout_passes=0
  noise     train.context_noise=0.1  train.rollout_passes=0
  rollout   train.context_noise=0    train.rollout_passes=1
  both      train.context_noise=0.1  train.rollout_passes=1   (the project's default)
Every variant trains the dynamics stage only, for the same number of steps, from one trained
tokenizer (--tokenizer: a run whose tokenizer stage is complete), so the tokenizer is not a variable.
Then `vidgen eval` runs on each with the same held-out seeds and stability length. Jobs run
--parallel at a time, each with cores/parallel threads; a variant whose run already finished is not
trained again (its eval is redone), so an interrupted ablation resumes where it stopped.

Writes JSON (each variant's overrides, train minutes, tf/ar PSNR, the full ar_psnr curve, stability)
and a PNG of ar_psnr against horizon.

  python bench/drift_ablation.py --data data/pong --tokenizer runs/pong-tok --out runs/ablation-pong \\
      --steps 600 --json bench/results/drift-ablation-pong.json --plot bench/results/drift-ablation-pong.png
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from vidgen_rt.atomic import write_json_atomic
from vidgen_rt.train.checkpoint import read_state, resolve_checkpoint

VARIANTS = {
    "none": {"train.context_noise": "0", "train.rollout_passes": "0"},
    "noise": {"train.context_noise": "0.1", "train.rollout_passes": "0"},
    "rollout": {"train.context_noise": "0", "train.rollout_passes": "1"},
    "both": {"train.context_noise": "0.1", "train.rollout_passes": "1"},
}
CLI = [sys.executable, "-m", "vidgen_rt.cli"]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="the episode store the tokenizer was trained on")
    parser.add_argument("--tokenizer", type=Path, required=True, help="run with a completed tokenizer stage")
    parser.add_argument("--out", type=Path, required=True, help="directory for the variants' runs and evals")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset of " + ", ".join(VARIANTS))
    parser.add_argument("--steps", type=int, default=600, help="dynamics steps per variant (default: 600)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="an extra override for every variant (repeatable)")
    parser.add_argument("--episodes", type=int, default=8, help="held-out episodes per eval (default: 8)")
    parser.add_argument("--stability-frames", type=int, default=10000, help="stability rollout length (default: 10000)")
    parser.add_argument("--parallel", type=int, default=2, help="variants trained at once (default: 2)")
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args(argv)
    unknown = set(args.variants.split(",")) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; expected some of {', '.join(VARIANTS)}")
    if args.steps < 1 or args.parallel < 1:
        parser.error("--steps and --parallel must be positive")
    if not (args.tokenizer / "latest.json").exists():
        parser.error(f"--tokenizer {args.tokenizer}: not a run directory (no latest.json)")
    return args


def run_variant(name: str, args, threads: int) -> dict:
    run, metrics = args.out / name, args.out / f"{name}-eval.json"
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    overrides = {**VARIANTS[name], "train.dynamics_steps": str(args.steps)}
    sets = [item for key, value in overrides.items() for item in ("--set", f"{key}={value}")]
    sets += [item for extra in args.set for item in ("--set", extra)]
    if not (run / "latest.json").exists() or "dynamics" not in _completed(run):
        _call([*CLI, "train", "--data", args.data, "--out", run, "--stage", "dynamics", "--init-from",
               args.tokenizer, "--quiet", *sets], env, args.out / f"{name}-train.log")
    _call([*CLI, "eval", run, "--episodes", str(args.episodes), "--stability-frames", str(args.stability_frames),
           "--json", metrics, "--threads", str(threads), "--quiet"], env, args.out / f"{name}-eval.log")
    result = json.loads(metrics.read_text())
    keep = ("tf_psnr", "tf_ssim", "ar_psnr", "ar_ssim", "ar_psnr_curve", "action_faithfulness", "flicker",
            "stability", "train_minutes", "repeat_last_frame_psnr", "held_out_seeds", "world")
    return {"variant": name, "overrides": overrides, **{k: result.get(k) for k in keep}}


def _completed(run: Path) -> list:
    return read_state(resolve_checkpoint(run)).get("completed", [])


def _call(command, env, log: Path) -> None:
    with open(log, "w") as handle:
        status = subprocess.run([str(c) for c in command], env=env, stdout=handle, stderr=subprocess.STDOUT).returncode
    if status != 0:
        raise SystemExit(f"{' '.join(map(str, command[2:4]))} failed ({status}); see {log}")


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.5, 4), dpi=120)
    for result in results:
        curve = result["ar_psnr_curve"]
        axis.plot(range(1, len(curve) + 1), curve, label=f"{result['variant']} ({_overrides_label(result)})")
    axis.set_xscale("log")
    axis.set_xlabel("horizon (frames)")
    axis.set_ylabel("free-running PSNR (dB)")
    axis.set_title(f"drift control ablation: {results[0]['world']}")
    axis.legend(fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


def _overrides_label(result: dict) -> str:
    o = result["overrides"]
    return f"noise {o['train.context_noise']}, rollout passes {o['train.rollout_passes']}"


def main(argv=None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    names = args.variants.split(",")
    threads = max(1, (os.cpu_count() or 2) // args.parallel)
    with ThreadPoolExecutor(args.parallel) as pool:
        results = list(pool.map(lambda name: run_variant(name, args, threads), names))
    report = {"data": str(args.data), "tokenizer": str(args.tokenizer), "steps": args.steps,
              "extra_overrides": args.set, "threads_per_variant": threads, "results": results}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.json, report)
    print(f"{'variant':10s} {'tf_psnr':>8s} " + " ".join(f"ar@{h:>3s}" for h in ("1", "4", "16", "64"))
          + "  faithful  10k: in range / frozen")
    for r in results:
        s = r["stability"]
        print(f"{r['variant']:10s} {r['tf_psnr']:8.2f} " + " ".join(f"{r['ar_psnr'][h]:6.2f}" for h in ("1", "4", "16", "64"))
              + f"  {r['action_faithfulness']:8.3f}  {s['within_real_range']} / {s['frozen']}")
    print(f"wrote {args.json}")
    if args.plot:
        plot(results, args.plot)
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
