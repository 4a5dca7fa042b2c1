"""VR mode: the panorama reprojection shader (offscreen, EGL + Mesa) against a numpy model of the same
projection, and `vidgen play --vr` on a tiny panorama world (maze360, 32x64) trained and exported
here, in a real window under Xvfb."""

import hashlib
import json
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from conftest import CLI, vidgen
from test_embed import run_gl

XVFB = ["xvfb-run", "-a", "-s", "-screen 0 1024x768x24"]


def reproject(panorama: np.ndarray, width: int, height: int, yaw: float, pitch: float, fov: float) -> np.ndarray:
    """What the shader should show, nearest sampling: (height, width, channels), top row first."""
    rows, cols = panorama.shape[:2]
    half_x = np.tan(np.radians(fov) / 2)
    half_y = half_x * height / width
    x = ((np.arange(width) + 0.5) / width * 2 - 1) * half_x
    y = (1 - (np.arange(height) + 0.5) / height * 2) * half_y
    x, y = np.meshgrid(x, y)                                   # (height, width)
    z = np.ones_like(x)
    p, w = np.radians(pitch), np.radians(yaw)
    y, z = y * np.cos(p) + z * np.sin(p), z * np.cos(p) - y * np.sin(p)
    x, z = x * np.cos(w) + z * np.sin(w), z * np.cos(w) - x * np.sin(w)
    u = 0.5 + np.arctan2(x, z) / (2 * np.pi)
    v = 0.5 - np.arctan2(y, np.hypot(x, z)) / np.pi
    col = np.floor(u * cols).astype(int) % cols
    row = np.clip(np.floor(v * rows).astype(int), 0, rows - 1)
    return panorama[row, col]


def synthetic_panorama(rows: int = 64, cols: int = 128) -> np.ndarray:
    """Red = 2 x column (longitude), blue = 4 x row (latitude): each texel names itself."""
    pano = np.zeros((rows, cols, 4), np.uint8)
    pano[..., 0] = (np.arange(cols) * 2)[None, :]
    pano[..., 1] = 128
    pano[..., 2] = (np.arange(rows) * 4)[:, None]
    pano[..., 3] = 255
    return pano


