"""Evaluate a trained world model on held-out seeds of its world and write the metrics as JSON; a
model trained on an episode store (ingested video) on the store's held-out episodes, or --data's.

Keys: tf_psnr, tf_ssim (teacher-forced next frame), ar_psnr and ar_ssim (horizon -> score for 1, 4,
16, 64), action_faithfulness (optical-flow direction agreement), flicker (flow-warped temporal error
of generated and real frames, and the excess), stability (long rollout: NaNs, drift of frame
statistics), sharpness (high-frequency energy against real frames, per horizon and band, and the
tokenizer's), realism (k-NN precision/recall; nearest-real-view PSNR and poses for a fixed maze
level), object_persistence (Gymnasium games; --object-persistence for built-in worlds),
temperature_0 (a sampling head's deterministic output), train_minutes, params, gflops_per_frame,
and more detail (ar_psnr_curve, ar_ssim_curve, tokenizer_psnr). --plot draws PSNR and SSIM against horizon; --html / --md write a one-page report
with the metrics table, those curves and strips of real vs generated frames (PNGs beside the page),
also at horizons 256, 1,000 and 10,000 when --stability-frames reaches them.

examples:
  vidgen eval maze --json eval.json --plot eval.png
  vidgen eval runs/maze-small --episodes 16 --stability-frames 10000 --json eval.json
  vidgen eval maze --stability-frames 10000 --stability-rollouts 4   # four long rollouts, judged together
  vidgen eval runs/maze-small --html reports/maze.html --md reports/maze.md
  vidgen eval maze --world maze --episodes 16     # the shipped level model on unseen mazes
  vidgen eval runs/maze-small --world maze:level=1,cells=6   # nearest-real-view realism of that level
  vidgen eval runs/mine --json eval.json     # a model of ingested video: on its store's held-out episodes
  vidgen eval runs/mine --data data/other    # ... or on another store (metrics/store_eval.py)
"""

import json
from pathlib import Path

from vidgen_rt.worlds import HELD_OUT_SEED

HELP = "evaluate a trained world model on held-out seeds (JSON, plot, HTML/Markdown report)"


