"""Evaluate a trained world model on held-out seeds of its world and write the metrics as JSON.

Keys: tf_psnr, tf_ssim (teacher-forced next frame), ar_psnr (horizon -> PSNR for 1, 4, 16, 64),
action_faithfulness (optical-flow direction agreement), stability (long rollout: NaNs, drift of
frame statistics), train_minutes, params, gflops_per_frame, and more detail (ar_psnr_curve,
tokenizer_psnr). --plot draws PSNR against horizon.

examples:
  vidgen eval maze --json eval.json --plot eval.png
  vidgen eval runs/maze-small --episodes 16 --stability-frames 10000 --json eval.json
"""

import json
from pathlib import Path

HELP = "evaluate a trained world model on held-out seeds (JSON + optional plot)"


def configure(parser) -> None:
    parser.add_argument("checkpoint", metavar="CKPT", help="shipped world name, run directory or checkpoint directory")
    parser.add_argument("--json", type=Path, help="write the metrics here (default: print only)")
    parser.add_argument("--plot", type=Path, help="write a PNG of PSNR against rollout horizon")
    parser.add_argument("--episodes", type=int, default=8, help="held-out episodes (default: 8)")
    parser.add_argument("--seed", type=int, default=1_000_000, help="first held-out world seed (default: 1000000)")
    parser.add_argument("--stability-frames", type=int, default=1000, help="length of the stability rollout (default: 1000)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args) -> int:
    from vidgen_rt.errors import ConfigError
    from vidgen_rt.generate import torch_threads, world_of
    from vidgen_rt.metrics.evaluate import evaluate
    from vidgen_rt.train.checkpoint import load_checkpoint, write_json_atomic

    if args.episodes < 1 or args.stability_frames < 100:
        raise ConfigError("--episodes must be >= 1 and --stability-frames >= 100")
    torch_threads(args.threads)
    model, config, state = load_checkpoint(args.checkpoint)
    result = evaluate(model, config, state, world=world_of(state), episodes=args.episodes, seed=args.seed,
                      stability_frames=args.stability_frames, quiet=args.quiet)
    result["checkpoint"] = str(args.checkpoint)
    summary = {k: result[k] for k in ("tf_psnr", "tf_ssim", "ar_psnr", "action_faithfulness")}
    print(json.dumps(summary))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(args.json, result)
        print(f"metrics written to {args.json}")
    if args.plot:
        plot_psnr(result, args.plot)
        print(f"plot written to {args.plot}")
    return 0


def plot_psnr(result: dict, path: Path) -> None:
    import os
    import tempfile

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vidgen_rt.train.checkpoint import default_mode

    curve = result["ar_psnr_curve"]
    figure, axis = plt.subplots(figsize=(6, 3.5), dpi=120)
    axis.plot(range(1, len(curve) + 1), curve, label="free-running rollout")
    still = result["repeat_last_frame_curve"]
    axis.plot(range(1, len(still) + 1), still, color="orange", label="baseline: repeat last real frame")
    axis.axhline(result["tf_psnr"], color="gray", linestyle="--", label="teacher-forced next frame")
    axis.axhline(result["tokenizer_psnr"], color="green", linestyle=":", label="tokenizer reconstruction")
    axis.set_xscale("log")
    axis.set_xlabel("horizon (frames)")
    axis.set_ylabel("PSNR (dB)")
    axis.set_title(f"{result['world']}: PSNR against horizon ({result['episodes']} held-out episodes)")
    axis.legend(loc="lower left", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".png")
    os.close(fd)
    os.chmod(tmp, default_mode(directory=False))
    figure.savefig(tmp)
    plt.close(figure)
    os.replace(tmp, path)
