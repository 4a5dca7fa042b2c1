"""Generation with the PyTorch cached step: context from the real world, then the model alone.

The context is `window` real frames of the checkpoint's world (seeded, played by the explorer).
Actions after it come from a script (action names, `name*count` repeats, `#` comments, given as a
file or inline with commas) or from a policy playing the real world alongside, which also yields
the true frames for a side-by-side comparison.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from vidgen_rt.data.record import play_episode
from vidgen_rt.errors import ConfigError

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


def generate(model, config, state: dict, frames: int, actions: list[int] | None = None,
             policy: str = "explore", seed: int = 1_000_000) -> dict:
    """Roll out `frames` frames. Returns generated frames, the true frames when a policy drove the
    real world (else None) and the generation speed."""
    if not 1 <= frames <= MAX_FRAMES:
        raise ConfigError(f"--frames must be between 1 and {MAX_FRAMES}, got {frames}")
    m = config.model
    context = m.window
    scripted = actions is not None
    played = play_episode(world_of(state), policy, seed, context + (1 if scripted else frames),
                          m.frame_height, m.frame_width)
    if scripted:
        actions = (list(actions) * (frames // len(actions) + 1))[:frames]
    else:
        actions = played["actions"][context - 1:context - 1 + frames].tolist()
    began = time.perf_counter()
    generated = model.rollout(played["frames"][:context], played["actions"][:context - 1], np.array(actions))
    seconds = time.perf_counter() - began
    truth = None if scripted else played["frames"][context:context + frames]
    return {"frames": generated, "truth": truth, "fps": frames / seconds, "seconds": seconds}


def side_by_side(generated: np.ndarray, truth: np.ndarray | None) -> np.ndarray:
    """Real | generated, with a 2-pixel gap, for comparison videos."""
    if truth is None:
        return generated
    gap = np.full((*generated.shape[:2], 2, 3), 255, dtype=np.uint8)
    return np.concatenate([truth, gap, generated], axis=2)


def torch_threads(threads: int | None) -> None:
    if threads:
        torch.set_num_threads(threads)
