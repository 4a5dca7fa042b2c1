"""Small OpenGL helpers shared by the renderers: compiling a program and saving / restoring the GL
state a renderer touches, so that it can draw inside a host's frame without disturbing the host.

`saved_state(unit)` records every piece of state the renderers change (program, vertex array, array
buffer, pixel unpack buffer, active texture unit and the 2D texture and sampler bound on `unit`,
viewport, scissor box, clear colour, the blend / depth / scissor / stencil / cull enables, blend
function, unpack alignment / row length / skips) and puts it back on exit, even after an error.
`state_snapshot()` returns the same values as a dict, which the tests compare before and after.
"""

from __future__ import annotations

import contextlib

import numpy as np
from OpenGL import GL as gl
from OpenGL.GL import shaders

from vidgen_rt.errors import VidgenError

CAPABILITIES = {"blend": gl.GL_BLEND, "depth_test": gl.GL_DEPTH_TEST, "scissor_test": gl.GL_SCISSOR_TEST,
                "stencil_test": gl.GL_STENCIL_TEST, "cull_face": gl.GL_CULL_FACE}
UNPACK = {"unpack_alignment": gl.GL_UNPACK_ALIGNMENT, "unpack_row_length": gl.GL_UNPACK_ROW_LENGTH,
          "unpack_skip_rows": gl.GL_UNPACK_SKIP_ROWS, "unpack_skip_pixels": gl.GL_UNPACK_SKIP_PIXELS}
BINDINGS = {"program": gl.GL_CURRENT_PROGRAM, "vertex_array": gl.GL_VERTEX_ARRAY_BINDING,
            "array_buffer": gl.GL_ARRAY_BUFFER_BINDING, "pixel_unpack_buffer": gl.GL_PIXEL_UNPACK_BUFFER_BINDING,
            "active_texture": gl.GL_ACTIVE_TEXTURE, "blend_src_rgb": gl.GL_BLEND_SRC_RGB,
            "blend_dst_rgb": gl.GL_BLEND_DST_RGB, "blend_src_alpha": gl.GL_BLEND_SRC_ALPHA,
            "blend_dst_alpha": gl.GL_BLEND_DST_ALPHA}


def compile_program(vertex: str, fragment: str) -> int:
    try:
        return shaders.compileProgram(shaders.compileShader(vertex, gl.GL_VERTEX_SHADER),
                                      shaders.compileShader(fragment, gl.GL_FRAGMENT_SHADER), validate=False)
    except (RuntimeError, shaders.ShaderCompilationError) as error:
        raise VidgenError(f"OpenGL shader failed to build: {str(error)[:500]}") from None


def _integer(name) -> int:
    return int(np.asarray(gl.glGetIntegerv(name)).reshape(-1)[0])


def state_snapshot(unit: int = 0) -> dict:
    """The GL state the renderers touch, as plain Python values (texture/sampler of `unit`)."""
    state = {key: _integer(name) for key, name in {**BINDINGS, **UNPACK}.items()}
    state.update({key: bool(gl.glIsEnabled(cap)) for key, cap in CAPABILITIES.items()})
    state["viewport"] = tuple(int(v) for v in np.asarray(gl.glGetIntegerv(gl.GL_VIEWPORT)).reshape(-1))
    state["scissor_box"] = tuple(int(v) for v in np.asarray(gl.glGetIntegerv(gl.GL_SCISSOR_BOX)).reshape(-1))
    state["clear_color"] = tuple(float(v) for v in np.asarray(gl.glGetFloatv(gl.GL_COLOR_CLEAR_VALUE)).reshape(-1))
    gl.glActiveTexture(gl.GL_TEXTURE0 + unit)
    state["texture_2d"] = _integer(gl.GL_TEXTURE_BINDING_2D)
    state["sampler"] = _integer(gl.GL_SAMPLER_BINDING)
    gl.glActiveTexture(state["active_texture"])
    return state


def _restore(state: dict, unit: int) -> None:
    gl.glActiveTexture(gl.GL_TEXTURE0 + unit)
    gl.glBindTexture(gl.GL_TEXTURE_2D, state["texture_2d"])
    gl.glBindSampler(unit, state["sampler"])
    gl.glActiveTexture(state["active_texture"])
    gl.glUseProgram(state["program"])
    gl.glBindVertexArray(state["vertex_array"])
    gl.glBindBuffer(gl.GL_ARRAY_BUFFER, state["array_buffer"])
    gl.glBindBuffer(gl.GL_PIXEL_UNPACK_BUFFER, state["pixel_unpack_buffer"])
    for key, name in UNPACK.items():
        gl.glPixelStorei(name, state[key])
    for key, cap in CAPABILITIES.items():
        (gl.glEnable if state[key] else gl.glDisable)(cap)
    gl.glBlendFuncSeparate(state["blend_src_rgb"], state["blend_dst_rgb"], state["blend_src_alpha"],
                           state["blend_dst_alpha"])
    gl.glViewport(*state["viewport"])
    gl.glScissor(*state["scissor_box"])
    gl.glClearColor(*state["clear_color"])


@contextlib.contextmanager
def saved_state(unit: int = 0):
    """Run a block with a neutral 2D-drawing state (no blend/depth/scissor/stencil/cull, no sampler
    object on `unit`, no pixel unpack buffer, tightly packed unpacking) and restore the caller's state afterwards."""
    state = state_snapshot(unit)
    try:
        for cap in CAPABILITIES.values():
            gl.glDisable(cap)
        gl.glActiveTexture(gl.GL_TEXTURE0 + unit)
        gl.glBindSampler(unit, 0)
        gl.glBindBuffer(gl.GL_PIXEL_UNPACK_BUFFER, 0)  # else texture uploads read from the host's buffer
        gl.glPixelStorei(gl.GL_UNPACK_ALIGNMENT, 1)
        for name in (gl.GL_UNPACK_ROW_LENGTH, gl.GL_UNPACK_SKIP_ROWS, gl.GL_UNPACK_SKIP_PIXELS):
            gl.glPixelStorei(name, 0)
        yield
    finally:
        _restore(state, unit)


def fit_rect(x: int, y: int, width: int, height: int, aspect: float) -> tuple[int, int, int, int]:
    """The largest rectangle of `aspect` (width / height) centred in (x, y, width, height), in
    whole pixels."""
    if width / max(height, 1) > aspect:
        fitted_w, fitted_h = max(1, round(height * aspect)), height
    else:
        fitted_w, fitted_h = width, max(1, round(width / aspect))
    return x + (width - fitted_w) // 2, y + (height - fitted_h) // 2, fitted_w, fitted_h


def read_framebuffer(width: int, height: int) -> np.ndarray:
    """The bound read framebuffer's (0, 0, width, height) as uint8 (height, width, 3), top row first."""
    previous = _integer(gl.GL_PACK_ALIGNMENT)
    gl.glPixelStorei(gl.GL_PACK_ALIGNMENT, 1)
    data = gl.glReadPixels(0, 0, width, height, gl.GL_RGB, gl.GL_UNSIGNED_BYTE)
    gl.glPixelStorei(gl.GL_PACK_ALIGNMENT, previous)
    return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)[::-1].copy()
