"""The embed API drawn for real, offscreen: an EGL surfaceless Mesa (llvmpipe) context with a
framebuffer object, no X server. PyOpenGL picks its platform at first import, so each check runs in
a fresh interpreter with PYOPENGL_PLATFORM=egl and reports arrays back through an .npz file."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

PRELUDE = """
import json, os, sys
import numpy as np
from OpenGL import GL as gl
from vidgen_rt.viewer.offscreen import OffscreenContext
from vidgen_rt.viewer.glutil import state_snapshot, compile_program
out = {}
"""

# A host that leaves unusual state everywhere the renderer will touch it.
HOST_STATE = """
host_program = compile_program("#version 330 core\\nvoid main() { gl_Position = vec4(0.0); }",
                                "#version 330 core\\nout vec4 c;\\nvoid main() { c = vec4(1.0); }")
gl.glUseProgram(host_program)
host_vao = gl.glGenVertexArrays(1); gl.glBindVertexArray(host_vao)
host_vbo = gl.glGenBuffers(1); gl.glBindBuffer(gl.GL_ARRAY_BUFFER, host_vbo)
host_pbo = gl.glGenBuffers(1); gl.glBindBuffer(gl.GL_PIXEL_UNPACK_BUFFER, host_pbo)
gl.glBufferData(gl.GL_PIXEL_UNPACK_BUFFER, 64, None, gl.GL_STREAM_DRAW)
gl.glActiveTexture(gl.GL_TEXTURE0); host_texture = gl.glGenTextures(1); gl.glBindTexture(gl.GL_TEXTURE_2D, host_texture)
host_sampler = gl.glGenSamplers(1); gl.glBindSampler(0, host_sampler)
gl.glActiveTexture(gl.GL_TEXTURE3)
for cap in (gl.GL_BLEND, gl.GL_DEPTH_TEST, gl.GL_SCISSOR_TEST, gl.GL_CULL_FACE):
    gl.glEnable(cap)
