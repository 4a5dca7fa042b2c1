"""What a training run starts from: the store checked against the config, and `--init-from` weights.

`--init-from` copies a trained model's weights into the new run; only the head options may differ
(then the head's parameters start fresh, the tokenizer and transformer carry over), and the minutes
the source trained count against the new run's budget.
"""

from __future__ import annotations

import copy

from vidgen_rt.config import Config
from vidgen_rt.data.store import UNCONDITIONAL_ACTIONS, EpisodeStore
from vidgen_rt.errors import ConfigError
from vidgen_rt.model.world_model import WorldModel
from vidgen_rt.train import checkpoint as ckpt


def check_store_matches(store: EpisodeStore, config: Config) -> None:
    m = config.model
    if (store.height, store.width) != (m.frame_height, m.frame_width):
        raise ConfigError(f"{store.path}: frames are {store.width}x{store.height} but preset {config.preset!r} "
                          f"expects {m.frame_width}x{m.frame_height}; record/ingest at that size or pass "
                          f"--set model.frame_height={store.height} --set model.frame_width={store.width}")
    if store.action_names and len(store.action_names) > m.n_actions:
        raise ConfigError(f"{store.path}: the store has {len(store.action_names)} actions but model.n_actions is "
                          f"{m.n_actions}; pass --set model.n_actions={len(store.action_names)}")


def with_store_conditions(store: EpisodeStore, config: Config) -> Config:
    """A copy of `config` whose model.cond_dim / guide_channels match the store's condition specs (a
    field left at 0 takes the store's size, a non-zero one must equal it) and whose model.n_actions
    is the number of actions the store names."""
    resolved = copy.deepcopy(config)
    stored = {
        "cond_dim": (store.cond_dim, f"cond vectors of size {store.cond_dim}" if store.cond_dim else "no cond vectors"),
        "guide_channels": (store.guide_channels, f"{store.guide_channels} guide channels {store.guide_names}"
                           if store.guide_names else "no guide maps"),
    }
    for field, (size, holds) in stored.items():
        wanted = getattr(resolved.model, field)
        if wanted == 0:
            setattr(resolved.model, field, size)
        elif wanted != size:
            raise ConfigError(f"{store.path}: model.{field} is {wanted} but the store holds {holds}; "
                              f"leave model.{field} at 0 (the default) to take the store's")
    # One embedding per action the store names (video without an input log: one, `none`), as many as
    # the exported bundle's manifest lists.
    resolved.model.n_actions = len(store.action_names or UNCONDITIONAL_ACTIONS)
    return resolved


# Model options --init-from may change (docs/architecture.md §3): the head, and the context-noise
# embedding that drift control adds in front of the transformer. They add or replace only the
# parameters below, which start fresh; the tokenizer and transformer carry over.
HEAD_OPTIONS = ("head", "context_noise_embedding")
HEAD_PARAMETERS = ("dynamics.head.", "dynamics.sampler.", "dynamics.current_in.", "dynamics.noise_embedding.")


def load_matching_weights(model: WorldModel, source: WorldModel, spec: str, head_changes: bool) -> list[str]:
    """Copy the source's weights into `model`; returns the names that keep their fresh initialisation.

    Without a head change every tensor must match. With one, only head parameters may be missing
    or differ in shape; anything else is a different model and refused.
    """
    ours, theirs = model.state_dict(), source.state_dict()
    if not head_changes:
        model.load_state_dict(theirs)
        return []
    for name in sorted(set(ours) | set(theirs)):
        same = name in ours and name in theirs and ours[name].shape == theirs[name].shape
        if not same and not name.startswith(HEAD_PARAMETERS):
            raise ConfigError(f"--init-from {spec}: parameter {name} differs between that model and this "
                              f"config; only the head may change")
    kept = {k: v for k, v in theirs.items() if k in ours and ours[k].shape == v.shape}
    model.load_state_dict(kept, strict=False)
    return sorted(k for k in ours if k not in kept)


def world_of_source(source: str) -> str | None:
    """What can be played again for context frames and evaluation: a built-in world by name, or a
    Gymnasium environment as `gym:ENV_ID`; ingested video has none."""
    if source.startswith("world:"):
        return source.removeprefix("world:")
    return source if source.startswith("gym:") else None


def init_from_source(model: WorldModel, config: Config, spec: str, stages, quiet: bool) -> dict:
    """Load `spec`'s weights into `model` (only head options may differ, docs/architecture.md §3) and
    return the run state that carries over: the stages the source completed that this run does not
    repeat, and the minutes it trained, which count against train.max_minutes."""
    source, source_config, source_state = ckpt.load_checkpoint(spec)
    ours, theirs = config.model, source_config.model
    if (ours.cond_dim, ours.guide_channels) != (theirs.cond_dim, theirs.guide_channels):
        raise ConfigError(f"--init-from {spec}: that model takes cond_dim={theirs.cond_dim}, "
                          f"guide_channels={theirs.guide_channels}, but the store and config here give "
                          f"cond_dim={ours.cond_dim}, guide_channels={ours.guide_channels}")
    changes = [f"model.{key} {getattr(theirs, key)} -> {getattr(ours, key)}" for key in HEAD_OPTIONS
               if getattr(ours, key) != getattr(theirs, key)]
    fresh = load_matching_weights(model, source, spec, head_changes=bool(changes))
    if fresh and not quiet:
        print(f"--init-from {spec}: {', '.join(changes)}; "
              f"{len(fresh)} tensors start fresh ({', '.join(sorted({k.split('.')[1] for k in fresh}))})")
    # Stages asked for run again (fine-tuning); the others count as done by the source.
    carried = {"completed": [s for s in source_state.get("completed", []) if s not in stages],
               "train_seconds": float(source_state.get("train_seconds", 0.0))}
    budget, spent = config.train.max_minutes, carried["train_seconds"] / 60
    if budget > 0 and spent >= budget:  # the run would stop before its first step
        raise ConfigError(f"--init-from {spec}: the source has trained {spent:.1f} minutes, and "
                          f"train.max_minutes={budget:g} counts them too; set it to {spent:.1f} plus "
                          f"this run's minutes, or 0 for no budget")
    return carried
