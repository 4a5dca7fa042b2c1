"""Recording episodes from a built-in world into an episode store.

Episode e is the world generated from seed `seed + e`, played for `frames` frames by the named
policy (or, for a comma-separated list, by the list's policies in turn, to mix behaviours): `frames[0]` is the start view and `actions[t]` the action taken after `frames[t]`. Guide maps
(depth, wall id) can be stored with the frames for guide-conditioned models. The last `held_out`
episodes are named in the store as held out (store.py): never trained on, measured by `vidgen eval`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from vidgen_rt.data.store import HELD_OUT_AUTO, EpisodeStore
from vidgen_rt.errors import ConfigError
from vidgen_rt.preflight import require_memory
from vidgen_rt.worlds import make_world
from vidgen_rt.worlds.policies import make_policy

GUIDE_NAMES = ["depth", "wall_id"]
MAX_FRAMES = 10_000_000  # refuse absurd requests before allocating anything


def play_episode(world_name: str, policy_name: str, seed: int, frames: int, height: int, width: int,
                 guides: bool = False) -> dict:
    """Play one episode; returns frames (T, H, W, 3) uint8, actions (T,) int64, guide or None.

    A `gym:ENV_ID` world plays that environment instead (gym_source.play_gym_world): its game may
    end first, so it can return fewer than `frames` frames, though always `frames` actions."""
    if world_name.startswith("gym:"):
        from vidgen_rt.data.gym_source import play_gym_world  # gym_source imports this module

        return play_gym_world(world_name.removeprefix("gym:"), policy_name, seed, frames, height, width, guides)
    world = make_world(world_name, seed=seed, height=height, width=width)
    policy = make_policy(policy_name, world, seed=seed)
    images = np.empty((frames, height, width, 3), dtype=np.uint8)
    actions = np.empty(frames, dtype=np.int64)
    guide = np.empty((frames, len(GUIDE_NAMES), height, width), dtype=np.float32) if guides else None
    images[0] = world.reset()
    for t in range(frames):
        if guides:
            maps = world.render_guides()
            guide[t, 0], guide[t, 1] = maps["depth"], maps["wall_id"]
        actions[t] = policy.act(world)
        if t + 1 < frames:
            images[t + 1] = world.step(int(actions[t]))
    return {"frames": images, "actions": actions, "guide": guide, "action_names": list(world.action_names)}


def require_context(played: dict, context: int, world_name: str, seed: int, hint: str = "") -> None:
    """A game (gym:ENV_ID) can end before a rollout's real context is complete: refuse such an
    episode by name instead of starting from fewer frames than the model's window."""
    if len(played["frames"]) < context:
        raise ConfigError(f"{world_name}: the episode of seed {seed} ended after {len(played['frames'])} frames, "
                          f"before the {context} context frames a rollout starts from{hint}")


def check_request(episodes: int, frames: int, height: int, width: int, guide_channels: int = 0) -> None:
    """Refuse a recording request before anything is played: too few frames, absurd sizes, or an
    episode whose arrays (frames, actions, float32 guide maps, each held twice at its peak: played,
    then converted for the store) need more than half of the memory available now."""
    if episodes <= 0 or frames < 2:
        raise ConfigError(f"need at least 1 episode of at least 2 frames, got {episodes} x {frames}")
    if episodes * frames > MAX_FRAMES or not (8 <= height <= 1024 and 8 <= width <= 1024):
        raise ConfigError(f"refusing to record {episodes} x {frames} frames of {height}x{width}: "
                          f"at most {MAX_FRAMES} frames of 8..1024 pixels a side")
    per_frame = height * width * (3 + 4 * guide_channels) + 8
    require_memory(2 * frames * per_frame, f"--frames {frames} of {width}x{height} per episode")


def record_world(world_name: str, out: Path, policy: str = "explore", episodes: int = 10, frames: int = 256,
                 height: int = 64, width: int = 64, seed: int = 0, guides: bool = False,
                 overwrite: bool = False, quiet: bool = False, held_out: int | str = HELD_OUT_AUTO) -> EpisodeStore:
    check_request(episodes, frames, height, width, len(GUIDE_NAMES) if guides else 0)
    policies = [name.strip() for name in policy.split(",") if name.strip()]
    if not policies:
        raise ConfigError(f"--policy {policy!r}: expected a policy name or a comma-separated list")
    action_names = list(make_world(world_name, seed=seed, height=height, width=width).action_names)
    meta = {"source": f"world:{world_name}", "policy": policy, "seed": seed}
    writer = EpisodeStore.create(out, height, width, action_names=action_names,
                                 guide_names=GUIDE_NAMES if guides else None, meta=meta, overwrite=overwrite,
                                 held_out=held_out)
    with writer:
        for e in tqdm(range(episodes), desc=f"record {world_name}", unit="episode", disable=quiet):
            episode = play_episode(world_name, policies[e % len(policies)], seed + e, frames, height, width, guides)
            writer.add_episode(episode["frames"], episode["actions"], guide=episode["guide"])
    return EpisodeStore.open(out)
