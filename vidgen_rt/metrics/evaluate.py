"""Evaluation of a trained world on held-out seeds of its built-in world or Gymnasium environment.

Episodes are recorded fresh from seeds the training data never used (default 1,000,000 onwards;
for a game, episodes that end before the evaluation's length are skipped),
then the model is measured on:
- `tf_psnr`, `tf_ssim`: teacher-forced next frame (true latents in, predicted next frame out),
  and `tf_psnr_by_action`, the same PSNR split by the action that led to the frame;
- `ar_psnr`, `ar_ssim`: free-running rollouts from `window` real context frames with the true
  actions, PSNR and SSIM against the true frames at each horizon (also the full per-step curves,
  `ar_psnr_curve`, `ar_ssim_curve`), beside the trivial baseline that repeats the last real frame
  (`repeat_last_frame_psnr`);
- `flicker`: warp error of the rollouts under the real frames' optical flow, against that of the
  real frames (`generated`, `real`, `excess`; flicker.py defines it);
- `action_faithfulness`: fraction of teacher-forced steps whose generated frame shows the same
  dominant optical-flow motion (left/right/expand/contract/still) as the true next frame;
- `stability`: long rollouts under a random player (one by default): NaN count, and the drift of
  frame statistics (mean, std, frame-to-frame change) against real frames, which exposes collapse
  and freezing; `within_real_range` (every late frame as bright as some real frame: of the held-out
  clips or of the real games played with the rollouts' actions) and `frozen` are the verdicts,
  with each rollout's own in `per_rollout`;
- `sharpness`, `realism` and `object_persistence` (the blur, realism and collapse figures,
  quality.py) of the rollouts of both kinds;
- `temperature_0`: for a sampling head, `tf_psnr` and `ar_psnr` of its deterministic output (the
  other figures are of samples at `temperature`, 1 unless asked otherwise, seed 0, a long rollout its
  own seed); for the mse head, the same numbers as above, since its output is deterministic anyway.

A guide-conditioned world is driven by the real episodes' guide maps throughout, each step getting
the maps of the frame it produces (world_model.py). Every rollout runs on a `TorchStepper` of the
loaded model (open_stepper's "torch" backend), one player per episode.

Sample frames for the report: the short rollouts at horizons 1, 4, 16, 64 and the long ones at
256, 1,000 and 10,000 when they reach them.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from vidgen_rt.data.record import GUIDE_NAMES, play_episode, require_context
from vidgen_rt.errors import ConfigError
from vidgen_rt.worlds import HELD_OUT_SEED
from vidgen_rt.generate import check_world_conditions
from vidgen_rt.metrics.flicker import flicker
from vidgen_rt.metrics.image import psnr, ssim
from vidgen_rt.metrics.motion import dominant_motion
from vidgen_rt.metrics.quality import long_kept_horizons, long_strips, quality_figures
from vidgen_rt.model.flops import frame_flops
from vidgen_rt.model.world_model import guide_to_tensor
from vidgen_rt.runtime.factory import open_stepper

HORIZONS = (1, 4, 16, 64)


def evaluate(model, config, state: dict, world: str = "maze", episodes: int = 8, seed: int = HELD_OUT_SEED,
             stability_frames: int = 1000, faithfulness_samples: int = 400, quiet: bool = False,
             stability_rollouts: int = 1, object_persistence: bool = False, temperature: float = 1.0) -> dict:
    """The metrics as a JSON-ready dict."""
    return evaluate_with_samples(model, config, state, world, episodes, seed, stability_frames,
                                 faithfulness_samples, quiet, stability_rollouts, object_persistence, temperature)[0]


def evaluate_with_samples(model, config, state: dict, world: str = "maze", episodes: int = 8,
                          seed: int = HELD_OUT_SEED, stability_frames: int = 1000,
                          faithfulness_samples: int = 400, quiet: bool = False,
                          stability_rollouts: int = 1, object_persistence: bool = False,
                          temperature: float = 1.0) -> tuple[dict, dict]:
    """The metrics, and sample frames for a report: {"horizons": [1, 4, 16, 64], "real" and
    "generated": uint8 (E, len(horizons), H, W, 3), the rollouts' frames at those horizons, and
    "long": the same for the long rollouts at 256, 1,000, 10,000 (None when shorter than 256)}.
    `object_persistence` turns that metric on for a built-in world; a Gymnasium game always has it.
    A sampling head draws every sampled figure at `temperature` (the stream option; 0 = its
    deterministic output, which `temperature_0` reports in any case)."""
    m = config.model
    check_world_conditions(config, state)
    context, horizon = m.window, max(HORIZONS)
    length = context + horizon
    guided = m.guide_channels > 0
    recorded, next_seed = held_out_episodes(world, episodes, seed, length, m, guided, quiet)
    frames = np.stack([r["frames"] for r in recorded])  # (E, T, H, W, 3)
    actions = torch.from_numpy(np.stack([r["actions"] for r in recorded]))  # (E, T)
    latents = torch.stack([model.encode_frames(f) for f in frames])  # (E, T, C, h, w)
    guides = torch.stack([guide_to_tensor(r["guide"], GUIDE_NAMES) for r in recorded]) if guided else None
    recon = np.stack([model.decode_latents(z) for z in latents])  # (E, T, H, W, 3)

    result = {"world": world, "held_out_seeds": [seed, next_seed - 1], "episodes": episodes,
              "temperature": temperature}
    result.update(_teacher_forced(model, frames, recon, latents, actions, guides, faithfulness_samples,
                                  recorded[0]["action_names"], temperature))
    free_running, images = _free_running(model, frames, latents, actions, guides, context, temperature)
    result.update(free_running)
    result["temperature_0"] = _temperature_0(model, result, frames, latents, actions, guides, context)
    result["stability"], runs = _stability(model, world, next_seed, stability_frames, stability_rollouts,
                                           frames, quiet, temperature)
    result.update(quality_figures(world, frames, recon, images, context, runs,
                                  persistence=object_persistence or world.startswith("gym:")))
    horizons = [int(h) for h in result["ar_psnr"]]
    picks = [h - 1 for h in horizons]
    samples = {"horizons": horizons, "real": frames[:, context:][:, picks], "generated": images[:, picks],
               "long": long_strips(runs)}
    flops = frame_flops(model)
    counts = model.parameter_count()
    result.update(train_minutes=round(state.get("train_seconds", 0.0) / 60, 2),
                  params=counts["tokenizer"] + counts["dynamics"], params_detail=counts,
                  gflops_per_frame=round(flops["total"] / 1e9, 4),
                  gflops_detail={k: round(v / 1e9, 4) for k, v in flops.items()})
    return result, samples


def held_out_episodes(world: str, episodes: int, seed: int, length: int, m, guided: bool, quiet: bool):
    """`episodes` episodes of `length` frames from seeds `seed` onwards, and the next unused seed. A
    game (gym:ENV_ID) can end sooner; such an episode is skipped, up to 4 tries per episode wanted."""
    recorded, next_seed = [], seed
    with tqdm(total=episodes, desc="held-out episodes", disable=quiet) as bar:
        while len(recorded) < episodes:
            if next_seed - seed >= 4 * episodes:
                raise ConfigError(f"{world}: only {len(recorded)} of {next_seed - seed} held-out episodes from seed "
                                  f"{seed} lasted the {length} frames asked for")
            played = play_episode(world, "explore", next_seed, length, m.frame_height, m.frame_width, guides=guided)
            next_seed += 1
            if len(played["frames"]) == length:
                recorded.append(played)
                bar.update(1)
    return recorded, next_seed


def _at(guides: torch.Tensor | None, t) -> torch.Tensor | None:
    """The guide maps (E, ..., G, H, W) of frame (or frames) t, or None for an unguided world."""
    return None if guides is None else guides[:, t]


def has_sampling_head(model) -> bool:
    """Whether the model samples its next latents (a flow head) rather than predicting their mean."""
    return model.config.head != "mse"


def _stepper(model, batch: int, seed: int = 0, temperature: float = 1.0):
    """A TorchStepper of `batch` players; a flow head draws from `seed` at `temperature`, the mse
    head has nothing to draw and ignores both."""
    return open_stepper(model, "torch", batch=batch, seed=seed, temperature=temperature)


def _temperature_0(model, result: dict, frames, latents, actions, guides, context: int) -> dict:
    """`tf_psnr` and `ar_psnr` of the head's deterministic output."""
    if not has_sampling_head(model):
        return {"tf_psnr": result["tf_psnr"], "ar_psnr": result["ar_psnr"]}
    teacher = psnr(_predict_next(model, latents, actions, guides, temperature=0.0), _flat(frames[:, 1:]))
    free = _free_running(model, frames, latents, actions, guides, context, temperature=0.0)[0]
    return {"tf_psnr": round(float(np.mean(teacher)), 3), "ar_psnr": free["ar_psnr"]}


