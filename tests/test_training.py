"""Training on `tiny`: the loss falls, a SIGKILLed run resumes onto the same losses, DDP ranks agree,
and bad input fails with a clear message without leaving half-written output."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import CLI, vidgen as _vidgen
from vidgen_rt.errors import ConfigError
from vidgen_rt.model.world_model import WorldModel
from vidgen_rt.train.checkpoint import load_checkpoint
from vidgen_rt.train.run_setup import load_matching_weights

QUICK = ["--set", "train.tokenizer_steps=40", "--set", "train.dynamics_steps=60",
         "--set", "train.checkpoint_every=10", "--set", "train.log_every=1", "--set", "train.eval_every=1000"]


def _curve(run: Path, stage: str, key: str) -> list[float]:
    entries = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    return [e[key] for e in entries if e["stage"] == stage and key in e]


def _losses(run: Path) -> list[tuple]:
    entries = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    return [(e["stage"], e["step"], e["loss"]) for e in entries if "loss" in e]


def test_training_reduces_the_loss(tiny_store, tmp_path):
    run = tmp_path / "run"
    _vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", run, "--quiet")
    # dynamics starts at the "repeat the last frame" baseline (zero-initialised head), so a steady
    # fall of its teacher-forced loss is learning the world's motion
    for stage, key, factor in (("tokenizer", "loss", 0.5), ("dynamics", "tf_loss", 0.85)):
        values = _curve(run, stage, key)
        first, last = sum(values[:5]) / 5, sum(values[-5:]) / 5
        assert last < factor * first, f"{stage} {key} did not fall enough: {first:.5f} -> {last:.5f}"
    state = json.loads((run / json.loads((run / "latest.json").read_text())["checkpoint"] / "state.json").read_text())
    assert state["completed"] == ["tokenizer", "dynamics"]
    assert state["world"] == "maze" and state["action_names"][1] == "forward"


def test_resume_after_sigkill_reproduces_the_losses(tiny_store, tmp_path):
    reference = tmp_path / "reference"
    _vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", reference, "--quiet", *QUICK)

    killed = tmp_path / "killed"
    process = subprocess.Popen([*CLI, "train", "--preset", "tiny", "--data", str(tiny_store), "--out", str(killed),
                                "--quiet", *QUICK], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        pointer = killed / "latest.json"
        if pointer.exists() and "dynamics-" in pointer.read_text():
            break  # the first mid-dynamics checkpoint exists: kill between it and the next
        time.sleep(0.005)
    assert process.poll() is None, "training finished before it could be killed; make the run longer"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    interrupted = _losses(killed)
    assert interrupted[-1][0] == "dynamics" and interrupted[-1][1] < 59

    _vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", killed, "--quiet", "--resume", *QUICK)
    assert _losses(killed) == _losses(reference)


def test_ddp_two_processes_end_with_identical_weights(tiny_store, tmp_path):
    run = tmp_path / "ddp"
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([str(torchrun), "--nproc_per_node=2", "--master_port=29517", "-m", "vidgen_rt.cli",
                             "train", "--preset", "tiny", "--data", str(tiny_store), "--out", str(run), "--quiet",
                             "--set", "train.tokenizer_steps=10", "--set", "train.dynamics_steps=10"],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = run / json.loads((run / "latest.json").read_text())["checkpoint"]
    ddp = json.loads((checkpoint / "state.json").read_text())["ddp"]
    assert ddp["world_size"] == 2 and ddp["weights_identical"] is True


def test_unknown_preset_and_config_key_fail_cleanly(tiny_store, tmp_path):
    result = _vidgen("train", "--preset", "huge", "--data", tiny_store, "--out", tmp_path / "a", check=False)
    assert result.returncode == 2 and "unknown preset 'huge'" in result.stderr
    result = _vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", tmp_path / "b",
                     "--set", "model.depth=3", check=False)
    assert result.returncode == 2 and "unknown config key model.depth" in result.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_empty_or_missing_dataset_fails_cleanly(tmp_path):
    from vidgen_rt.data.store import EpisodeStore
    empty = tmp_path / "empty"
    with EpisodeStore.create(empty, 32, 32, action_names=["noop"]):
        pass
    for data in (empty, tmp_path / "missing"):
        result = _vidgen("train", "--preset", "tiny", "--data", data, "--out", tmp_path / "run", check=False)
        assert result.returncode == 2, result.stderr
        assert str(data.name) in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "run").exists()


def test_missing_and_corrupt_checkpoints_fail_cleanly(tiny_store, tmp_path):
    result = _vidgen("generate", tmp_path / "nothing", "--frames", "4", "-o", tmp_path / "x.mp4", check=False)
    assert result.returncode == 2 and "no such checkpoint" in result.stderr
    run = tmp_path / "run"
    _vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", run, "--quiet",
            "--set", "train.tokenizer_steps=2", "--set", "train.dynamics_steps=2")
    checkpoint = run / json.loads((run / "latest.json").read_text())["checkpoint"]
    weights = checkpoint / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    result = _vidgen("eval", run, "--json", tmp_path / "e.json", check=False)
    assert result.returncode == 2 and "model.safetensors" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "e.json").exists()
    (checkpoint / "state.json").write_text("{not json")
    result = _vidgen("generate", run, "--frames", "4", "-o", tmp_path / "y.mp4", check=False)
    assert result.returncode == 2 and "state.json" in result.stderr
    assert not (tmp_path / "y.mp4").exists()


def test_store_that_does_not_fit_the_preset_is_refused(tiny_store, tmp_path):
    result = _vidgen("train", "--preset", "small", "--data", tiny_store, "--out", tmp_path / "run", check=False)
    assert result.returncode == 2 and "frames are 32x32" in result.stderr and "expects 64x64" in result.stderr
    assert not (tmp_path / "run").exists()


def test_warm_start_across_heads_keeps_the_shared_weights(tiny_run, tiny_store, tmp_path):
    """--init-from an mse world into a flow head: tokenizer and transformer carry over, the head
    parameters start fresh, and a model that differs outside the head is refused."""
    source, config, _ = load_checkpoint(tiny_run)
    flow = WorldModel(dataclasses.replace(config.model, head="flow_mlp"))
    fresh = load_matching_weights(flow, source, "tiny", head_changes=True)
    assert fresh and all(name.startswith(("dynamics.sampler.", "dynamics.current_in.")) for name in fresh)
    theirs = source.state_dict()
    for name, tensor in flow.state_dict().items():
        if name not in fresh:
            assert torch.equal(tensor, theirs[name]), name
    told_noise = WorldModel(dataclasses.replace(config.model, context_noise_embedding=True))
    assert {name.split(".")[1] for name in load_matching_weights(told_noise, source, "tiny", head_changes=True)} \
        == {"noise_embedding"}
    wider = WorldModel(dataclasses.replace(config.model, head="flow_mlp", mlp_ratio=config.model.mlp_ratio * 2))
    with pytest.raises(ConfigError, match="only the head may change"):
        load_matching_weights(wider, source, "tiny", head_changes=True)

    run = tmp_path / "flow"
    _vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", run, "--quiet", "--stage", "dynamics",
            "--init-from", tiny_run, "--set", "model.head=flow_mlp", "--set", "train.dynamics_steps=2",
            "--set", "train.tokenizer_steps=30")
    assert json.loads((run / "config.json").read_text())["model"]["head"] == "flow_mlp"
    told = _vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", tmp_path / "told", "--stage",
                   "dynamics", "--init-from", run, "--set", "model.head=flow_mlp",
                   "--set", "model.context_noise_embedding=true", "--set", "train.dynamics_steps=2",
                   "--set", "train.tokenizer_steps=30")
    assert "model.context_noise_embedding False -> True" in told.stdout


def test_a_budget_the_source_already_spent_is_refused_before_training(tiny_run, tiny_store, tmp_path):
    """train.max_minutes counts an --init-from source's minutes: a budget they already exceed would
    stop the run before its first step, so it fails at once and says what to set."""
    spent = json.loads((tiny_run / json.loads((tiny_run / "latest.json").read_text())["checkpoint"]
                        / "state.json").read_text())["train_seconds"] / 60
    result = _vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", tmp_path / "run", "--stage",
                     "dynamics", "--init-from", tiny_run, "--set", f"train.max_minutes={spent / 2:.6f}",
                     check=False)
    assert result.returncode != 0 and "counts them too" in result.stderr, result.stderr[-500:]
    assert not (tmp_path / "run").exists()
