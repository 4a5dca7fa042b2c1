"""Deterministic training batches from an episode store.

Every batch is a pure function of (seed, stage, step, rank): resuming at step k draws exactly the
batches an uninterrupted run would have drawn, and DDP ranks draw different ones. Episodes are split
once into training and validation sets: a store's own held-out episodes (EpisodeStore.held_out) are
never trained on and validate; a store without that split validates on its last ~5 % (at least one,
when there are two or more).
Clips carry the store's cond vectors and guide maps (normalised by `guide_to_tensor`) when it has them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from vidgen_rt.data.store import EpisodeStore
from vidgen_rt.errors import DataError
from vidgen_rt.model.world_model import guide_to_tensor

STAGE_IDS = {"tokenizer": 1, "dynamics": 2, "validation": 3, "decoder": 4, "decoder_bank": 5, "head_bank": 6}


def batch_rng(seed: int, stage: str, step: int, rank: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, STAGE_IDS[stage], step, rank])


class EpisodeSplit:
    """The store's episodes, divided into training and validation indices."""

    def __init__(self, store: EpisodeStore, min_frames: int):
        lengths = store.episode_lengths()
        usable = [i for i, n in enumerate(lengths) if n >= min_frames]
        if not usable:
            raise DataError(f"{store.path}: no episode has the {min_frames} frames a training clip needs "
                            f"({len(lengths)} episodes, longest {max(lengths, default=0)} frames)")
        self.store = store
        if store.held_out is not None:
            self.train = [i for i in usable if i not in store.held_out]
            self.validation = [i for i in usable if i in store.held_out]
            if not self.train:
                raise DataError(f"{store.path}: every episode of the {min_frames} frames a training clip needs "
                                f"is held out (meta.held_out {store.held_out})")
            return
        held_out = max(1, len(usable) // 20) if len(usable) >= 2 else 0
        self.train = usable[:len(usable) - held_out]
        self.validation = usable[len(usable) - held_out:]


class FrameSampler:
    """Single frames for the tokenizer, uniform over all frames of the given episodes."""

    def __init__(self, store: EpisodeStore, indices: list[int]):
        self.episodes = [store.episode(i).frames for i in indices]
        self.offsets = np.cumsum([0] + [len(f) for f in self.episodes])

    def sample(self, rng: np.random.Generator, batch: int) -> np.ndarray:
        picks = rng.integers(0, self.offsets[-1], size=batch)
        frames = []
        for flat in picks:
            episode = int(np.searchsorted(self.offsets, flat, side="right") - 1)
            frames.append(self.episodes[episode][flat - self.offsets[episode]])
        return np.stack(frames)  # (B, H, W, 3) uint8


class Clips(NamedTuple):
    """A batch of clips; cond and guide are None when the store has none, frames when not asked for."""

    latents: torch.Tensor | None        # (B, T, C, h, w); None when the sampler holds frames only
    actions: torch.Tensor               # (B, T) int64
    cond: torch.Tensor | None = None    # (B, T, Dc) float32
    guide: torch.Tensor | None = None   # (B, T, G, H, W) float32, normalised
    frames: np.ndarray | None = None    # (B, T, H, W, 3) uint8


class ClipSampler:
    """Clips of `length` consecutive latents (or frames) with their actions, cond vectors and guide maps.

    conds and guides hold one array per episode (the store's, memory-mapped), or are None; guide
    maps are normalised per clip, so a large store's maps are never all loaded at once. `frames`
    (one array per episode) adds each clip's frames; latents may then be None (the decoder stage
    encodes its clips itself).
    """

    def __init__(self, latents: list[torch.Tensor] | None, actions: list[np.ndarray], length: int,
                 conds: list[np.ndarray] | None = None, guides: list[np.ndarray] | None = None,
                 guide_names: list[str] | None = None, frames: list[np.ndarray] | None = None):
        self.latents, self.actions, self.length = latents, actions, length
        self.conds, self.guides, self.guide_names, self.frames = conds, guides, guide_names, frames
        self.sequences = latents if latents is not None else frames
        starts = np.array([len(z) - length + 1 for z in self.sequences], dtype=np.float64)
        self.weights = starts / starts.sum()

    def sample(self, rng: np.random.Generator, batch: int) -> Clips:
        episodes = rng.choice(len(self.sequences), size=batch, p=self.weights)
        clips, acts, conds, guides, frames = [], [], [], [], []
        for e in episodes:
            start = int(rng.integers(0, len(self.sequences[e]) - self.length + 1))
            span = slice(start, start + self.length)
            if self.latents is not None:
                clips.append(self.latents[e][span])
            if self.frames is not None:
                frames.append(np.asarray(self.frames[e][span]))
            acts.append(torch.from_numpy(np.array(self.actions[e][span])))  # stores memory-map read-only
            if self.conds is not None:
                conds.append(torch.from_numpy(np.array(self.conds[e][span], dtype=np.float32)))
            if self.guides is not None:
                guides.append(guide_to_tensor(self.guides[e][span], self.guide_names))
        return Clips(torch.stack(clips) if clips else None, torch.stack(acts),
                     torch.stack(conds) if conds else None, torch.stack(guides) if guides else None,
                     np.stack(frames) if frames else None)


def episode_actions(store: EpisodeStore, index: int, n_actions: int) -> np.ndarray:
    """The episode's actions, or all-zero ("no action") for unconditional video."""
    episode = store.episode(index)
    if episode.actions is None:
        return np.zeros(len(episode.frames), dtype=np.int64)
    actions = np.asarray(episode.actions, dtype=np.int64)
    if actions.size and (actions.min() < 0 or actions.max() >= n_actions):
        raise DataError(f"{store.path}: episode {index} has action ids outside 0..{n_actions - 1}")
    return actions


def target_conditions(batch: Clips, repeat: int = 1) -> dict:
    """cond/guide keyword arguments of the dynamics forward for a clip's input frames 0..T-2: those of
    frames 1..T-1, the frames the steps predict; repeated `repeat` times along the batch."""
    conditions = {}
    for name in ("cond", "guide"):
        value = getattr(batch, name)
        conditions[name] = None if value is None else value[:, 1:].repeat(repeat, *[1] * (value.dim() - 1))
    return conditions