@torch.no_grad()
def _predict_next(model, latents, actions, guides, temperature: float = 1.0) -> np.ndarray:
    """Frames 1..T-1 of every episode, each predicted from the true latents before it: (E*(T-1), H, W, 3)."""
    E, T = actions.shape
    stepper = _stepper(model, E, temperature=temperature)
    stepper.start(latents[:, :1], actions[:, :0])  # an empty ring: every step below gets true latents
    predicted = torch.stack([stepper.advance(latents[:, t], actions[:, t], guide=_at(guides, t + 1))
                             for t in range(T - 1)], dim=1)  # (E, T-1, C, h, w)
    return _flat(np.stack([model.decode_latents(p) for p in predicted]))


def _teacher_forced(model, frames, recon, latents, actions, guides, samples: int, action_names: list[str],
                    temperature: float = 1.0) -> dict:
    generated = _predict_next(model, latents, actions, guides, temperature)  # (E*(T-1), H, W, 3)
    true_next, prev, prev_recon = _flat(frames[:, 1:]), _flat(frames[:, :-1]), _flat(recon[:, :-1])
    rng = np.random.default_rng(0)
    picks = rng.choice(len(generated), size=min(samples, len(generated)), replace=False)
    agree = [dominant_motion(prev[i], true_next[i]).label == dominant_motion(prev_recon[i], generated[i]).label
             for i in picks]
    scores = psnr(generated, true_next)  # (E*(T-1),), one per predicted frame
    taken = actions[:, :-1].reshape(-1).numpy()  # the action that led to each of those frames
    by_action = {name: {"psnr": round(float(scores[taken == i].mean()), 3), "steps": int((taken == i).sum())}
                 for i, name in enumerate(action_names) if (taken == i).any()}
    return {
        "tf_psnr": round(float(np.mean(scores)), 3),
        "tf_psnr_by_action": by_action,
        "tf_ssim": round(float(np.mean(ssim(generated, true_next))), 4),
        "tokenizer_psnr": round(float(np.mean(psnr(_flat(recon), _flat(frames)))), 3),
        "action_faithfulness": round(float(np.mean(agree)), 4),
        "action_faithfulness_samples": len(picks),
    }


