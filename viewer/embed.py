"""The embed API: draw a generated stream inside a host's own OpenGL 3.3 core context and loop.

A host (a game, a VR compositor, a GUI) creates one of these renderers while its context is current,
calls `update(stream)` (or `upload(frame)`) once per display frame and `draw(...)` with a rectangle
of its framebuffer; it keeps its loop, its input handling (it calls the stream's `push_action`) and
its buffer swaps. Every call saves and restores the GL state it touches (see glutil.saved_state), so
the renderer can be dropped between any two of the host's draw calls.

- `StreamedTexture`: an RGBA8 texture fed through two pixel-unpack buffers used in turn. Each upload
  orphans the next buffer (glBufferData with no data), maps it write-only with invalidation, copies
  the frame in and issues glTexSubImage2D from the buffer, so the CPU never waits for the GPU to
  finish reading the previous frame.
- `FrameRenderer`: the frame in a rectangle, aspect kept (letterboxed), nearest or linear filtering.
- `PanoramaRenderer`: an equirectangular 360° frame (yaw across columns, centred on the world's
  heading, right positive; pitch +90° at the top row) reprojected to a pinhole view looking at
  (yaw, pitch) in a fragment shader. The view direction is a uniform, so a head rotation shows on
  the next display frame whatever the generation rate. `draw_stereo` draws two eyes side by side.
"""

from __future__ import annotations

import ctypes
import math

import numpy as np
from OpenGL import GL as gl

from vidgen_rt.errors import ConfigError
from vidgen_rt.viewer.glutil import compile_program, fit_rect, saved_state

# A full-viewport triangle strip from gl_VertexID: no vertex buffer, only an empty vertex array.
QUAD_VERTEX_SHADER = """
#version 330 core
out vec2 ndc;
void main() {
    ndc = vec2(float(gl_VertexID & 1) * 2.0 - 1.0, float(gl_VertexID >> 1) * 2.0 - 1.0);
    gl_Position = vec4(ndc, 0.0, 1.0);
}
"""

FLAT_FRAGMENT_SHADER = """
#version 330 core
in vec2 ndc;
out vec4 color;
uniform sampler2D frame;
void main() {
    vec2 uv = vec2(ndc.x * 0.5 + 0.5, 0.5 - ndc.y * 0.5);  // texture row 0 is the frame's top row
    color = vec4(texture(frame, uv).rgb, 1.0);
}
"""

PANORAMA_FRAGMENT_SHADER = """
#version 330 core
in vec2 ndc;
out vec4 color;
uniform sampler2D frame;
uniform float yaw;        // radians, positive turns right
uniform float pitch;      // radians, positive looks up
uniform vec2 half_tan;    // tan of half the horizontal and vertical fields of view
const float PI = 3.14159265358979;
void main() {
    vec3 ray = vec3(ndc * half_tan, 1.0);                               // x right, y up, z forward
    ray = vec3(ray.x, ray.y * cos(pitch) + ray.z * sin(pitch), ray.z * cos(pitch) - ray.y * sin(pitch));
    ray = vec3(ray.x * cos(yaw) + ray.z * sin(yaw), ray.y, ray.z * cos(yaw) - ray.x * sin(yaw));
    float longitude = atan(ray.x, ray.z);                               // 0 = the world's heading
    float latitude = atan(ray.y, length(ray.xz));
    vec2 uv = vec2(0.5 + longitude / (2.0 * PI), 0.5 - latitude / PI);
    color = vec4(textureLod(frame, uv, 0.0).rgb, 1.0);
}
"""

FILTERS = {"nearest": gl.GL_NEAREST, "linear": gl.GL_LINEAR}