def test_reprojection_matches_the_expected_view_at_four_headings(tmp_path):
    pano = synthetic_panorama()
    np.save(tmp_path / "pano.npy", pano)
    out = run_gl(tmp_path, f"""
        from vidgen_rt.viewer.embed import PanoramaRenderer
        ctx = OffscreenContext(96, 64)
        renderer = PanoramaRenderer(64, 128, filter="nearest")
        renderer.upload(np.load({str(tmp_path / "pano.npy")!r}))   # one frame, never replaced
        for yaw in (0, 90, 180, 270):
            renderer.draw(0, 0, 96, 64, yaw=yaw, pitch=0, fov=90)
            out[f"yaw{{yaw}}"] = ctx.read_pixels()
        renderer.draw(0, 0, 96, 64, yaw=0, pitch=45, fov=90)
        out["pitch45"] = ctx.read_pixels()
    """)
    centre_columns = {0: {63, 64}, 90: {95, 96}, 180: {127, 0}, 270: {31, 32}}
    for yaw, columns in centre_columns.items():
        view = out[f"yaw{yaw}"]
        assert view[32, 48, 0] // 2 in columns, (yaw, view[32, 48])
        assert view[32, 48, 2] // 4 in (31, 32)                   # the horizon row
        expected = reproject(pano[..., :3], 96, 64, yaw, 0, 90)
        column_error = np.abs(view[..., 0].astype(int) // 2 - expected[..., 0].astype(int) // 2)
        column_error = np.minimum(column_error, 128 - column_error)  # longitude wraps
        row_error = np.abs(view[..., 2].astype(int) - expected[..., 2].astype(int)) // 4
        assert column_error.max() <= 1 and row_error.max() <= 1
        assert (column_error + row_error > 0).mean() < 0.02          # texel-boundary rounding only
    assert out["pitch45"][32, 48, 2] // 4 in (15, 16)                 # looking up 45 degrees: row 16
    assert not np.array_equal(out["yaw0"], out["yaw90"])             # head turned, same frame


@pytest.fixture(scope="module")
def panorama_bundle(tmp_path_factory):
    """A tiny maze360 world (32x64 panoramas) trained for a few steps and exported."""
    root = tmp_path_factory.mktemp("maze360")
    vidgen("record", "maze360", "--policy", "explore,random", "--episodes", "6", "--frames", "48",
           "--size", "64x32", "-o", root / "data")
    vidgen("train", "--preset", "tiny", "--data", root / "data", "--out", root / "run", "--quiet",
           "--set", "train.tokenizer_steps=20", "--set", "train.dynamics_steps=20",
           "--set", "model.frame_height=32", "--set", "model.frame_width=64")
    vidgen("export", root / "run", "-o", root / "pano.vgrt")
    return root / "pano.vgrt"


def test_maze360_world_renders_panoramas():
    from vidgen_rt.worlds import make_world

    world = make_world("maze360", seed=3, height=32, width=64)
    first = world.reset()
    assert first.shape == (32, 64, 3) and world.action_names[3] == "turn_left"
    turned = world.step(3)
    # Turning shifts the panorama sideways: some column shift of the new frame matches the old well.
    errors = [np.abs(np.roll(turned.astype(int), s, axis=1) - first).mean() for s in range(-8, 9)]
    assert min(errors) < 0.5 * errors[8] and world.render_guides()["depth"].shape == (32, 64)


@pytest.mark.timeout(600)
def test_play_vr_reprojects_the_generated_panorama_at_the_pose(panorama_bundle, tmp_path):
    import vidgen_rt

    assert shutil.which("xvfb-run"), "xvfb-run is missing (apt-get install xvfb)"
    poses = [(i * 12.0 - 90.0, (i % 7) - 3.0) for i in range(30)]
    (tmp_path / "pose.txt").write_text("".join(f"{y} {p}\n" for y, p in poses))
    shot, trace = tmp_path / "vr.png", tmp_path / "trace.jsonl"
    result = subprocess.run([*XVFB, *CLI, "play", str(panorama_bundle), "--vr", "--frames", "30", "--pose",
                             str(tmp_path / "pose.txt"), "--screenshot", str(shot), "--size", "192x128",
                             "--filter", "nearest", "--no-vsync", "--threads", "1", "--trace", str(trace)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    stream = vidgen_rt.open_stepper(panorama_bundle, "native", intra_op_threads=1)
    stream.reset()
    for line in trace.read_text().splitlines():
        frame = stream.step(json.loads(line)["action"])[0]
        assert json.loads(line)["sha1"] == hashlib.sha1(np.ascontiguousarray(frame).tobytes()).hexdigest()
    expected = reproject(frame[..., :3], 192, 128, *poses[-1], fov=90)
    image = np.asarray(Image.open(shot))
    assert image.shape == (128, 192, 3)
    assert (np.abs(image.astype(int) - expected).max(axis=2) > 8).mean() < 0.03

    stereo = subprocess.run([*XVFB, *CLI, "play", str(panorama_bundle), "--vr", "--stereo", "--frames", "10",
                             "--pose", str(tmp_path / "pose.txt"), "--no-vsync", "--threads", "1"],
                            capture_output=True, text=True, timeout=300)
    assert stereo.returncode == 0 and "played 10 frames" in stereo.stdout, stereo.stderr[-2000:]


def test_play_vr_refuses_a_flat_world(tmp_path):
    from vidgen_rt.export import export_bundle

    flat = export_bundle("maze", tmp_path / "maze.vgrt", quiet=True)
    result = subprocess.run([*XVFB, *CLI, "play", str(flat), "--vr", "--frames", "2"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "equirectangular" in result.stderr and "Traceback" not in result.stderr