def _flat(x: np.ndarray) -> np.ndarray:
    return x.reshape(-1, *x.shape[2:])  # (E, T, ...) -> (E*T, ...)


@torch.no_grad()
def _free_running(model, frames, latents, actions, guides, context: int,
                  temperature: float = 1.0) -> tuple[dict, np.ndarray]:
    """The free-running figures, and the generated frames (E, horizon, H, W, 3)."""
    stepper = _stepper(model, len(latents), temperature=temperature)
    current = stepper.start(latents[:, :context], actions[:, :context - 1], guide=_at(guides, slice(1, context)))
    generated = []
    for t in range(context - 1, actions.shape[1] - 1):
        current = stepper.advance(current, actions[:, t], guide=_at(guides, t + 1))
        generated.append(current)
    generated = torch.stack(generated, dim=1)  # (E, horizon, C, h, w)
    images = np.stack([model.decode_latents(g) for g in generated])  # (E, horizon, H, W, 3)
    truth = frames[:, context:]
    steps = range(images.shape[1])
    curve = [float(np.mean(psnr(images[:, h], truth[:, h]))) for h in steps]
    ssim_curve = [float(np.mean(ssim(images[:, h], truth[:, h]))) for h in steps]
    # The trivial world model, "nothing moves": the last context frame repeated. A model worth
    # shipping beats it at every horizon.
    still = frames[:, context - 1]
    still_curve = [float(np.mean(psnr(still, truth[:, h]))) for h in steps]
    horizons = [h for h in HORIZONS if h <= len(curve)]
    metrics = {
        "ar_psnr": {str(h): round(curve[h - 1], 3) for h in horizons},
        "ar_ssim": {str(h): round(ssim_curve[h - 1], 4) for h in horizons},
        "ar_psnr_curve": [round(v, 3) for v in curve],
        "ar_ssim_curve": [round(v, 4) for v in ssim_curve],
        "repeat_last_frame_psnr": {str(h): round(still_curve[h - 1], 3) for h in horizons},
        "repeat_last_frame_curve": [round(v, 3) for v in still_curve],
        # From the last real context frame on, so the first generated frame's jump counts too.
        "flicker": {k: round(v, 3) for k, v in flicker(np.concatenate([frames[:, context - 1:context], images], 1),
                                                       frames[:, context - 1:]).items()},
    }
    return metrics, images


