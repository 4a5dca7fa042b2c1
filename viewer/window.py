"""A simple GLFW window that plays a world model with the keyboard.

OpenGL 3.3 core: one streamed RGB texture drawn as a full-window quad (aspect kept, nearest
filtering so 64x64 frames stay crisp). Each display frame reads the keys, turns them into the
world's action and asks `next_frame(action)` for the next image. The frame source is a callable so
that the PyTorch model, and later the native runtime, can drive the same window.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from vidgen_rt.errors import VidgenError

VERTEX_SHADER = """
#version 330 core
layout(location = 0) in vec2 corner;
out vec2 uv;
uniform vec2 scale;
void main() {
    uv = vec2(corner.x * 0.5 + 0.5, 0.5 - corner.y * 0.5);
    gl_Position = vec4(corner * scale, 0.0, 1.0);
}
"""

FRAGMENT_SHADER = """
#version 330 core
in vec2 uv;
out vec4 color;
uniform sampler2D frame;
void main() { color = vec4(texture(frame, uv).rgb, 1.0); }
"""


def key_bindings(glfw, action_names: list[str]) -> list[tuple[tuple[int, ...], int]]:
    """(keys, action id) pairs, first match wins: WASD/arrows move and turn, Q/E strafe."""
    wanted = {
        "forward": (glfw.KEY_W, glfw.KEY_UP), "backward": (glfw.KEY_S, glfw.KEY_DOWN),
        "turn_left": (glfw.KEY_A, glfw.KEY_LEFT), "turn_right": (glfw.KEY_D, glfw.KEY_RIGHT),
        "strafe_left": (glfw.KEY_Q,), "strafe_right": (glfw.KEY_E,),
    }
    return [(keys, action_names.index(name)) for name, keys in wanted.items() if name in action_names]


def _compile(gl, vertex: str, fragment: str) -> int:
    from OpenGL.GL import shaders
    return shaders.compileProgram(shaders.compileShader(vertex, gl.GL_VERTEX_SHADER),
                                  shaders.compileShader(fragment, gl.GL_FRAGMENT_SHADER))


class Window:
    def __init__(self, width: int, height: int, frame_shape: tuple[int, int], title: str, vsync: bool = True):
        try:
            import glfw
            from OpenGL import GL as gl
        except ImportError as error:
            raise VidgenError(f"the window needs the viewer extras (glfw, PyOpenGL): {error}") from None
        if not glfw.init():
            raise VidgenError("GLFW could not initialise: is a display available (DISPLAY, or xvfb-run)?")
        self.glfw, self.gl = glfw, gl
        for hint, value in ((glfw.CONTEXT_VERSION_MAJOR, 3), (glfw.CONTEXT_VERSION_MINOR, 3),
                            (glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE), (glfw.OPENGL_FORWARD_COMPAT, True)):
            glfw.window_hint(hint, value)
        self.handle = glfw.create_window(width, height, title, None, None)
        if not self.handle:
            glfw.terminate()
            raise VidgenError("GLFW could not create an OpenGL 3.3 core window")
        glfw.make_context_current(self.handle)
        glfw.swap_interval(1 if vsync else 0)
        self.frame_height, self.frame_width = frame_shape
        self._create_resources()

    def _create_resources(self) -> None:
        gl = self.gl
        self.program = _compile(gl, VERTEX_SHADER, FRAGMENT_SHADER)
        self.vao = gl.glGenVertexArrays(1)
        gl.glBindVertexArray(self.vao)
        self.vbo = gl.glGenBuffers(1)
        gl.glBindBuffer(gl.GL_ARRAY_BUFFER, self.vbo)
        corners = np.array([-1, -1, 1, -1, -1, 1, 1, 1], dtype=np.float32)
        gl.glBufferData(gl.GL_ARRAY_BUFFER, corners.nbytes, corners, gl.GL_STATIC_DRAW)
        gl.glEnableVertexAttribArray(0)
        gl.glVertexAttribPointer(0, 2, gl.GL_FLOAT, False, 0, None)
        self.texture = gl.glGenTextures(1)
        gl.glBindTexture(gl.GL_TEXTURE_2D, self.texture)
        for name in (gl.GL_TEXTURE_MIN_FILTER, gl.GL_TEXTURE_MAG_FILTER):
            gl.glTexParameteri(gl.GL_TEXTURE_2D, name, gl.GL_NEAREST)
        gl.glPixelStorei(gl.GL_UNPACK_ALIGNMENT, 1)
        gl.glTexImage2D(gl.GL_TEXTURE_2D, 0, gl.GL_RGB8, self.frame_width, self.frame_height, 0,
                        gl.GL_RGB, gl.GL_UNSIGNED_BYTE, None)

    def draw(self, frame: np.ndarray) -> None:
        gl = self.gl
        gl.glBindTexture(gl.GL_TEXTURE_2D, self.texture)
        gl.glTexSubImage2D(gl.GL_TEXTURE_2D, 0, 0, 0, self.frame_width, self.frame_height,
                           gl.GL_RGB, gl.GL_UNSIGNED_BYTE, np.ascontiguousarray(frame[..., :3]))
        width, height = self.glfw.get_framebuffer_size(self.handle)
        gl.glViewport(0, 0, width, height)
        gl.glClearColor(0.0, 0.0, 0.0, 1.0)
        gl.glClear(gl.GL_COLOR_BUFFER_BIT)
        gl.glUseProgram(self.program)
        frame_aspect, window_aspect = self.frame_width / self.frame_height, width / max(height, 1)
        scale = (frame_aspect / window_aspect, 1.0) if window_aspect > frame_aspect else (1.0, window_aspect / frame_aspect)
        gl.glUniform2f(gl.glGetUniformLocation(self.program, "scale"), *scale)
        gl.glBindVertexArray(self.vao)
        gl.glDrawArrays(gl.GL_TRIANGLE_STRIP, 0, 4)

    def read_pixels(self) -> np.ndarray:
        """The window's framebuffer as uint8 (H, W, 3), top row first."""
        gl = self.gl
        width, height = self.glfw.get_framebuffer_size(self.handle)
        gl.glPixelStorei(gl.GL_PACK_ALIGNMENT, 1)
        data = gl.glReadPixels(0, 0, width, height, gl.GL_RGB, gl.GL_UNSIGNED_BYTE)
        return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)[::-1].copy()

    def close(self) -> None:
        self.glfw.destroy_window(self.handle)
        self.glfw.terminate()


