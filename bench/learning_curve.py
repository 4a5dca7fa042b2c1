"""How much training a run's recipe would need to reach a teacher-forced PSNR: a power-law fit of the
run's validation latent MSE against dynamics steps, calibrated to pixels by its evaluation.

    .venv/bin/python bench/learning_curve.py runs/maze-level-d vidgen_rt/worlds/shipped/maze/eval.json \\
        --offset-steps 500 --target-psnr 33

The dynamics' pixel error adds to the tokenizer's: pixel MSE ≈ tokenizer MSE + k · latent MSE, with k
from the evaluated checkpoint (its `tf_psnr` and `tokenizer_psnr` against its last validation latent
MSE). The fit is one run under one learning-rate schedule, so it extrapolates that recipe only, and
its late points carry the schedule's final decay: read the answer as an order of magnitude.
Writes bench/results/learning-curve-NAME-DATE.{json,png}.
"""

import argparse
import datetime
import json
import math
from pathlib import Path

import numpy as np

from vidgen_rt.atomic import write_json_atomic

RESULTS = Path(__file__).resolve().parent / "results"
BUDGETS_MINUTES = (60, 120, 240, 480, 960)


def _psnr_to_mse(psnr: float) -> float:
    return 255.0 ** 2 * 10 ** (-psnr / 10)


def _mse_to_psnr(mse: float) -> float:
    return 10 * math.log10(255.0 ** 2 / mse)


def read_run(run: Path, offset_steps: int) -> dict:
    """Validation points (total steps, latent MSE) and the run's dynamics steps per second."""
    entries = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    dynamics = [e for e in entries if e["stage"] == "dynamics"]
    points = [(e["step"] + 1 + offset_steps, e["val_latent_mse"]) for e in dynamics if "val_latent_mse" in e]
    final = run / json.loads((run / "latest.json").read_text())["checkpoint"] / "state.json"
    state = json.loads(final.read_text())  # the last validation lives in the final checkpoint only
    if "val_latent_mse" in state["metrics"]:
        points.append((state["step"] + offset_steps, state["metrics"]["val_latent_mse"]))
    if len(points) < 3:
        raise SystemExit(f"{run}/log.jsonl: need at least 3 dynamics validation points, found {len(points)}")
    train = json.loads((run / "config.json").read_text())["train"]
    frames_per_step = train["batch_size"] * (train["sequence_frames"] - 1)
    speeds = [e["frames_per_s"] for e in dynamics if "frames_per_s" in e]
    return {"points": points, "steps_per_s": float(np.median(speeds)) / frames_per_step}


def fit(points: list[tuple], fit_from: int) -> tuple[float, float]:
    """log(latent MSE) = intercept + slope · log(steps), over points from `fit_from` steps on."""
    steps = np.array([s for s, _ in points if s >= fit_from], dtype=np.float64)
    mses = np.array([m for s, m in points if s >= fit_from], dtype=np.float64)
    if len(steps) < 3:
        raise SystemExit(f"only {len(steps)} validation points from step {fit_from} on; lower --fit-from")
    slope, intercept = np.polyfit(np.log(steps), np.log(mses), 1)
    if slope >= 0:
        raise SystemExit(f"the validation latent MSE does not fall from step {fit_from} on (slope {slope:.3f}): "
                         f"nothing to extrapolate")
    return float(slope), float(intercept)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="run directory with log.jsonl and config.json")
    parser.add_argument("eval", type=Path, help="eval JSON of the run's final checkpoint (vidgen eval --json)")
    parser.add_argument("--offset-steps", type=int, default=0,
                        help="dynamics steps done before this run (a run started with --init-from)")
    parser.add_argument("--fit-from", type=int, default=1500, help="first step (total) used in the fit")
    parser.add_argument("--target-psnr", type=float, default=33.0, help="teacher-forced PSNR to reach")
    parser.add_argument("--name", default="maze", help="name in the output files")
    args = parser.parse_args()

    run = read_run(args.run, args.offset_steps)
    evaluation = json.loads(args.eval.read_text())
    slope, intercept = fit(run["points"], args.fit_from)
    final_steps, final_latent = run["points"][-1]
    tokenizer_mse = _psnr_to_mse(evaluation["tokenizer_psnr"])
    per_latent = (_psnr_to_mse(evaluation["tf_psnr"]) - tokenizer_mse) / final_latent  # k: pixel MSE per latent MSE

    def predicted_psnr(steps: float) -> float:
        return _mse_to_psnr(tokenizer_mse + per_latent * math.exp(intercept + slope * math.log(steps)))

    steps_per_minute = run["steps_per_s"] * 60
    needed_latent = (_psnr_to_mse(args.target_psnr) - tokenizer_mse) / per_latent
    result = {
        "run": str(args.run), "eval": str(args.eval), "fit_from_step": args.fit_from,
        "points": [{"steps": s, "val_latent_mse": m} for s, m in run["points"]],
        "power_law_slope": round(slope, 4), "steps_per_minute": round(steps_per_minute, 1),
        "tokenizer_psnr": evaluation["tokenizer_psnr"], "tf_psnr": evaluation["tf_psnr"],
        "pixel_mse_per_latent_mse": round(per_latent, 1),
        "predicted_tf_psnr_at_minutes": {str(m): round(predicted_psnr(m * steps_per_minute), 2)
                                         for m in BUDGETS_MINUTES},
        "target_psnr": args.target_psnr,
    }
    if needed_latent > 0:
        needed_steps = math.exp((math.log(needed_latent) - intercept) / slope)
        result.update(target_latent_mse=round(needed_latent, 6), target_steps=round(needed_steps),
                      target_minutes=round(needed_steps / steps_per_minute))
    else:
        result["target_unreachable"] = "the target is above the tokenizer's own PSNR"
    stem = f"learning-curve-{args.name}-{datetime.date.today().isoformat()}"
    write_json_atomic(RESULTS / f"{stem}.json", result)
    _plot(result, slope, intercept, RESULTS / f"{stem}.png")
    print(json.dumps({k: v for k, v in result.items() if k != "points"}, indent=2))
    return 0


def _plot(result: dict, slope: float, intercept: float, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.array([p["steps"] for p in result["points"]], dtype=np.float64)
    mses = np.array([p["val_latent_mse"] for p in result["points"]])
    reach = max(result.get("target_steps", steps[-1] * 10), steps[-1] * 2)
    line = np.geomspace(steps[0], reach, 100)
    figure, axis = plt.subplots(figsize=(7, 4.5))
    axis.loglog(steps, mses, "o", label="validation latent MSE")
    axis.loglog(line, np.exp(intercept + slope * np.log(line)), "--", label=f"fit: steps^{slope:.2f}")
    if "target_latent_mse" in result:
        axis.axhline(result["target_latent_mse"], color="red", lw=0.8,
                     label=f"tf_psnr {result['target_psnr']:g} dB (≈ {result['target_minutes']} min)")
    axis.axvline(60 * result["steps_per_minute"], color="gray", lw=0.8, label="60 minutes of dynamics")
    axis.set_xlabel("dynamics steps")
    axis.set_ylabel("latent MSE")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    raise SystemExit(main())
