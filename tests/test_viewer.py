"""`vidgen play` and the embedding examples in real windows (the glfw wheel, Mesa llvmpipe) under
Xvfb: screenshots and per-frame traces compared with the runtime driven directly, scripted keys fed
through the viewer's key handler, the live (asynchronous) mode with its commands, a flow head's
temperature keys, bad input; and the input mapping on its own."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import CLI
from vidgen_rt.errors import ConfigError
from vidgen_rt.viewer.controls import (ActionKeys, command_keys, gamepad_actions, gamepad_choices, gamepad_inputs,
                                       motion_keys, parse_bindings, parse_key_script)

XVFB = ["xvfb-run", "-a", "-s", "-screen 0 1024x768x24"]
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MAZE_ACTIONS = {"names": ["noop", "forward", "backward", "turn_left", "turn_right", "strafe_left", "strafe_right"],
                "default": 0, "key_bindings": {"noop": [], "forward": ["W", "UP"], "backward": ["S", "DOWN"],
                                               "turn_left": ["Q", "LEFT"], "turn_right": ["E", "RIGHT"],
                                               "strafe_left": ["A"], "strafe_right": ["D"]}}


def run(args, env=None, timeout=300):
    assert shutil.which("xvfb-run"), "xvfb-run is missing (apt-get install xvfb)"
    return subprocess.run([*XVFB, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def maze_bundle(tmp_path_factory):
    """The shipped maze exported the way `vidgen play maze` does it: into the bundle cache."""
    cache = tmp_path_factory.mktemp("cache")
    result = run([*CLI, "play", "maze", "--frames", "1", "--no-vsync", "--threads", "1"],
                 env={"XDG_CACHE_HOME": str(cache)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "exporting maze" in result.stdout
    (bundle,) = (cache / "vidgen_rt" / "bundles").glob("maze-*.vgrt")
    return bundle


def direct_frames(bundle, actions):
    import vidgen_rt

    stream = vidgen_rt.open_stepper(bundle, "native", intra_op_threads=1)
    stream.reset()
    frames = [np.array(stream.step(a)[0]) for a in actions]
    stream.close()
    return frames


def sha1(frame) -> str:
    return hashlib.sha1(np.ascontiguousarray(frame).tobytes()).hexdigest()


def read_trace(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_scripted_play_screenshot_equals_the_runtimes_frame(maze_bundle, tmp_path):
    from vidgen_rt.generate import parse_action_script

    script = "forward*30\nturn_left*12\nforward*20\nstrafe_right*8\n"
    (tmp_path / "script.txt").write_text(script)
    shot, trace = tmp_path / "s.png", tmp_path / "trace.jsonl"
    result = run([*CLI, "play", maze_bundle, "--frames", "120", "--screenshot", shot, "--actions",
                  tmp_path / "script.txt", "--no-vsync", "--threads", "1", "--trace", trace])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "played 120 frames" in result.stdout
    actions = parse_action_script(str(tmp_path / "script.txt"), MAZE_ACTIONS["names"])
    actions = [actions[i % len(actions)] for i in range(120)]   # the script repeats
    frames = direct_frames(maze_bundle, actions)
    assert [t["action"] for t in read_trace(trace)] == actions
    assert [t["sha1"] for t in read_trace(trace)] == [sha1(f) for f in frames]
    image = np.asarray(Image.open(shot))
    assert image.shape == (512, 512, 3)                          # 64x64 at the default scale 8
    np.testing.assert_array_equal(image, np.repeat(np.repeat(frames[-1][..., :3], 8, 0), 8, 1))


def test_scripted_keys_give_the_same_frames_as_the_actions(maze_bundle, tmp_path):
    # Keys enter through the viewer's key handler (the one GLFW's key callback calls); the most
    # recently pressed held key wins, and with none held the world's default action (noop) applies.
    (tmp_path / "keys.txt").write_text("0 press W\n10 press LEFT\n16 release LEFT\n25 release W\n"
                                       "30 press D\n34 press H\n38 release D\n")
    expected = [1] * 10 + [3] * 6 + [1] * 9 + [0] * 5 + [6] * 8 + [0] * 2
    trace, shot = tmp_path / "trace.jsonl", tmp_path / "s.png"
    result = run([*CLI, "play", maze_bundle, "--frames", "40", "--key-script", tmp_path / "keys.txt", "--no-vsync",
                  "--threads", "1", "--trace", trace, "--screenshot", shot, "--size", "256x256"])
    assert result.returncode == 0, result.stderr[-2000:]
    frames = direct_frames(maze_bundle, expected)
    assert [t["action"] for t in read_trace(trace)] == expected
    assert [t["sha1"] for t in read_trace(trace)] == [sha1(f) for f in frames]
    image = np.asarray(Image.open(shot))                         # H turned the HUD on at frame 34
    assert image.shape == (256, 256, 3)
    assert not np.array_equal(image, np.repeat(np.repeat(frames[-1][..., :3], 4, 0), 4, 1))
    np.testing.assert_array_equal(image[200:], np.repeat(np.repeat(frames[-1][50:, :, :3], 4, 0), 4, 1))


def test_the_python_backend_plays_the_same_frames(maze_bundle, tmp_path):
    traces = {}
    for backend in ("native", "ort-python"):
        traces[backend] = tmp_path / f"{backend}.jsonl"
        result = run([*CLI, "play", maze_bundle, "--frames", "12", "--actions", "forward*6,turn_right*6",
                      "--backend", backend, "--no-vsync", "--threads", "1", "--trace", traces[backend]])
        assert result.returncode == 0, result.stderr[-2000:]
    assert read_trace(traces["native"]) == read_trace(traces["ort-python"])


def test_live_play_runs_its_commands(maze_bundle, tmp_path):
    # Asynchronous generation; walk, record, pause, single-step, rewind, reset, screenshot, quit.
    (tmp_path / "keys.txt").write_text("0 press W\n5 press F3\n60 press F3\n62 press P\n63 press N\n"
                                       "64 press BACKSPACE\n65 press R\n66 press P\n68 press F4\n70 press F2\n"
                                       "72 press RIGHT_BRACKET\n75 press ESCAPE\n")
    result = subprocess.run([*XVFB, *CLI, "play", maze_bundle, "--key-script", tmp_path / "keys.txt",
                             "--no-vsync", "--max-fps", "30", "--threads", "1"],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    head = json.loads((Path(maze_bundle) / "manifest.json").read_text())["head"]["kind"]
    warmer = "temperature: this world's head is deterministic (mse)" if head == "mse" else "temperature 1.1"
    for said in ("recording to", "recorded", "paused", "reset to the context frames", "post-processing",
                 "screenshot saved to", warmer, "played"):
        assert said in result.stdout, (said, result.stdout)
    assert "rewound" in result.stdout or "nothing to rewind" in result.stdout
    from vidgen_rt.media import read_video

    (video,) = tmp_path.glob("vidgen-*.mp4")
    assert len(read_video(video)) >= 2
    (shot,) = tmp_path.glob("vidgen-*.png")
    assert np.asarray(Image.open(shot)).std() > 5


def test_live_play_changes_a_flow_heads_temperature(tiny_flow_bundle, tmp_path):
    (tmp_path / "keys.txt").write_text("2 press RIGHT_BRACKET\n4 press F11\n6 press LEFT_BRACKET\n8 press F10\n"
                                       "9 press F10\n12 press ESCAPE\n")
    result = subprocess.run([*XVFB, *CLI, "play", tiny_flow_bundle, "--key-script", tmp_path / "keys.txt",
                             "--temperature", "0.5", "--seed", "3", "--sampling-steps", "1", "--hud",
                             "--no-vsync", "--max-fps", "30", "--threads", "1"],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    said = [line for line in result.stdout.splitlines() if line.startswith("temperature")]
    assert said == ["temperature 0.6", "temperature 0.7", "temperature 0.6", "temperature 0.5", "temperature 0.4"]


def test_the_controllers_temperature_reaches_the_stepper_within_its_range(tiny_flow_bundle):
    import vidgen_rt
    from vidgen_rt.viewer.controller import StreamController

    stepper = vidgen_rt.open_stepper(tiny_flow_bundle, "native", intra_op_threads=1, temperature=0.15)
    controller = StreamController(stepper, lockstep=True, temperature=0.15, sampling_steps=2)
    assert controller.change_temperature(-1) == pytest.approx(0.05)
    assert controller.change_temperature(-1) == 0.0 and stepper.sampling()["temperature"] == 0.0
    assert controller.change_temperature(+50) == 4.0 and stepper.sampling()["temperature"] == 4.0
    controller.close()


@pytest.mark.parametrize("example", ["glfw_host.py", "pygame_host.py"])
def test_examples_run_headlessly(maze_bundle, tmp_path, example):
    shot = tmp_path / "host.png"
    result = run([sys.executable, EXAMPLES / example, maze_bundle, "--frames", "300", "--screenshot", shot,
                  "--threads", "1"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "300 display frames" in result.stdout
    shown = int(result.stdout.split("display frames, ")[1].split()[0])
    assert shown >= 1
    image = np.asarray(Image.open(shot)).astype(int)
    assert image.shape == (480, 640, 3)
    centre, corner = image[200:280, 280:360], image[2, 2]
    assert np.abs(centre - corner).sum(axis=2).mean() > 30      # the generated view inside the host's scene


def test_bad_input_gives_a_clear_message(maze_bundle, tmp_path):
    missing = run([*CLI, "play", tmp_path / "nope.vgrt", "--frames", "2"])
    assert missing.returncode == 2 and "no such bundle" in missing.stderr and "Traceback" not in missing.stderr
    broken = tmp_path / "broken.vgrt"
    shutil.copytree(maze_bundle, broken)
    manifest = json.loads((broken / "manifest.json").read_text())
    manifest["actions"]["key_bindings"]["forward"] = ["WARP"]
    (broken / "manifest.json").write_text(json.dumps(manifest))
    bad_key = run([*CLI, "play", broken, "--frames", "2"])
    assert bad_key.returncode == 2 and "unknown key 'WARP'" in bad_key.stderr and "key_bindings.forward" in bad_key.stderr
    no_gl = subprocess.run([*CLI, "play", maze_bundle, "--frames", "2"], capture_output=True, text=True,
                           timeout=300, env={**os.environ, "DISPLAY": ":9137"})
    assert no_gl.returncode == 2 and "GLFW could not initialise" in no_gl.stderr and "Traceback" not in no_gl.stderr


def test_held_keys_resolve_to_the_latest_bound_key():
    keys = ActionKeys(parse_bindings(MAZE_ACTIONS))
    assert keys.action() == 0
    keys.press("W")
    keys.press("LEFT")
    assert keys.action() == 3
    keys.release("LEFT")
    assert keys.action() == 1
    keys.press("F1")                                    # not an action key
    assert keys.action() == 1
    keys.clear()
    keys.gamepad = gamepad_actions(gamepad_inputs({"dpad_up": False, "right_bumper": True}, {"left_y": -0.9}),
                                   gamepad_choices(MAZE_ACTIONS["names"], keys.bindings))
    assert keys.action() == 1 and keys.gamepad == [1, 6]  # stick forward first, bumper strafes


def test_motion_keys_steer_with_the_keys_the_world_leaves_free():
    keys = motion_keys(parse_bindings({"names": ["none", "jump"], "key_bindings": {"jump": ["Z"]}}))
    assert keys.action() == "still" and "Z" not in keys.bindings and keys.bindings["X"] == "zoom_out"
    keys.press("RIGHT")
    keys.press("UP")
    keys.press("Z")                                     # the world's jump key, not a zoom
    assert keys.action() == "up"
    keys.release("UP")
    assert keys.action() == "right"
    keys.release("RIGHT")
    assert keys.action() == "still"


def test_commands_yield_letters_that_the_world_binds():
    commands = command_keys(parse_bindings({"names": ["noop", "fire", "pause_game"],
                                            "key_bindings": {"fire": ["P"], "pause_game": ["H"]}}))
    assert "P" not in commands and commands["F5"] == "pause" and "H" not in commands and commands["F1"] == "hud"
    assert commands["N"] == "step" and commands["ESCAPE"] == "quit"
    assert commands["LEFT_BRACKET"] == commands["F10"] == "colder" and commands["RIGHT_BRACKET"] == "warmer"
    with pytest.raises(ConfigError, match="reserved"):
        parse_bindings({"names": ["a"], "key_bindings": {"a": ["ESCAPE"]}})
    with pytest.raises(ConfigError, match="already bound"):
        parse_bindings({"names": ["a", "b"], "key_bindings": {"a": ["X"], "b": ["X"]}})
    assert parse_key_script("3 press w # comment\n\n5 release W") == {3: [("W", True)], 5: [("W", False)]}
    with pytest.raises(ConfigError, match="line 1"):
        parse_key_script("press W")


def test_the_controller_plays_the_python_driver_in_lockstep_only(maze_bundle):
    import vidgen_rt
    from vidgen_rt.viewer.controller import StreamController

    stepper = vidgen_rt.open_stepper(maze_bundle, "ort-python", intra_op_threads=1)
    with pytest.raises(ConfigError, match="no asynchronous mode"):
        StreamController(stepper, lockstep=False)
    controller = StreamController(stepper, lockstep=True)
    controller.set_action(1)
    assert controller.poll() and controller.generated == 1 and controller.frame.shape[-1] == 4
    with pytest.raises(ConfigError, match="post-processing runs in the native runtime"):
        controller.cycle_postprocess()
    controller.close()
