"""examples/panda3d_host.py renders offscreen (Panda3D from PyPI, EGL or software), and the TV's
texture, read back from the graphics context after the upload, equals the runtime's frame for the
same actions: synchronously with scripted key events mapped through the bundle's bindings, and
asynchronously with a key held from the first frame. Without Panda3D the tests fail naming the
package; they never skip."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import vidgen_rt
from vidgen_rt.export import export_bundle

ROOT = Path(__file__).resolve().parents[1]
HOST = ROOT / "examples" / "panda3d_host.py"


@pytest.fixture(scope="module")
def host_module():
    if importlib.util.find_spec("panda3d") is None:
        pytest.fail("panda3d is not installed: pip install panda3d (scripts/setup.sh installs it with the test extra)")
    spec = importlib.util.spec_from_file_location("panda3d_host", HOST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bundle(tiny_run, tmp_path_factory):
    return export_bundle(tiny_run, tmp_path_factory.mktemp("panda3d") / "tiny.vgrt", batches=[1], quiet=True)


def run_host(bundle, tmp_path, *args) -> tuple[np.ndarray, int, str]:
    """Run the host offscreen; (texture read back, last frame index, stdout)."""
    texture = tmp_path / "tv.png"
    result = subprocess.run([sys.executable, HOST, bundle, "--offscreen", "--threads", "1", "--texture-out", texture,
                             *map(str, args)], capture_output=True, text=True, timeout=280)
    assert result.returncode == 0, result.stdout + result.stderr
    index = int(re.search(r"last frame index (\d+)", result.stdout).group(1))
    return np.asarray(Image.open(texture)), index, result.stdout


def replay(bundle, actions: list[int]) -> np.ndarray:
    stepper = vidgen_rt.open_stepper(bundle, "native", intra_op_threads=1)
    frame = stepper.reset()
    for action in actions:
        frame = stepper.step(action)
    return frame[0]


def test_glfw_key_names_map_to_panda3d_events(host_module):
    assert [host_module.panda_key(k) for k in ("W", "UP", "LEFT", "SPACE", "7", "F2", "LEFT_SHIFT", "KP_1")] == \
        ["w", "arrow_up", "arrow_left", "space", "7", "f2", "lshift", None]
    assert host_module.parse_key_script("w*2,-,arrow_left*3") == ["w", "w", None, "arrow_left", "arrow_left", "arrow_left"]


def test_synchronous_texture_is_the_runtime_frame_for_the_keys_pressed(host_module, bundle, tmp_path):
    scene = tmp_path / "scene.png"
    texture, index, stdout = run_host(bundle, tmp_path, "--frames", 24, "--keys", "w*8,arrow_left*6,d*6,-*4",
                                      "--out", scene)
    assert index == 24 and "24 display frames (synchronous), 25 frames uploaded" in stdout
    forward, turn_left, strafe_right, noop = 1, 3, 6, 0  # the maze bindings: W, LEFT, D; none held: default
    assert np.array_equal(texture, replay(bundle, [forward] * 8 + [turn_left] * 6 + [strafe_right] * 6 + [noop] * 4))
    shot = np.asarray(Image.open(scene).convert("RGB"))
    assert shot.shape == (600, 800, 3) and len(np.unique(shot.reshape(-1, 3), axis=0)) > 100, "a rendered scene"


def test_asynchronous_texture_is_the_runtime_frame_of_its_index(host_module, bundle, tmp_path):
    texture, index, stdout = run_host(bundle, tmp_path, "--async", "--frames", 40, "--keys", "w*40")
    assert "(asynchronous)" in stdout and index >= 1
    assert np.array_equal(texture, replay(bundle, [1] * index)), f"frame {index} of W held from the start"