@torch.no_grad()
def _stability_rollout(model, world_name: str, seed: int, count: int, quiet: bool, temperature: float = 1.0) -> dict:
    """One `count`-frame rollout under a random player from `seed`: its late frames (the last 10 %,
    at least 100) and NaN count, the brightness of every frame of the real game played with the
    same actions (as long as it lasted: a game can end first), and the frames of both at the kept
    horizons (quality.py's long_kept_horizons) for the blur, realism and collapse figures."""
    m = model.config
    guided = m.guide_channels > 0
    played = play_episode(world_name, "random", seed, m.window + count, m.frame_height, m.frame_width, guides=guided)
    require_context(played, m.window, world_name, seed)
    actions = torch.from_numpy(played["actions"])
    guides = guide_to_tensor(played["guide"], GUIDE_NAMES)[None] if guided else None  # (1, T, G, H, W)
    latents = model.encode_frames(played["frames"][:m.window]).unsqueeze(0)
    stepper = _stepper(model, 1, seed=seed, temperature=temperature)
    current = stepper.start(latents, actions[None, :m.window - 1], guide=_at(guides, slice(1, m.window)))
    nan_count, tail, kept = 0, [], []
    tail_from = count - max(100, count // 10)
    horizons = long_kept_horizons(count)
    keep = set(horizons.tolist())
    for t in tqdm(range(count), desc=f"stability rollout (seed {seed})", disable=quiet):
        current = stepper.advance(current, actions[m.window - 1 + t:m.window + t], guide=_at(guides, m.window + t))
        nan_count += int(torch.isnan(current).sum())
        current = torch.nan_to_num(current)
        if t >= tail_from:
            tail.append(current[0])
        if t + 1 in keep:
            kept.append(current[0])
    real = played["frames"][m.window - 1 + horizons[m.window - 1 + horizons < len(played["frames"])]]
    return {"seed": seed, "nan_count": nan_count,
            "tail": model.decode_latents(torch.stack(tail)),  # (n, H, W, 3) uint8
            "real_means": played["frames"].mean(axis=(1, 2, 3), dtype=np.float64),
            "horizons": horizons, "generated": model.decode_latents(torch.stack(kept)), "real": real}


def _stability(model, world_name: str, seed: int, count: int, rollouts: int, real_frames: np.ndarray,
               quiet: bool, temperature: float = 1.0) -> tuple[dict, list[dict]]:
    """`rollouts` long rollouts (seeds `seed`, `seed` + 1, ...) judged together, and the rollouts."""
    runs = [_stability_rollout(model, world_name, seed + k, count, quiet, temperature) for k in range(rollouts)]
    return _stability_verdict(runs, count, real_frames), runs


def _stability_verdict(runs: list[dict], count: int, real_frames: np.ndarray) -> dict:
    """One chaotic trajectory is a noisy verdict (which wall it ends up facing decides it), so the
    count of rollouts that pass is reported beside the verdict that all of them pass."""
    real = real_frames.reshape(-1, *real_frames.shape[2:]).astype(np.float64)  # (episodes*T, H, W, 3)
    real_change = float(np.abs(np.diff(real_frames.astype(np.float64), axis=1)).mean())
    # Brightness of every real frame seen: the held-out clips and the real games played with the
    # rollouts' own actions. The clips alone are a small sample of another policy, whose extremes
    # a 10,000-frame random walk exceeds by chance, not by collapse.
    real_means = np.concatenate([real.mean(axis=(1, 2, 3))] + [run["real_means"] for run in runs])
    real_low, real_high = float(real_means.min()), float(real_means.max())
    per_rollout, changes = [], []
    for run in runs:
        tail = run["tail"].astype(np.float64)
        means = tail.mean(axis=(1, 2, 3))
        change = float(np.abs(np.diff(tail, axis=0)).mean())
        changes.append(change)
        per_rollout.append({
            "seed": run["seed"], "nan_count": run["nan_count"], "frame_change": round(change, 3),
            "late_frame_mean_range": [round(float(means.min()), 3), round(float(means.max()), 3)],
            "within_real_range": real_low <= float(means.min()) and float(means.max()) <= real_high,
            # frozen: the picture changes less than 5 % as much as real play does
            "frozen": bool(change < 0.05 * real_change),
        })
    tails = np.concatenate([run["tail"] for run in runs])  # uint8; the statistics below accumulate in float64
    return {
        "frames": count,
        "rollouts": len(runs),
        "nan_count": sum(r["nan_count"] for r in per_rollout),
        "mean_drift": round(float(abs(tails.mean(dtype=np.float64) - real.mean())), 3),
        "std_drift": round(float(abs(tails.std(dtype=np.float64) - real.std())), 3),
        "frame_change": round(float(np.mean(changes)), 3),
        "real_frame_change": round(real_change, 3),
        # Collapse checks: every late frame of every rollout as bright as some real frame, and no
        # rollout frozen.
        "real_frame_mean_range": [round(real_low, 3), round(real_high, 3)],
        "late_frame_mean_range": [min(r["late_frame_mean_range"][0] for r in per_rollout),
                                  max(r["late_frame_mean_range"][1] for r in per_rollout)],
        "within_real_range": all(r["within_real_range"] for r in per_rollout),
        "rollouts_within_real_range": sum(r["within_real_range"] for r in per_rollout),
        "frozen": any(r["frozen"] for r in per_rollout),
        "per_rollout": per_rollout,
    }