def configure(parser) -> None:
    parser.add_argument("checkpoint", metavar="CKPT", help="shipped world name, run directory or checkpoint directory")
    parser.add_argument("--json", type=Path, help="write the metrics here (default: print only)")
    parser.add_argument("--plot", type=Path, help="write a PNG of PSNR and SSIM against rollout horizon")
    parser.add_argument("--html", type=Path, help="write a one-page HTML report here (images beside it)")
    parser.add_argument("--md", type=Path, help="write a one-page Markdown report here (images beside it)")
    parser.add_argument("--episodes", type=int, default=8, help="held-out episodes (default: 8)")
    parser.add_argument("--world", metavar="SPEC",
                        help="evaluate on this built-in world instead of the checkpoint's own, e.g. a model "
                             "of one level (maze:level=1,cells=6) on unseen mazes (maze); same actions needed")
    parser.add_argument("--seed", type=int, default=HELD_OUT_SEED,
                        help=f"first held-out world seed (default: {HELD_OUT_SEED})")
    parser.add_argument("--stability-frames", type=int, default=1000, help="length of the stability rollout (default: 1000)")
    parser.add_argument("--stability-rollouts", type=int, default=1, metavar="K",
                        help="long rollouts from K seeds, judged together: the verdicts need all of them to "
                             "pass, and how many passed is reported (default: 1)")
    parser.add_argument("--object-persistence", action="store_true",
                        help="also measure object_persistence on a built-in world (always on for gym:ENV_ID)")
    parser.add_argument("--data", type=Path, metavar="STORE",
                        help="evaluate on this episode store's held-out episodes (default for a model trained on "
                             "ingested video: its own store's)")
    parser.add_argument("--temperature", type=float, default=1.0, metavar="T",
                        help="a sampling head's noise scale for every sampled figure, as the stream option "
                             "(0..4, default 1; temperature_0 always reports the deterministic output)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args) -> int:
    from vidgen_rt.errors import ConfigError
    from vidgen_rt.generate import torch_threads
    from vidgen_rt.preflight import output_file
    from vidgen_rt.runtime.stepper import check_sampling
    from vidgen_rt.train.checkpoint import load_checkpoint

    if args.episodes < 1 or args.stability_frames < 100 or args.stability_rollouts < 1:
        raise ConfigError("--episodes must be >= 1, --stability-frames >= 100 and --stability-rollouts >= 1")
    check_sampling(temperature=args.temperature)
    for flag, path in (("--json", args.json), ("--plot", args.plot), ("--html", args.html), ("--md", args.md)):
        if path is not None:
            output_file(path, flag)
    torch_threads(args.threads)
    model, config, state = load_checkpoint(args.checkpoint)
    if args.data is not None or (args.world is None and not state.get("world")):
        result, samples = _store_eval(args, model, config, state)
    else:
        result, samples = _world_eval(args, model, config, state)
    _write_outputs(args, result, samples)
    return 0


def _store_eval(args, model, config, state):
    """A model of a store (metrics/store_eval.py): its held-out episodes, or --data's."""
    from vidgen_rt.errors import ConfigError
    from vidgen_rt.metrics.store_eval import evaluate_store

    if args.world is not None:
        raise ConfigError("--data and --world exclude each other: a store or a built-in world to evaluate on")
    result, samples = evaluate_store(model, config, state, args.data, segments=args.episodes,
                                     temperature=args.temperature)
    result["checkpoint"] = str(args.checkpoint)
    summary = {k: result[k] for k in ("tf_psnr", "tf_ssim", "ar_psnr", "flicker", "realism")}
    print(json.dumps(summary))
    return result, samples


def _world_eval(args, model, config, state):
    from vidgen_rt.generate import world_of
    from vidgen_rt.metrics.evaluate import evaluate_with_samples

    world = world_of(state) if args.world is None else _other_world(args.world, state)
    result, samples = evaluate_with_samples(model, config, state, world=world, episodes=args.episodes,
                                            seed=args.seed, stability_frames=args.stability_frames,
                                            quiet=args.quiet, stability_rollouts=args.stability_rollouts,
                                            object_persistence=args.object_persistence,
                                            temperature=args.temperature)
    result["checkpoint"] = str(args.checkpoint)
    summary = {k: result[k] for k in ("tf_psnr", "tf_ssim", "ar_psnr", "action_faithfulness", "flicker")}
    summary["sharpness"] = result["sharpness"]["bands"]
    print(json.dumps(summary))
    return result, samples


def _write_outputs(args, result: dict, samples: dict) -> None:
    from vidgen_rt.atomic import write_json_atomic
    from vidgen_rt.metrics.report import plot_curves, write_report

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(args.json, result)
        print(f"metrics written to {args.json}")
    if args.plot:
        plot_curves(result, args.plot)
        print(f"plot written to {args.plot}")
    for fmt, path in (("html", args.html), ("md", args.md)):
        if path:
            written = write_report(result, samples, path, fmt)
            print(f"report written to {path} (images {written['curves'].name}, {written['samples'].name})")


def _other_world(spec: str, state: dict) -> str:
    """`spec` when it names a built-in world whose actions are the ones the model was trained on."""
    from vidgen_rt.errors import ConfigError
    from vidgen_rt.worlds import make_world

    if spec.startswith("gym:"):
        raise ConfigError("--world takes a built-in world spec (maze, maze:level=N,cells=C, maze360); "
                          "a gym:ENV_ID model is evaluated on its own environment")
    actions = list(make_world(spec).action_names)
    if state.get("action_names") and list(state["action_names"]) != actions:
        raise ConfigError(f"--world {spec}: its actions {actions} are not the model's {state['action_names']}")
    return spec


def plot_psnr(result: dict, path: Path) -> None:
    """The --plot figure; scripts/ship_world.py draws the shipped world's curves with it."""
    from vidgen_rt.metrics.report import plot_curves

    plot_curves(result, path)
