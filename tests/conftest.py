"""Shared fixtures: a small recorded `maze` store and briefly trained `tiny` runs, built once per
test session because several suites read them. Under pytest-xdist the workers share them: the first
worker to need one builds it under a file lock in the session's common temporary folder, the others
wait and read it (suites only read these fixtures; a suite that changes a run copies it first)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock

from vidgen_rt.data.record import record_world

CLI = [sys.executable, "-m", "vidgen_rt.cli"]


def vidgen(*args, env=None, check=True, timeout=600):
    """Run the real command line; return the completed process."""
    result = subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"vidgen {args} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def built_once(tmp_path_factory, name: str, build) -> Path:
    """`build(path)` run by the first worker of the session that asks for `name`; every worker gets
    the path. The marker file is written last, so a build that failed is never read as done."""
    base = tmp_path_factory.getbasetemp()
    worker = os.environ.get("PYTEST_XDIST_WORKER")   # set in xdist workers, whose base is per worker
    shared = (base.parent if worker else base) / "shared"   # one folder per session
    shared.mkdir(exist_ok=True)
    path, done = shared / name, shared / f"{name}.done"
    with FileLock(str(shared / f"{name}.lock")):
        if not done.exists():
            build(path)
            done.touch()
    return path


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory):
    return built_once(tmp_path_factory, "maze", lambda path: record_world(
        "maze", path, policy="explore,random", episodes=6, frames=48, height=32, width=32, quiet=True))


@pytest.fixture(scope="session")
def tiny_run(tiny_store, tmp_path_factory):
    """A tiny world trained briefly: enough for commands to run on, not to look good."""
    return built_once(tmp_path_factory, "tiny", lambda run: vidgen(
        "train", "--preset", "tiny", "--data", tiny_store, "--out", run, "--quiet",
        "--set", "train.tokenizer_steps=30", "--set", "train.dynamics_steps=30"))


@pytest.fixture(scope="session")
def tiny_flow_run(tiny_store, tmp_path_factory):
    """A tiny world with a flow-matching head (model.head=flow_conv), trained briefly."""
    return built_once(tmp_path_factory, "tiny_flow", lambda run: vidgen(
        "train", "--preset", "tiny", "--data", tiny_store, "--out", run, "--quiet",
        "--set", "model.head=flow_conv", "--set", "model.sampling_steps=2",
        "--set", "train.tokenizer_steps=30", "--set", "train.dynamics_steps=30"))


@pytest.fixture(scope="session")
def tiny_flow_bundle(tiny_flow_run, tmp_path_factory):
    """The tiny flow world exported for batch 1 and 4: graphs encode/step/noise/sample/decode and a
    manifest `head` of kind flow_conv with sampling_steps 2 (docs/architecture.md §4)."""
    from vidgen_rt.export import export_bundle

    return built_once(tmp_path_factory, "tiny_flow.vgrt", lambda path: export_bundle(
        tiny_flow_run, path, batches=[1, 4], quiet=True))


@pytest.fixture(scope="session")
def tiny_bundle(tiny_run, tmp_path_factory):
    """The tiny mse world exported for batch 1 and 2, shared by the suites that only read it."""
    from vidgen_rt.export import export_bundle

    return built_once(tmp_path_factory, "tiny.vgrt", lambda path: export_bundle(
        tiny_run, path, batches=[1, 2], quiet=True))
