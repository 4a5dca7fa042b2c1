"""The blur, realism and collapse figures of `vidgen eval` (docs/evaluation.md): `sharpness`,
`realism` and `object_persistence` of an evaluation's rollouts, from the metric functions of
sharpness.py, nearest_view.py, realism.py and persistence.py.

Two sets of rollouts feed them. The short ones start from `window` real frames of each held-out
episode and run 64 frames with the true actions; their frames are judged at every horizon 1..64
against the true frames. The long ones are the stability rollouts (a random player, `count` frames
each), judged against the real game played with the same actions. A long rollout is not kept whole:
frames at horizons `stride`, 2·`stride`, ... (at most about LONG_SAMPLED_FRAMES of them) stand for
it, plus the strip horizons (256, 1,000, 10,000). A figure "at horizon h" beyond 64 pools the sampled
frames in (0.9·h, h] of every long rollout, because one frame per rollout says more about where the
player stands than about blur.
"""

from __future__ import annotations

import numpy as np

from vidgen_rt.metrics.nearest_view import ViewBank, close_up_rate, distinct_cells
from vidgen_rt.metrics.persistence import (background, object_counts, object_persistence, persistence_ratio,
                                            presence_rates, world_objects)
from vidgen_rt.metrics.realism import NEIGHBOURS, PixelPCA, knn_precision_recall
from vidgen_rt.metrics.sharpness import sharpness, sharpness_by_band, sharpness_by_horizon
from vidgen_rt.worlds import parse_world

SHORT_HORIZONS = (1, 16, 64)
LONG_HORIZONS = (1000, 10000)
LONG_BANDS = ((65, 300), (301, 1000), (1001, 10000))
STRIP_HORIZONS = (256, 1000, 10000)
LONG_SAMPLED_FRAMES = 1000   # ~9 s of nearest-view matching per long rollout at 64x64 on 2 cores


