"""Checkpoints: safetensors weights + a JSON state, written atomically, loaded without unpickling.

A checkpoint is a directory holding `model.safetensors` (tokenizer.* and dynamics.* weights),
`state.json` (format, resolved config, stage, next step, training time, metrics) and, for resuming,
`optimizer.pt` (tensors only, loaded with `weights_only=True`). It is written into a temporary
sibling directory and renamed into place; a run directory points at its newest checkpoint through
`latest.json`, replaced atomically, so a run killed at any instant resumes from a complete one; the
staging directory such a kill leaves is removed at the next checkpoint of the run.

`resolve_checkpoint` accepts a checkpoint directory, a run directory, or the name of a shipped world.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from vidgen_rt.atomic import atomic_directory, remove_stale_staging, write_json_atomic
from vidgen_rt.config import Config, from_dict
from vidgen_rt.errors import CheckpointError, ConfigError
from vidgen_rt.model.world_model import WorldModel

FORMAT = "vidgen_rt.checkpoint"
FORMAT_VERSION = 1
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "worlds" / "shipped"
KEEP_CHECKPOINTS = 2


def save_checkpoint(target: Path, model: WorldModel, config: Config, state: dict,
                    optimizer: torch.optim.Optimizer | None = None, half: bool = False) -> Path:
    """Write a complete checkpoint directory at `target` (replaced if present)."""
    with atomic_directory(Path(target)) as staging:
        weights = {name: (t.half() if half and t.is_floating_point() else t).detach().contiguous()
                   for name, t in model.state_dict().items()}
        save_file(weights, str(staging / "model.safetensors"))
        if optimizer is not None:
            torch.save(optimizer.state_dict(), staging / "optimizer.pt")
        full_state = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": config.to_dict(), **state}
        write_json_atomic(staging / "state.json", full_state)
    return target


def save_run_checkpoint(run_dir: Path, model, config, state: dict, optimizer) -> Path:
    """Save `checkpoints/<stage>-<step>` in a run, point `latest.json` at it, prune old ones."""
    run_dir = Path(run_dir)
    name = f"{state['stage']}-{state['step']:07d}"
    remove_stale_staging(run_dir / "checkpoints")  # each checkpoint has its own name: sweep them all
    path = save_checkpoint(run_dir / "checkpoints" / name, model, config, state, optimizer)
    write_json_atomic(run_dir / "latest.json", {"checkpoint": f"checkpoints/{name}"})
    existing = sorted((p for p in (run_dir / "checkpoints").iterdir() if not p.name.startswith(".")),
                      key=lambda p: p.stat().st_mtime)
    for old in existing[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old, ignore_errors=True)
    return path


def resolve_checkpoint(spec: str | os.PathLike) -> Path:
    """A shipped world name, a run directory (its latest checkpoint) or a checkpoint directory."""
    text = str(spec)
    if (SHIPPED_DIR / text / "state.json").is_file() and not Path(text).exists():
        return SHIPPED_DIR / text
    path = Path(text)
    if not path.exists():
        shipped = sorted(p.name for p in SHIPPED_DIR.iterdir()) if SHIPPED_DIR.is_dir() else []
        raise CheckpointError(f"{path}: no such checkpoint, run directory or shipped world "
                              f"(shipped worlds: {', '.join(shipped) or 'none'})")
    if (path / "latest.json").is_file():
        try:
            pointer = json.loads((path / "latest.json").read_text())["checkpoint"]
        except (ValueError, KeyError, TypeError) as error:
            raise CheckpointError(f"{path / 'latest.json'}: unreadable pointer ({error})") from None
        path = (path / pointer).resolve()
        if not path.is_relative_to(Path(spec).resolve()):
            raise CheckpointError(f"{Path(spec) / 'latest.json'}: points outside the run directory")
    if not (path / "state.json").is_file():
        raise CheckpointError(f"{path}: not a checkpoint (missing state.json)")
    return path


def read_state(path: Path) -> dict:
    state_file = Path(path) / "state.json"
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{state_file}: unreadable ({error})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{state_file}: field 'format' must be {FORMAT!r}")
    if state.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{state_file}: unsupported format_version {state.get('format_version')!r}, "
                              f"expected {FORMAT_VERSION}")
    return state


def load_checkpoint(spec, dtype=torch.float32) -> tuple[WorldModel, Config, dict]:
    """Load a checkpoint for use: (model in eval mode, config, state)."""
    path = resolve_checkpoint(spec)
    state = read_state(path)
    try:
        config = from_dict(state.get("config"), where=f"{path / 'state.json'}: config")
    except ConfigError as error:
        raise CheckpointError(str(error)) from None
    model = WorldModel(config.model)
    load_weights(model, path / "model.safetensors", dtype)
    return model.eval(), config, state


def load_weights(model: torch.nn.Module, weights_file: Path, dtype=torch.float32) -> None:
    try:
        weights = load_file(str(weights_file))
    except (OSError, SafetensorError, ValueError) as error:
        raise CheckpointError(f"{weights_file}: unreadable weights ({error})") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{weights_file}: weights do not match the config "
                              f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
    for name, tensor in weights.items():
        if tensor.shape != expected[name].shape:
            raise CheckpointError(f"{weights_file}: {name} has shape {tuple(tensor.shape)}, "
                                  f"config expects {tuple(expected[name].shape)}")
    model.load_state_dict({k: v.to(dtype) if v.is_floating_point() else v for k, v in weights.items()})


def load_optimizer_state(path: Path) -> dict:
    try:
        return torch.load(Path(path) / "optimizer.pt", weights_only=True)
    except Exception as error:  # torch raises many types for a truncated or foreign file
        raise CheckpointError(f"{Path(path) / 'optimizer.pt'}: unreadable optimizer state ({error})") from None
