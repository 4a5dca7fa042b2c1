"""Head and drift-control ablation at one training budget (docs/model.md, "Sampling heads").

Trains one tokenizer on a maze store, then the dynamics of each variant from that same tokenizer
for the same wall-clock budget, and measures on the store's held-out episodes:
- tf_psnr / tf_psnr_t0: teacher-forced next-frame PSNR (dB) of a sample at temperature 1 / the
  head's deterministic output (temperature 0; for mse both are its one prediction);
- rollout_psnr and sharpness (vidgen_rt.metrics.sharpness) of free-running rollouts at horizons
  1-16 and 17-64, at temperature 1 and 0.

    python bench/head_ablation.py --store data/maze-l1 --minutes 12 --out bench/results
    (record the store: vidgen record maze --level 1 --cells 6 --episodes 36 --frames 200 --size 64 \\
                       --held-out 4 -o data/maze-l1)

Writes bench/results/head-ablation-<date>.json and .png.
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

import numpy as np
import torch

from vidgen_rt.config import apply_overrides, preset
from vidgen_rt.data.store import EpisodeStore
from vidgen_rt.errors import CheckpointError
from vidgen_rt.metrics.image import psnr
from vidgen_rt.metrics.sharpness import sharpness_by_band
from vidgen_rt.train.batches import EpisodeSplit, episode_actions
from vidgen_rt.train.checkpoint import load_checkpoint
from vidgen_rt.train.trainer import Trainer

from rollout_sharpness import free_running  # bench/ is the script's own folder on sys.path

# The reduced `small` preset the ablation trains (64x64 maze, 2x2-cell tokens, a narrower transformer).
BASE = ["model.d_model=128", "model.n_layers=4", "model.n_heads=4", "model.window=8", "train.sequence_frames=9",
        "train.batch_size=8", "train.tokenizer_steps=100000", "train.dynamics_steps=100000",
        "train.eval_every=100000", "train.checkpoint_every=100000"]
VARIANTS = {
    "mse": ["model.head=mse"],
    "flow_mlp": ["model.head=flow_mlp"],
    "flow_conv": ["model.head=flow_conv"],
    "flow_conv+noise_level": ["model.head=flow_conv", "model.context_noise_embedding=true", "train.context_noise=0.3"],
}
BANDS = ((1, 16), (17, 64))
HORIZON = 64


def train_variant(store: Path, out: Path, overrides: list[str], minutes: float, tokenizer_run: Path | None) -> Path:
    """Train the tokenizer (tokenizer_run None) or a variant's dynamics on that tokenizer."""
    config = apply_overrides(preset("small"), BASE + overrides + [f"train.max_minutes={minutes}"])
    stages = ("tokenizer",) if tokenizer_run is None else ("dynamics",)
    trainer = Trainer(config, store, out, stages=stages, quiet=True)
    if tokenizer_run is not None:
        tokenizer, _, _ = load_checkpoint(tokenizer_run)
        trainer.model.tokenizer.load_state_dict(tokenizer.tokenizer.state_dict())
        trainer.state["completed"] = ["tokenizer"]
    trainer.run()
    return out


@torch.no_grad()
def measure(run: Path, store: EpisodeStore, episodes: list[int]) -> dict:
    model, config, state = load_checkpoint(run)
    model.eval()
    window = config.model.window
    result = {"config": config.model.head, "train_steps": state.get("step"), "train_seconds": state.get("train_seconds")}
    generator = torch.Generator().manual_seed(0)
    tf = {1.0: [], 0.0: []}
    for index in episodes:
        frames = np.asarray(store.episode(index).frames[:window + HORIZON])
        actions = torch.from_numpy(np.array(episode_actions(store, index, config.model.n_actions)[:len(frames)]))
        latents = model.encode_frames(frames)[None]  # (1, T, C, h, w)
        for temperature in tf:
            noise = temperature * torch.randn(latents[:, :-1].shape, generator=generator)
            predicted = model.dynamics.predict(latents[:, :-1], actions[None, :-1], noise=noise)[0]
            tf[temperature].append(psnr(model.decode_latents(predicted), frames[1:]))
    result["tf_psnr"], result["tf_psnr_t0"] = float(np.mean(tf[1.0])), float(np.mean(tf[0.0]))
    for temperature, label in ((1.0, ""), (0.0, "_t0")):
        generated, real = free_running((model, config, state), store, episodes, HORIZON, temperature, seed=1)
        for low, high in BANDS:
            band = (slice(None), slice(low - 1, high))
            pairs = generated[band].reshape(-1, *real.shape[2:]), real[band].reshape(-1, *real.shape[2:])
            result[f"rollout_psnr{label}_{low}-{high}"] = float(np.mean(psnr(*pairs)))
        for band, value in sharpness_by_band(generated, real, BANDS).items():
            result[f"sharpness{label}_{band}"] = value
    return result


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for axis, metric, title in ((axes[0], "rollout_psnr", "rollout PSNR (dB)"), (axes[1], "sharpness", "sharpness")):
        for offset, (low, high) in enumerate(BANDS):
            for shift, label in enumerate(("", "_t0")):
                key = next(k for k in results[names[0]] if k.startswith(f"{metric}{label}_") and k.endswith(f"{low}-{high}"))
                values = [results[n].get(key, np.nan) for n in names]
                axis.bar(np.arange(len(names)) + 0.2 * (2 * offset + shift) - 0.3, values, 0.2,
                         label=f"h {low}-{high}" + (" T=0" if label else " T=1"))
        axis.set_xticks(range(len(names)), names, rotation=15)
        axis.set_title(title)
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--runs", type=Path, default=Path("runs/head-ablation"))
    parser.add_argument("--minutes", type=float, default=12.0, help="dynamics training budget per variant")
    parser.add_argument("--tokenizer-minutes", type=float, default=6.0)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    store = EpisodeStore.open(args.store)
    held_out = EpisodeSplit(store, 9).validation
    tokenizer_run = args.runs / "tokenizer"
    try:
        load_checkpoint(tokenizer_run)
    except CheckpointError:
        train_variant(args.store, tokenizer_run, [], args.tokenizer_minutes, None)
    results = {}
    for name in args.variants.split(","):
        run = train_variant(args.store, args.runs / name.replace("+", "_"), VARIANTS[name], args.minutes, tokenizer_run)
        results[name] = measure(run, store, held_out)
        print(name, json.dumps(results[name]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"head-ablation-{datetime.date.today().isoformat()}"
    record = {"store": str(args.store), "held_out_episodes": held_out, "dynamics_minutes": args.minutes,
              "tokenizer_minutes": args.tokenizer_minutes, "preset": "small", "overrides": BASE,
              "variants": {n: VARIANTS[n] for n in results}, "results": results}
    stem.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    plot(results, stem.with_suffix(".png"))
    print(f"wrote {stem}.json and .png")


if __name__ == "__main__":
    main()