def long_kept_horizons(count: int) -> np.ndarray:
    """The 1-based horizons of a `count`-frame long rollout whose frames are decoded and judged."""
    stride = max(1, count // LONG_SAMPLED_FRAMES)
    kept = set(range(stride, count + 1, stride)) | {h for h in STRIP_HORIZONS if h <= count}
    return np.array(sorted(kept), dtype=np.int64)


def quality_figures(world: str, frames, recon, generated, context: int, runs: list[dict],
                    persistence: bool) -> dict:
    """{"sharpness", "realism", "object_persistence"} of an evaluation.

    `frames`, `recon`: the held-out episodes' real frames and their tokenizer reconstructions
    (E, T, H, W, 3); `generated`: the short rollouts (E, T - context, H, W, 3); `runs`: the long
    rollouts, each with "seed", "horizons" (n,), "generated" (n, H, W, 3) and "real" (m <= n
    frames: the real game can end first, so its frames are those of the first m horizons)."""
    real = frames[:, context:]   # (E, 64, H, W, 3): the true frames at horizons 1..64
    result = {"sharpness": _sharpness(real, recon, frames, generated, runs),
              "realism": _realism(world, real, recon[:, context:], generated, runs)}
    if persistence:
        result["object_persistence"] = _persistence(real, recon[:, context:], generated, runs)
    else:
        result["object_persistence"] = {"skipped": f"{world}: off by default for built-in worlds "
                                                   f"(vidgen eval --object-persistence turns it on)"}
    return result


def _sharpness(real, recon, frames, generated, runs) -> dict:
    curve = sharpness_by_horizon(generated, real)   # (64,)
    horizons = {str(h): _round(curve[h - 1]) for h in SHORT_HORIZONS if h <= len(curve)}
    bands = {k: _round(v) for k, v in sharpness_by_band(generated, real, ((1, 16), (17, 64))).items()}
    for first, last in LONG_BANDS:   # cut to the rollouts' length, as sharpness_by_band does
        pair = _long_frames(runs, first, last)
        if pair is not None:
            bands[f"{first}-{last}"] = _round(sharpness(*pair))
    for h in LONG_HORIZONS:
        pair = _long_frames(runs, int(0.9 * h) + 1, h) if _reached(runs, h) else None
        if pair is not None:
            horizons[str(h)] = _round(sharpness(*pair))
    return {"horizons": horizons, "bands": bands, "curve": [_round(v) for v in curve],
            # The bound any head sits under: the decoder's own detail on the same real frames.
            "tokenizer": _round(sharpness(_flat(recon), _flat(frames)))}


def _long_frames(runs, first: int, last: int):
    """(generated, real) frames of every long rollout at its kept horizons first..last where the
    real game still ran; None when there is no such frame."""
    generated, real = [], []
    for run in runs:
        inside = np.nonzero((run["horizons"] >= first) & (run["horizons"] <= last))[0]
        inside = inside[inside < len(run["real"])]
        generated.append(run["generated"][inside])
        real.append(run["real"][inside])
    generated, real = np.concatenate(generated), np.concatenate(real)
    return (generated, real) if len(real) else None


def _realism(world: str, real, recon, generated, runs) -> dict:
    result = {"knn": _knn(real, generated, runs)}
    name, options = parse_world(world) if not world.startswith("gym:") else (world, {})
    if name != "maze" or options.get("level") is None:
        why = ("draws a new maze for every seed, and a bank per maze costs ~20 s; evaluate on a fixed "
               "level (--world maze:level=N,cells=C)") if name == "maze" else "has no bank of true renders"
        result["nearest_view"] = {"skipped": f"{world}: nearest-real-view realism needs a fixed maze level; "
                                             f"this world {why}"}
    else:
        result["nearest_view"] = _nearest_view(world, real, recon, generated, runs)
    return result


def _knn(real, generated, runs) -> dict:
    """k-NN precision/recall in one PCA space fitted on the held-out real frames (realism.py)."""
    space = PixelPCA.fit(_flat(real))
    result = {"k": NEIGHBOURS, "horizons_1_64": knn_precision_recall(_flat(generated), _flat(real), features=space)}
    long_generated = np.concatenate([run["generated"] for run in runs])
    long_real = np.concatenate([run["real"] for run in runs])
    if min(len(long_generated), len(long_real)) > NEIGHBOURS:
        result["long_rollouts"] = knn_precision_recall(long_generated, long_real, features=space)
    return result


def _nearest_view(world: str, real, recon, generated, runs) -> dict:
    """Median nearest-real-view PSNR per horizon, its calibration, and the pose figures of the long
    rollouts beside the real game's under the same actions (nearest_view.py)."""
    bank = ViewBank(world, height=real.shape[2], width=real.shape[3])
    episodes, steps = generated.shape[:2]
    scores = bank.match(_flat(generated)).psnr.reshape(episodes, steps)   # (E, 64) dB
    curve = np.median(scores, axis=0)
    horizons = {str(h): _round(curve[h - 1]) for h in SHORT_HORIZONS if h <= steps}
    matched = [(bank.match(run["generated"]), bank.match(run["real"])) for run in runs]
    for h in LONG_HORIZONS:
        if _reached(runs, h):
            pooled = np.concatenate([m.psnr[(run["horizons"] > 0.9 * h) & (run["horizons"] <= h)]
                                     for run, (m, _) in zip(runs, matched)])
            horizons[str(h)] = _round(np.median(pooled))
    return {"median_psnr": horizons, "median_psnr_curve": [_round(v) for v in curve],
            "calibration": {"real_frames": _round(np.median(bank.match(_flat(real)).psnr)),
                            "tokenizer_reconstructions": _round(np.median(bank.match(_flat(recon)).psnr))},
            "long_rollout_poses": _poses(runs, matched), "bank_views": len(bank)}


def _poses(runs, matched) -> dict:
    """Distinct cells and close-up rate of each long rollout's estimated poses beside the real
    game's under the same actions; the means over rollouts, and generated over real."""
    per_rollout = [{"seed": run["seed"],
                    "distinct_cells": {"generated": distinct_cells(generated), "real_game": distinct_cells(real)},
                    "close_up_rate": {"generated": _round(close_up_rate(generated)),
                                      "real_game": _round(close_up_rate(real))}}
                   for run, (generated, real) in zip(runs, matched)]
    result = {"per_rollout": per_rollout}
    for figure in ("distinct_cells", "close_up_rate"):
        means = {side: _round(np.mean([r[figure][side] for r in per_rollout])) for side in ("generated", "real_game")}
        ratio = means["generated"] / means["real_game"] if means["real_game"] else float("nan")
        result[figure] = {**means, "generated_over_real": _round(ratio)}
    return result


def _persistence(real, recon, generated, runs) -> dict:
    """Per horizon 1..64 and per band: the generated rate of each of the world's objects over the
    real rate at the same horizons of the same held-out episodes (a game's objects come and go with
    time: Breakout's ball is not in play in its first frames); then the long rollouts as one clip;
    and the tokenizer's reconstructions of the same real frames, the bound any head sits under: a
    ball the decoder cannot draw is missing from every generated frame too."""
    static = background(_flat(real))
    real_counts = object_counts(_flat(real), static).reshape(real.shape[:2])   # (E, 64)
    generated_counts = object_counts(_flat(generated), static).reshape(generated.shape[:2])
    recon_counts = object_counts(_flat(recon), static)
    objects = world_objects(real_counts)
    curve = [persistence_ratio(generated_counts[:, h], real_counts[:, h], objects)
             for h in range(generated_counts.shape[1])]
    bands = {f"{first}-{last}": _round(persistence_ratio(generated_counts[:, first - 1:last],
                                                         real_counts[:, first - 1:last], objects))
             for first, last in ((1, 16), (17, 64)) if last <= generated_counts.shape[1]}
    measured = [v for v in curve if not np.isnan(v)]
    result = {"horizons": {str(h): _round(curve[h - 1]) for h in SHORT_HORIZONS if h <= len(curve)},
              "bands": bands, "curve": [_round(v) for v in curve],
              "worst_1_64": _round(min(measured) if measured else float("nan")),
              "objects": objects, "real_rate": [_round(r) for r in presence_rates(real_counts, objects)],
              "tokenizer": _round(persistence_ratio(recon_counts, real_counts, objects))}
    long_generated = np.concatenate([run["generated"] for run in runs])
    long_real = np.concatenate([run["real"] for run in runs])
    if len(long_real):
        long = object_persistence(long_generated, long_real)
        result["long_rollouts"] = {"score": _round(long["score"]), "objects": long["objects"]}
    return result


def long_strips(runs: list[dict]) -> dict | None:
    """Real-game and generated frames of every long rollout at the strip horizons it reached, for
    the report; None when no rollout reached 256. A real game that ended first shows black."""
    horizons = [h for h in STRIP_HORIZONS if _reached(runs, h)]
    if not horizons:
        return None
    generated, real = [], []
    for run in runs:
        index = [int(np.searchsorted(run["horizons"], h)) for h in horizons]
        generated.append(run["generated"][index])
        blank = np.zeros_like(run["generated"][0])
        real.append(np.stack([run["real"][i] if i < len(run["real"]) else blank for i in index]))
    return {"horizons": horizons, "generated": np.stack(generated), "real": np.stack(real)}


def _reached(runs: list[dict], horizon: int) -> bool:
    return all(run["horizons"][-1] >= horizon for run in runs)


def _flat(x: np.ndarray) -> np.ndarray:
    return x.reshape(-1, *x.shape[2:])   # (E, T, H, W, 3) -> (E*T, H, W, 3)


def _round(value) -> float | None:
    """JSON-ready: 4 decimals, None for NaN (a figure with nothing to compare against)."""
    value = float(value)
    return None if np.isnan(value) else round(value, 4)
