"""Generation with the PyTorch cached step: real context frames, then the model alone.

The context is `window` real frames: of the checkpoint's world (seeded, played by the explorer), or
of a clip (`generate_from_clip`: a video, a frame folder or STORE:EPISODE, read as ingest reads it;
a model trained on a store starts from that store's first held-out episode when no clip is named).
Actions after it come from a script (action names, `name*count` repeats, `#` comments, given as a
file or inline with commas) or from a policy playing the real world alongside, which also yields
the true frames for a side-by-side comparison.

A guide-conditioned world (model.guide_channels > 0) paints frames from the real world's guide maps
(depth, wall id): the policy plays the real maze and each generated frame gets the maps of the true
frame at its place. The maps may come from another seed's maze than the context (`guide_seed`), to
show what the guide alone makes of the same start. The frames come from a `TorchStepper`
(runtime/torch_stepper.py), opened through `open_stepper` as every consumer's stepper is.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from vidgen_rt.data.record import GUIDE_NAMES, play_episode, require_context
from vidgen_rt.errors import ConfigError
from vidgen_rt.model.world_model import guide_to_tensor
from vidgen_rt.runtime.factory import open_stepper
from vidgen_rt.worlds import HELD_OUT_SEED

MAX_FRAMES = 1_000_000


def parse_action_script(text_or_path: str, action_names: list[str]) -> list[int]:
    """'forward*10, turn_left*3' or a file with one such item per line -> action ids."""
    path = Path(text_or_path)
    source = path.read_text() if path.is_file() else text_or_path.replace(",", "\n")
    actions = []
    for number, raw in enumerate(source.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, count = line.partition("*")
        name = name.strip()
        try:
            repeat = int(count) if count.strip() else 1
        except ValueError:
            raise ConfigError(f"action script line {number}: bad repeat count in {line!r}") from None
        if name.isdigit() and int(name) < len(action_names):
            action = int(name)
        elif name in action_names:
            action = action_names.index(name)
        else:
            raise ConfigError(f"action script line {number}: unknown action {name!r}; "
                              f"expected one of {action_names} or 0..{len(action_names) - 1}")
        if repeat < 0:
            raise ConfigError(f"action script line {number}: negative repeat count in {line!r}")
        actions.extend([action] * repeat)
    if not actions:
        raise ConfigError("action script holds no actions")
    return actions


def world_of(state: dict) -> str:
    """The built-in world a checkpoint was trained on (recorded in its store's metadata); its real
    frames start every rollout, so a model trained on ingested video has none to start from here."""
    if not state.get("world"):
        raise ConfigError(f"this checkpoint was trained on {state.get('data', 'a store')!r}, not on a built-in "
                          f"world, so there is no world to take context frames from")
    return state["world"]


def context_clip(config, state: dict, spec: str | None, frames: int) -> dict:
    """The clip a rollout of `frames` frames continues (load_clip's dict): `spec`, or for a model of a
    store the store's first held-out episode; up to `window + frames` frames, for the comparison."""
    from vidgen_rt.data.ingest import load_clip, preprocess_of

    m = config.model
    if spec is None:
        spec = held_out_episode(state.get("data"))
    clip = load_clip(spec, preprocess_of(state.get("data"), m.frame_height, m.frame_width), m.window + frames)
    if len(clip["frames"]) < m.window:
        raise ConfigError(f"{spec}: has {len(clip['frames'])} frames; the model continues a clip from its "
                          f"first {m.window} (model.window), so it needs at least that many")
    return clip


def held_out_episode(store_path) -> str:
    """`STORE:EPISODE` of a store's first held-out episode (store.py); ConfigError when the store is
    gone or holds none."""
    from vidgen_rt.data.store import EpisodeStore

    if not store_path or not (Path(store_path) / "index.json").is_file():
        raise ConfigError(f"this checkpoint was trained on {store_path!r}, which is not here, and on no built-in "
                          f"world; pass --context CLIP (a video, a frame folder or STORE:EPISODE)")
    held = EpisodeStore.open(store_path).held_out
    if not held:
        raise ConfigError(f"{store_path}: the store holds no held-out episodes (ingest with --held-out N); "
                          f"pass --context CLIP (a video, a frame folder or STORE:EPISODE)")
    return f"{store_path}:{held[0]}"


def generate_from_clip(model, config, state: dict, clip: dict, frames: int,
                       actions: list[int] | None = None, sampling: dict | None = None) -> dict:
    """Continue `clip` (context_clip) for `frames` frames: its first `window` frames are the context.
    Actions after it: `actions` (a script, repeated), else the clip's own (its input log), else the
    one action of an unconditional world. A flow-guided world is steered by the clip's own motion,
    so the clip must then last the whole rollout. `sampling` as for `generate`. Returns what
    `generate` returns; the truth is the clip's real continuation when it is long enough."""
    from vidgen_rt.data.flow import FLOW_GUIDE_NAMES, flow_guide

    if not 1 <= frames <= MAX_FRAMES:
        raise ConfigError(f"--frames must be between 1 and {MAX_FRAMES}, got {frames}")
    m, real = config.model, clip["frames"]
    K, long_enough = m.window, len(clip["frames"]) >= m.window + frames
    if m.cond_dim or m.guide_channels and state.get("guide_names") != FLOW_GUIDE_NAMES:
        raise ConfigError(f"a clip supplies no cond vectors or {state.get('guide_names')} guide maps; this "
                          f"world model takes them (model.cond_dim {m.cond_dim}, guide_channels {m.guide_channels})")
    recorded = clip["actions"] if clip["actions"] is not None else np.zeros(len(real), np.int64)
    if actions is not None:
        actions = (list(actions) * (frames // len(actions) + 1))[:frames]
    elif clip["actions"] is not None and len(recorded) >= K - 1 + frames:
        actions = recorded[K - 1:K - 1 + frames]
    elif m.n_actions == 1:
        actions = [0] * frames
    else:
        raise ConfigError(f"{clip['name']}: no input log covers the {frames} generated frames of this "
                          f"action-conditioned world; give --actions")
    guide = None
    if m.guide_channels:
        if not long_enough:
            raise ConfigError(f"{clip['name']}: a flow-guided world follows the clip's own motion, so the clip "
                              f"needs {K + frames} frames (window + --frames), it has {len(real)}")
        guide = guide_to_tensor(flow_guide(real[:K + frames])[1:], FLOW_GUIDE_NAMES)
    stepper = open_stepper((model, config, state), "torch", **(sampling or {}))
    began = time.perf_counter()
    generated = stepper.rollout(real[:K], recorded[:K - 1], np.asarray(actions), guide=guide)
    seconds = time.perf_counter() - began
    return {"frames": generated, "truth": real[K:K + frames] if long_enough else None,
            "fps": frames / seconds, "seconds": seconds}


def generate(model, config, state: dict, frames: int, actions: list[int] | None = None,
             policy: str = "explore", seed: int = HELD_OUT_SEED, guide_seed: int | None = None,
             sampling: dict | None = None) -> dict:
    """Roll out `frames` frames. Returns generated frames, the true frames when a policy drove the
    real world (else None) and the generation speed. A guided world takes the guide maps of the real
    world of `guide_seed` (default: `seed`) for the generated frames; its frames are then the truth.
    `sampling` holds a flow head's stream options (seed, temperature, sampling_steps: open_stepper's
    keywords); an mse head ignores them."""
    if not 1 <= frames <= MAX_FRAMES:
        raise ConfigError(f"--frames must be between 1 and {MAX_FRAMES}, got {frames}")
    m = config.model
    context, scripted, guided = m.window, actions is not None, m.guide_channels > 0
    check_world_conditions(config, state, scripted)
    if guide_seed is not None and not guided:
        raise ConfigError("--guides-from-seed: this world takes no guide maps (model.guide_channels = 0)")
    world = world_of(state)
    played = play_episode(world, policy, seed, context + (1 if scripted else frames),
                          m.frame_height, m.frame_width, guides=guided)
    require_context(played, context, world, seed, hint="; try another --seed")
    source = played
    if guided and guide_seed not in (None, seed):
        source = play_episode(world, policy, guide_seed, context + frames, m.frame_height, m.frame_width, guides=True)
    if scripted:
        actions = (list(actions) * (frames // len(actions) + 1))[:frames]
    else:
        actions = source["actions"][context - 1:context - 1 + frames].tolist()
    guide = None
    if guided:  # frames 1..K-1 of the real context, then the guide source's frames K..K+frames-1
        maps = np.concatenate([played["guide"][1:context], source["guide"][context:context + frames]])
        guide = guide_to_tensor(maps, GUIDE_NAMES)
    stepper = open_stepper((model, config, state), "torch", **(sampling or {}))
    began = time.perf_counter()
    generated = stepper.rollout(played["frames"][:context], played["actions"][:context - 1], np.array(actions),
                                guide=guide)
    seconds = time.perf_counter() - began
    # A game (gym:ENV_ID) can end before the rollout does: then there is no truth to show beside it.
    complete = len(source["frames"]) >= context + frames
    truth = None if scripted or not complete else source["frames"][context:context + frames]
    return {"frames": generated, "truth": truth, "fps": frames / seconds, "seconds": seconds}


def check_world_conditions(config, state: dict, scripted: bool = False) -> None:
    """A built-in world can supply guide maps (depth, wall id, by playing it) but no cond vectors;
    refuse a conditioned model it cannot drive, naming what is missing."""
    m = config.model
    if m.cond_dim:
        raise ConfigError(f"this world model takes cond vectors of size {m.cond_dim} (model.cond_dim), which the "
                          f"built-in world {state.get('world')!r} does not produce; drive it with your own cond")
    if m.guide_channels and state.get("guide_names") != GUIDE_NAMES:
        raise ConfigError(f"this world model takes guide maps {state.get('guide_names')}, but the built-in world "
                          f"renders {GUIDE_NAMES}")
    if m.guide_channels and scripted:
        raise ConfigError("a guided world paints the real world's guide maps, which come from a policy playing it: "
                          "use --policy instead of --actions")


def side_by_side(generated: np.ndarray, truth: np.ndarray | None) -> np.ndarray:
    """Real | generated, with a 2-pixel gap, for comparison videos."""
    if truth is None:
        return generated
    gap = np.full((*generated.shape[:2], 2, 3), 255, dtype=np.uint8)
    return np.concatenate([truth, gap, generated], axis=2)


def torch_threads(threads: int | None) -> None:
    if threads:
        torch.set_num_threads(threads)