class StreamedTexture:
    """An RGBA8 texture of height×width refreshed from uint8 frames through two PBOs in turn."""

    def __init__(self, height: int, width: int, filter: str = "nearest", wrap_s=gl.GL_CLAMP_TO_EDGE, unit: int = 0):
        if not (0 < height <= 8192 and 0 < width <= 8192):
            raise ConfigError(f"frame size {width}x{height}: expected 1..8192 pixels a side")
        self.height, self.width, self.unit = height, width, unit
        self.capacity = height * width * 4
        self._next = 0
        with saved_state(unit):
            self.texture = int(gl.glGenTextures(1))
            gl.glBindTexture(gl.GL_TEXTURE_2D, self.texture)
            gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_WRAP_S, wrap_s)
            gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_WRAP_T, gl.GL_CLAMP_TO_EDGE)
            gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_MAX_LEVEL, 0)
            gl.glTexImage2D(gl.GL_TEXTURE_2D, 0, gl.GL_RGBA8, width, height, 0, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE, None)
            self.pbos = [int(b) for b in np.asarray(gl.glGenBuffers(2)).reshape(-1)]
            for pbo in self.pbos:
                gl.glBindBuffer(gl.GL_PIXEL_UNPACK_BUFFER, pbo)
                gl.glBufferData(gl.GL_PIXEL_UNPACK_BUFFER, self.capacity, None, gl.GL_STREAM_DRAW)
        self.filter = filter

    @property
    def filter(self) -> str:
        return self._filter

    @filter.setter
    def filter(self, name: str) -> None:
        if name not in FILTERS:
            raise ConfigError(f"filter {name!r}: expected one of {', '.join(FILTERS)}")
        self._filter = name
        with saved_state(self.unit):
            gl.glBindTexture(gl.GL_TEXTURE_2D, self.texture)
            for parameter in (gl.GL_TEXTURE_MIN_FILTER, gl.GL_TEXTURE_MAG_FILTER):
                gl.glTexParameteri(gl.GL_TEXTURE_2D, parameter, FILTERS[name])

    def upload(self, frame: np.ndarray) -> None:
        """Copy a (H, W, 4) RGBA or (H, W, 3) RGB uint8 frame (row 0 = top) into the texture; a
        leading batch axis of 1 is accepted."""
        frame = np.asarray(frame)
        if frame.ndim == 4 and frame.shape[0] == 1:
            frame = frame[0]
        if frame.dtype != np.uint8 or frame.shape[:2] != (self.height, self.width) or frame.ndim != 3 \
                or frame.shape[2] not in (3, 4):
            raise ConfigError(f"frame of shape {frame.shape} and dtype {frame.dtype}: expected uint8 "
                              f"({self.height}, {self.width}, 4) RGBA or (..., 3) RGB")
        frame = np.ascontiguousarray(frame)
        with saved_state(self.unit):
            gl.glBindBuffer(gl.GL_PIXEL_UNPACK_BUFFER, self.pbos[self._next])
            self._next ^= 1
            gl.glBufferData(gl.GL_PIXEL_UNPACK_BUFFER, self.capacity, None, gl.GL_STREAM_DRAW)  # orphan
            target = gl.glMapBufferRange(gl.GL_PIXEL_UNPACK_BUFFER, 0, frame.nbytes,
                                         gl.GL_MAP_WRITE_BIT | gl.GL_MAP_INVALIDATE_BUFFER_BIT)
            if not target:
                raise ConfigError("OpenGL could not map the pixel unpack buffer")
            ctypes.memmove(int(target), frame.ctypes.data, frame.nbytes)
            gl.glUnmapBuffer(gl.GL_PIXEL_UNPACK_BUFFER)
            gl.glBindTexture(gl.GL_TEXTURE_2D, self.texture)
            pixel_format = gl.GL_RGBA if frame.shape[2] == 4 else gl.GL_RGB
            gl.glTexSubImage2D(gl.GL_TEXTURE_2D, 0, 0, 0, self.width, self.height, pixel_format,
                               gl.GL_UNSIGNED_BYTE, ctypes.c_void_p(0))

    def close(self) -> None:
        gl.glDeleteBuffers(len(self.pbos), self.pbos)
        gl.glDeleteTextures([self.texture])