def play(next_frame: Callable[[int], np.ndarray], first_frame: np.ndarray, action_names: list[str],
         scale: int = 8, max_frames: int | None = None, screenshot: str | None = None, vsync: bool = True) -> dict:
    """Run the window until it is closed (Esc) or `max_frames` frames were generated."""
    height, width = first_frame.shape[:2]
    window = Window(width * scale, height * scale, (height, width), "vidgen play", vsync=vsync)
    glfw = window.glfw
    bindings = key_bindings(glfw, action_names)
    frame, generated, began = first_frame, 0, time.perf_counter()
    try:
        while not glfw.window_should_close(window.handle):
            glfw.poll_events()
            if glfw.get_key(window.handle, glfw.KEY_ESCAPE) == glfw.PRESS:
                break
            action = next((a for keys, a in bindings
                           if any(glfw.get_key(window.handle, k) == glfw.PRESS for k in keys)), 0)
            frame = next_frame(action)
            generated += 1
            window.draw(frame)
            if max_frames is not None and generated >= max_frames:
                break
            glfw.swap_buffers(window.handle)
            fps = generated / (time.perf_counter() - began)
            glfw.set_window_title(window.handle, f"vidgen play - {fps:.1f} frames/s - {action_names[action]}")
        if screenshot:
            from PIL import Image
            Image.fromarray(window.read_pixels()).save(screenshot)
    finally:
        window.close()
    return {"frames": generated, "fps": generated / max(time.perf_counter() - began, 1e-9)}
