"""Shared fixtures: a small recorded `maze` store and a briefly trained `tiny` run, built once per
test session because several suites read them."""

import subprocess
import sys

import pytest

from vidgen_rt.data.record import record_world

CLI = [sys.executable, "-m", "vidgen_rt.cli"]


def vidgen(*args, env=None, check=True, timeout=600):
    """Run the real command line; return the completed process."""
    result = subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"vidgen {args} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "maze"
    record_world("maze", path, policy="explore,random", episodes=6, frames=48, height=32, width=32, quiet=True)
    return path


@pytest.fixture(scope="session")
def tiny_run(tiny_store, tmp_path_factory):
    """A tiny world trained briefly: enough for commands to run on, not to look good."""
    run = tmp_path_factory.mktemp("runs") / "tiny"
    vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", run, "--quiet",
           "--set", "train.tokenizer_steps=30", "--set", "train.dynamics_steps=30")
    return run


@pytest.fixture(scope="session")
def tiny_flow_run(tiny_store, tmp_path_factory):
    """A tiny world with a flow-matching head (model.head=flow_conv), trained briefly."""
    run = tmp_path_factory.mktemp("runs") / "tiny_flow"
    vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", run, "--quiet",
           "--set", "model.head=flow_conv", "--set", "model.sampling_steps=2",
           "--set", "train.tokenizer_steps=30", "--set", "train.dynamics_steps=30")
    return run


@pytest.fixture(scope="session")
def tiny_flow_bundle(tiny_flow_run, tmp_path_factory):
    """The tiny flow world exported for batch 1 and 4: graphs encode/step/noise/sample/decode and a
    manifest `head` of kind flow_conv with sampling_steps 2 (docs/architecture.md §4)."""
    from vidgen_rt.export import export_bundle

    return export_bundle(tiny_flow_run, tmp_path_factory.mktemp("bundles") / "tiny_flow.vgrt", batches=[1, 4],
                         quiet=True)