class _TextureQuad:
    """What both renderers share: a streamed texture, a program and an empty vertex array."""

    def __init__(self, height: int, width: int, fragment: str, filter: str, wrap_s, unit: int):
        self.texture = StreamedTexture(height, width, filter, wrap_s, unit)
        self.program = compile_program(QUAD_VERTEX_SHADER, fragment)
        self.vao = int(gl.glGenVertexArrays(1))
        self.frame_index: int | None = None
        with saved_state(unit):
            gl.glUseProgram(self.program)
            gl.glUniform1i(gl.glGetUniformLocation(self.program, "frame"), unit)

    @property
    def filter(self) -> str:
        return self.texture.filter

    @filter.setter
    def filter(self, name: str) -> None:
        self.texture.filter = name

    def upload(self, frame: np.ndarray) -> None:
        self.texture.upload(frame)

    def update(self, stream, player: int = 0) -> bool:
        """Upload the stream's newest frame (player `player` of a batch) if it produced one since
        the last call; True when it did."""
        latest = stream.latest()
        if latest is None:
            return False
        self.frame_index, frames = latest
        self.texture.upload(frames[player])
        return True

    def _quad(self, viewport: tuple[int, int, int, int], uniforms) -> None:
        gl.glViewport(*viewport)
        gl.glUseProgram(self.program)
        uniforms()
        gl.glBindTexture(gl.GL_TEXTURE_2D, self.texture.texture)
        gl.glBindVertexArray(self.vao)
        gl.glDrawArrays(gl.GL_TRIANGLE_STRIP, 0, 4)

    @staticmethod
    def _clear(rect, background) -> None:
        if background is None:
            return
        gl.glEnable(gl.GL_SCISSOR_TEST)
        gl.glScissor(*rect)
        gl.glClearColor(*background)
        gl.glClear(gl.GL_COLOR_BUFFER_BIT)
        gl.glDisable(gl.GL_SCISSOR_TEST)

    def close(self) -> None:
        self.texture.close()
        gl.glDeleteVertexArrays(1, [self.vao])
        gl.glDeleteProgram(self.program)


class FrameRenderer(_TextureQuad):
    """Draws frames of height×width into a rectangle of the current framebuffer."""

    def __init__(self, height: int, width: int, filter: str = "nearest", unit: int = 0):
        super().__init__(height, width, FLAT_FRAGMENT_SHADER, filter, gl.GL_CLAMP_TO_EDGE, unit)

    def draw(self, x: int, y: int, width: int, height: int, keep_aspect: bool = True, background=None) -> tuple:
        """Draw the current texture into the rectangle (x, y, width, height) of the bound framebuffer
        (pixels, origin bottom-left, like glViewport); with keep_aspect the frame is centred and
        letterboxed, the bars cleared to `background` (RGBA floats) when given. Returns the
        rectangle the frame covers."""
        rect = (int(x), int(y), int(width), int(height))
        target = fit_rect(*rect, self.texture.width / self.texture.height) if keep_aspect else rect
        with saved_state(self.texture.unit):
            self._clear(rect, background)
            self._quad(target, lambda: None)
        return target


class PanoramaRenderer(_TextureQuad):
    """Reprojects an equirectangular frame to the view looking at (yaw, pitch)."""

    def __init__(self, height: int, width: int, filter: str = "linear", unit: int = 0):
        super().__init__(height, width, PANORAMA_FRAGMENT_SHADER, filter, gl.GL_REPEAT, unit)
        self._locations = {name: gl.glGetUniformLocation(self.program, name) for name in ("yaw", "pitch", "half_tan")}

    def draw(self, x: int, y: int, width: int, height: int, yaw: float = 0.0, pitch: float = 0.0,
             fov: float = 90.0) -> None:
        """The view at yaw/pitch (degrees; yaw 0 = the world's heading, positive right; pitch
        positive up) with a horizontal field of view `fov` degrees, filling the rectangle."""
        if not 1.0 <= fov <= 170.0:
            raise ConfigError(f"fov {fov}: expected 1..170 degrees")
        half = math.tan(math.radians(fov) / 2)

        def uniforms():
            gl.glUniform1f(self._locations["yaw"], math.radians(yaw))
            gl.glUniform1f(self._locations["pitch"], math.radians(pitch))
            gl.glUniform2f(self._locations["half_tan"], half, half * height / max(width, 1))

        with saved_state(self.texture.unit):
            self._quad((int(x), int(y), int(width), int(height)), uniforms)

    def draw_stereo(self, x: int, y: int, width: int, height: int, yaw: float = 0.0, pitch: float = 0.0,
                    fov: float = 90.0, eye_yaw: float = 2.0) -> None:
        """Left and right eyes side by side, each turned by ∓eye_yaw/2 degrees. A mono panorama has
        no parallax, so this is a comfortable stereo-shaped view, not true depth."""
        half = int(width) // 2
        self.draw(x, y, half, height, yaw - eye_yaw / 2, pitch, fov)
        self.draw(x + half, y, int(width) - half, height, yaw + eye_yaw / 2, pitch, fov)
