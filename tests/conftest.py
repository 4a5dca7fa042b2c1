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
