"""Evaluation of a world trained on an episode store (ingested video, an input log, a recording):
on the store's held-out episodes, which training never sampled (vidgen_rt.data.store).

A store has no world to play again, so the real frames are the held-out episodes themselves, cut
into segments of `window + 64` frames (shorter when the episodes are). On them the keys of a
built-in world's evaluation that apply (evaluate.py): `tf_psnr`, `tf_ssim`, `tokenizer_psnr`,
`ar_psnr`, `ar_ssim` and their curves, `repeat_last_frame_psnr`, `flicker`, and for a store with
actions `action_faithfulness` and `tf_psnr_by_action`; stability needs a world to play and is left
out. Realism for recorded data: `realism` holds the k-NN precision and recall (realism.py) of every
generated frame of the free-running rollouts against every frame of the held-out episodes, in the
PixelPCA space fitted on those real frames. `--data STORE` measures on another store of the same
frame size (its held-out episodes, or all of them when it has none).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vidgen_rt.data.store import EpisodeStore
from vidgen_rt.errors import ConfigError
from vidgen_rt.metrics.evaluate import HORIZONS, _free_running, _teacher_forced
from vidgen_rt.metrics.realism import NEIGHBOURS, knn_precision_recall
from vidgen_rt.model.flops import frame_flops
from vidgen_rt.model.world_model import guide_to_tensor


def evaluate_store(model, config, state: dict, store_path=None, segments: int = 8,
                   faithfulness_samples: int = 400, temperature: float = 1.0) -> tuple[dict, dict]:
    """The metrics on the held-out episodes of `store_path` (default: the store the model was trained
    on), and sample frames for a report (as evaluate_with_samples returns them); a sampling head draws
    at `temperature`."""
    m = config.model
    if m.cond_dim:
        raise ConfigError("store evaluation drives actions and guide maps; this world takes cond vectors "
                          f"(model.cond_dim {m.cond_dim}), which it has no way to score")
    store, indices = _held_out(store_path, state, m)
    frames, actions, guides = _segments(store, indices, m.window, segments, m)
    latents = torch.stack([model.encode_frames(f) for f in frames])  # (E, T, C, h, w)
    recon = np.stack([model.decode_latents(z) for z in latents])  # (E, T, H, W, 3)
    acts = torch.from_numpy(actions)
    names = store.action_names or state.get("action_names") or ["none"]
    result = {"data": str(store.path), "held_out_episodes": indices, "segments": len(frames),
              "segment_frames": frames.shape[1], "temperature": temperature}
    result.update(_teacher_forced(model, frames, recon, latents, acts, guides, faithfulness_samples, names,
                                  temperature))
    if store.action_names is None:  # video without an input log: no action to be faithful to
        for key in ("action_faithfulness", "action_faithfulness_samples", "tf_psnr_by_action"):
            result.pop(key)
    free_running, images = _free_running(model, frames, latents, acts, guides, m.window,
                                         temperature)  # (E, horizon, H, W, 3)
    result.update(free_running)
    real = np.concatenate([np.asarray(store.episode(i).frames) for i in indices])
    generated = images.reshape(-1, *images.shape[2:])
    result["realism"] = {**{k: round(v, 4) for k, v in knn_precision_recall(generated, real).items()},
                         "generated_frames": len(generated), "real_frames": len(real), "k": NEIGHBOURS}
    counts = model.parameter_count()
    result.update(train_minutes=round(state.get("train_seconds", 0.0) / 60, 2),
                  params=counts["tokenizer"] + counts["dynamics"],
                  gflops_per_frame=round(frame_flops(model)["total"] / 1e9, 4))
    picks = [int(h) - 1 for h in result["ar_psnr"]]
    samples = {"horizons": [int(h) for h in result["ar_psnr"]], "real": frames[:, m.window:][:, picks],
               "generated": images[:, picks], "long": None}
    return result, samples


def _held_out(store_path, state: dict, m) -> tuple[EpisodeStore, list[int]]:
    """The store and the episodes to measure on; ConfigError when there are none."""
    trained_on = state.get("data")
    path = Path(store_path or trained_on or "")
    if not (path / "index.json").is_file():
        raise ConfigError(f"no store to evaluate on: {str(path)!r} is not an episode store; pass --data STORE")
    store = EpisodeStore.open(path)
    if (store.height, store.width) != (m.frame_height, m.frame_width):
        raise ConfigError(f"{path}: frames are {store.width}x{store.height}, the model's "
                          f"{m.frame_width}x{m.frame_height}")
    same = trained_on is not None and Path(trained_on).resolve() == path.resolve()
    indices = store.held_out if store.held_out or same else list(range(len(store)))
    if not indices:
        raise ConfigError(f"{path}: the store has no held-out episodes, and the model trained on all of it; "
                          f"ingest or record it again with --held-out N, or pass --data ANOTHER_STORE")
    long_enough = [i for i in indices if store.episode_lengths()[i] > m.window]
    if not long_enough:
        raise ConfigError(f"{path}: no held-out episode is longer than the model's window ({m.window} frames)")
    return store, long_enough


def _segments(store: EpisodeStore, indices: list[int], window: int, wanted: int, m):
    """Up to `wanted` non-overlapping segments of one length (window + the longest horizon that
    every chosen episode holds), taken in turn from each held-out episode."""
    lengths = [store.episode_lengths()[i] for i in indices]
    length = min(window + max(HORIZONS), max(lengths))
    spans = [(i, start) for i, n in zip(indices, lengths) for start in range(0, n - length + 1, length)]
    spans = spans[::max(1, len(spans) // wanted)][:wanted]
    frames, actions, guides = [], [], []
    for i, start in spans:
        episode = store.episode(i)
        cut = slice(start, start + length)
        frames.append(np.asarray(episode.frames[cut]))
        actions.append(np.zeros(length, np.int64) if episode.actions is None else np.asarray(episode.actions[cut]))
        if m.guide_channels:
            guides.append(guide_to_tensor(episode.guide[cut], store.guide_names))
    return np.stack(frames), np.stack(actions), torch.stack(guides) if guides else None

