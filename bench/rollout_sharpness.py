"""How sharp a world stays as it runs free, on its store's held-out episodes (docs/model.md).

For each of the first `--episodes` held-out episodes: the teacher-forced next frames (true context,
one sample per frame) and one free-running rollout of `--horizon` frames from the episode's first
`window` frames with its recorded actions (TorchStepper, the runtime's sampler and noise). Prints
and writes sharpness and PSNR against the real frames per horizon band, and a strip of two rollouts
(real row above each generated one) at horizons 1, 16, 64, 128, 200 and 300, and how often the
rollout stands still while the real game moves under the same actions (`static_while_real_moves`). `--temperature`,
`--sampling-steps` and `--context-noise-level` override the stream's temperature, its K and the
level the step tells the model, so their effect can be read beside the default.

    python bench/rollout_sharpness.py maze --data data/maze-level \\
        --json bench/results/rollout-sharpness-<name>-<date>.json --strip docs/media/<name>.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vidgen_rt.data.store import EpisodeStore
from vidgen_rt.metrics.image import psnr
from vidgen_rt.metrics.sharpness import sharpness, sharpness_by_band
from vidgen_rt.runtime.factory import open_stepper
from vidgen_rt.train.batches import EpisodeSplit, episode_actions
from vidgen_rt.train.checkpoint import load_checkpoint

BANDS = ((1, 1), (1, 16), (17, 64), (65, 300))
STRIP_HORIZONS = (1, 16, 64, 128, 200, 300)
# Mean absolute frame change (0-255) below which a frame counts as unchanged, and above which the
# real game's counts as moving: a turn or a step in the maze changes 5-25 on average.
STATIC_CHANGE, MOVING_CHANGE = 1.5, 3.0


def teacher_forced(model, store, episodes, n_actions: int, seed: int) -> dict:
    """Next frames sampled from true context over each episode's first window + 32 frames."""
    generator = torch.Generator().manual_seed(seed)
    generated, real = [], []
    for i in episodes:
        frames = np.asarray(store.episode(i).frames[:model.config.window + 33])
        actions = torch.from_numpy(np.array(episode_actions(store, i, n_actions)[:len(frames)]))
        latents = model.encode_frames(frames)[None]
        noise = torch.randn(latents[:, :-1].shape, generator=generator)
        predicted = model.dynamics.predict(latents[:, :-1], actions[None, :-1], noise=noise)
        generated.append(model.decode_latents(predicted[0]))
        real.append(frames[1:])
    generated, real = np.concatenate(generated), np.concatenate(real)
    return {"tf_sharpness": sharpness(generated, real), "tf_psnr": float(np.mean(psnr(generated, real)))}


def free_running(loaded, store, episodes, horizon: int, temperature: float, seed: int,
                 sampling_steps: int | None = None):
    """(generated, real) rollouts, (R, horizon, H, W, 3) uint8 each; sampling_steps None is the
    world's own K."""
    model, config, _ = loaded
    window = config.model.window
    stepper = open_stepper(loaded, "torch", temperature=temperature, seed=seed, sampling_steps=sampling_steps)
    generated, real = [], []
    for i in episodes:
        frames = np.asarray(store.episode(i).frames[:window + horizon])
        actions = episode_actions(store, i, config.model.n_actions)
        future = actions[window - 1:window - 1 + horizon]
        generated.append(stepper.rollout(frames[:window], actions[:window - 1], future))
        real.append(frames[window:window + horizon])
    return np.stack(generated), np.stack(real)


def band_figures(generated: np.ndarray, real: np.ndarray) -> dict:
    bands = [(lo, hi) for lo, hi in BANDS if lo <= generated.shape[1]]
    figures = {f"sharpness_{band}": value for band, value in sharpness_by_band(generated, real, bands).items()}
    for lo, hi in bands:
        pair = [x[:, lo - 1:hi].reshape(-1, *x.shape[2:]) for x in (generated, real)]
        figures[f"psnr_{lo}-{min(hi, generated.shape[1])}"] = float(np.mean(psnr(*pair)))
    return figures


def static_while_real_moves(generated: np.ndarray, real: np.ndarray) -> float:
    """Fraction of steps at which the generated frame stays put (mean |Δ| < STATIC_CHANGE of 255)
    while the real game's changes (> MOVING_CHANGE): a rollout stuck on one view whatever the actions."""
    change = [np.abs(np.diff(x.astype(np.int16), axis=1)).mean(axis=(2, 3, 4)) for x in (generated, real)]
    return float(np.mean((change[0] < STATIC_CHANGE) & (change[1] > MOVING_CHANGE)))


def save_strip(generated: np.ndarray, real: np.ndarray, path: Path, rollouts: int = 2, scale: int = 2) -> None:
    horizons = [h for h in STRIP_HORIZONS if h <= generated.shape[1]]
    rows = []
    for r in range(min(rollouts, len(generated))):
        rows += [np.concatenate([real[r, h - 1] for h in horizons], axis=1),
                 np.concatenate([generated[r, h - 1] for h in horizons], axis=1)]
    strip = np.concatenate(rows, axis=0)
    Image.fromarray(strip).resize((strip.shape[1] * scale, strip.shape[0] * scale), Image.NEAREST).save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("world", help="a run directory, checkpoint or shipped world name")
    parser.add_argument("--data", required=True, help="the episode store the world was trained on")
    parser.add_argument("--episodes", type=int, default=8, help="held-out episodes to roll out (default 8)")
    parser.add_argument("--horizon", type=int, default=300, help="free-running frames per rollout (default 300)")
    parser.add_argument("--temperature", type=float, default=1.0, help="the stream's noise scale (default 1)")
    parser.add_argument("--context-noise-level", type=float, default=None,
                        help="the level the step tells the model (default: the world's own)")
    parser.add_argument("--sampling-steps", type=int, default=None,
                        help="a flow head's Euler steps per frame (default: the world's own)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--strip", type=Path, help="write a PNG strip of two rollouts here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    loaded = load_checkpoint(args.world)
    model, config, _ = loaded
    if args.context_noise_level is not None:
        model.config.context_noise_level = args.context_noise_level
    store = EpisodeStore.open(args.data)
    episodes = EpisodeSplit(store, config.model.window + args.horizon).validation[:args.episodes]
    with torch.no_grad():
        figures = teacher_forced(model, store, episodes, config.model.n_actions, args.seed)
        generated, real = free_running(loaded, store, episodes, args.horizon, args.temperature, args.seed,
                                       args.sampling_steps)
    figures.update(band_figures(generated, real), static_while_real_moves=static_while_real_moves(generated, real))
    result = {"world": args.world, "episodes": [int(i) for i in episodes], "horizon": args.horizon,
              "temperature": args.temperature, "sampling_steps": args.sampling_steps or config.model.sampling_steps,
              "context_noise_level": model.config.context_noise_level,
              **{k: round(v, 4) for k, v in figures.items()}}
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    if args.strip:
        save_strip(generated, real, args.strip)


if __name__ == "__main__":
    main()