gl.glBlendFuncSeparate(gl.GL_ONE, gl.GL_ONE, gl.GL_ZERO, gl.GL_ONE)
gl.glPixelStorei(gl.GL_UNPACK_ALIGNMENT, 8); gl.glPixelStorei(gl.GL_UNPACK_ROW_LENGTH, 7)
gl.glViewport(3, 5, 17, 19); gl.glScissor(1, 2, 3, 4); gl.glClearColor(0.25, 0.5, 0.75, 1.0)
"""


def run_gl(tmp_path, *parts: str) -> dict:
    """Run the code `parts` (each dedented) after PRELUDE; returns what it stored in `out`."""
    script = tmp_path / "check.py"
    script.write_text(PRELUDE + "".join(textwrap.dedent(p) for p in parts) + "\nnp.savez(sys.argv[1], **out)\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PYOPENGL_PLATFORM"] = "egl"
    result = subprocess.run([sys.executable, str(script), str(tmp_path / "out.npz")], capture_output=True,
                            text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(np.load(tmp_path / "out.npz"))


def test_nearest_scaling_is_exact_and_letterboxed(tmp_path):
    out = run_gl(tmp_path, """
        from vidgen_rt.viewer.embed import FrameRenderer
        ctx = OffscreenContext(320, 160)
        out["renderer_name"] = np.array(ctx.renderer)
        frame = np.random.default_rng(0).integers(0, 256, (40, 40, 4), dtype=np.uint8)
        renderer = FrameRenderer(40, 40)
        renderer.upload(frame)
        gl.glClearColor(0, 0, 0, 1); gl.glClear(gl.GL_COLOR_BUFFER_BIT)
        out["rect"] = np.array(renderer.draw(0, 0, 320, 160, background=(0.0, 1.0, 0.0, 1.0)))
        out["pixels"], out["frame"] = ctx.read_pixels(), frame
        rgb = np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8)
        renderer.upload(rgb)                       # RGB frames stream too
        renderer.draw(0, 0, 40, 40, keep_aspect=False)
        out["rgb"], out["rgb_pixels"] = rgb, ctx.read_pixels()[-40:, :40]
    """)
    assert "llvmpipe" in str(out["renderer_name"])  # really drawn by Mesa's software rasteriser
    x, y, w, h = out["rect"]
    assert (x, y, w, h) == (80, 0, 160, 160)      # aspect kept, centred
    pixels = out["pixels"]
    expected = np.repeat(np.repeat(out["frame"][..., :3], 4, axis=0), 4, axis=1)
    np.testing.assert_array_equal(pixels[:, 80:240], expected)
    assert (pixels[:, :80] == [0, 255, 0]).all() and (pixels[:, 240:] == [0, 255, 0]).all()  # bars
    np.testing.assert_array_equal(out["rgb_pixels"], out["rgb"])


def test_linear_filtering_blends_neighbours(tmp_path):
    out = run_gl(tmp_path, """
        from vidgen_rt.viewer.embed import FrameRenderer
        ctx = OffscreenContext(64, 64)
        frame = np.zeros((2, 2, 4), np.uint8); frame[:, 1] = 255
        renderer = FrameRenderer(2, 2, filter="linear")
        renderer.upload(frame)
        renderer.draw(0, 0, 64, 64)
        out["pixels"] = ctx.read_pixels()
    """)
    row = out["pixels"][32, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255 and 100 < row[32] < 155 and (np.diff(row) >= 0).all()


def test_renderers_restore_the_host_gl_state(tmp_path):
    out = run_gl(tmp_path, """
        from vidgen_rt.viewer.embed import FrameRenderer, PanoramaRenderer
        from vidgen_rt.viewer.hud import Hud
        ctx = OffscreenContext(128, 64)
    """, HOST_STATE, """
        before = state_snapshot(0)
        flat = FrameRenderer(16, 16)
        flat.upload(np.full((16, 16, 4), 200, np.uint8))
        flat.draw(0, 0, 128, 64, background=(0, 0, 1, 1))
        flat.filter = "linear"
        panorama = PanoramaRenderer(16, 32)
        panorama.upload(np.full((16, 32, 4), 90, np.uint8))
        panorama.draw(0, 0, 128, 64, yaw=30, pitch=10)
        panorama.draw_stereo(0, 0, 128, 64, yaw=-45)
        Hud().draw(128, 64, ["FPS 60.0", "ACTION FORWARD"], graphs=[([10.0, 20.0, 15.0], (0, 1, 0))])
        after = state_snapshot(0)
        out["before"], out["after"] = np.array(json.dumps(before)), np.array(json.dumps(after))
        out["error"] = np.array(gl.glGetError())
    """)
    before, after = json.loads(str(out["before"])), json.loads(str(out["after"]))
    assert before["active_texture"] != before["texture_2d"] and before["blend"] and before["viewport"] == [3, 5, 17, 19]
    assert after == before, {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    assert int(out["error"]) == 0


def test_the_embed_renderer_shows_a_streams_newest_frame(tmp_path, maze_bundle):
    out = run_gl(tmp_path, f"""
        import time
        import vidgen_rt
        from vidgen_rt.viewer.embed import FrameRenderer
        ctx = OffscreenContext(64, 64)
        stream = vidgen_rt.open_stepper({str(maze_bundle)!r}, "native", intra_op_threads=1)
        renderer = FrameRenderer(64, 64)
        stream.reset()
        stream.push_action(1)  # queued before the generation thread starts: its first step takes it
        stream.start()
        deadline = time.monotonic() + 60
        while not renderer.update(stream) and time.monotonic() < deadline:
            time.sleep(0.005)
        stream.stop()
        renderer.draw(0, 0, 64, 64)
        out["pixels"], out["index"] = ctx.read_pixels(), np.array(renderer.frame_index)
        reference = vidgen_rt.open_stepper(stream.runtime, "native")
        reference.reset()
        for _ in range(renderer.frame_index):
            frame = reference.step(1)
        out["frame"] = np.array(frame[0])
    """)
    assert int(out["index"]) >= 1
    np.testing.assert_array_equal(out["pixels"], out["frame"][..., :3])


@pytest.fixture(scope="module")
def maze_bundle(tmp_path_factory):
    from vidgen_rt.export import export_bundle

    return export_bundle("maze", tmp_path_factory.mktemp("bundle") / "maze.vgrt", quiet=True)
