"""The heads-up display: lines of text in a built-in 5×7 bitmap font and a frame-time graph, drawn
over the frame with one small program (no GUI library).

The font covers A-Z (lower case is drawn as upper case), digits and common punctuation; each glyph
is seven rows of five bits, written as seven base-32 digits. All glyphs sit in one R8 atlas texture
in cells of 6×8 texels, and cell 0 is solid, which the panel background and the graph lines sample.
Text is drawn at an integer scale with nearest filtering, so it stays crisp.
"""

from __future__ import annotations

import ctypes

import numpy as np
from OpenGL import GL as gl

from vidgen_rt.viewer.glutil import compile_program, saved_state

GLYPHS = {
    'A': "ehhvhhh", 'B': "uhhuhhu", 'C': "ehggghe", 'D': "uhhhhhu", 'E': "vgguggv", 'F': "vgguggg",
    'G': "ehgnhhf", 'H': "hhhvhhh", 'I': "e44444e", 'J': "72222ic", 'K': "hikokih", 'L': "ggggggv",
    'M': "hrllhhh", 'N': "hhpljhh", 'O': "ehhhhhe", 'P': "uhhuggg", 'Q': "ehhhlid", 'R': "uhhukih",
    'S': "fgge11u", 'T': "v444444", 'U': "hhhhhhe", 'V': "hhhhha4", 'W': "hhhllla", 'X': "hha4ahh",
    'Y': "hha4444", 'Z': "v1248gv", '0': "ehjlphe", '1': "4c4444e", '2': "eh1248v", '3': "u11e11u",
    '4': "26aiv22", '5': "vgu11he", '6': "68guhhe", '7': "v124888", '8': "ehhehhe", '9': "ehhf12c",
    '.': "00000cc", ',': "0000c48", ':': "0cc0cc0", '-': "000v000", '+': "044v440", '/': "11248gg",
    '%': "pp248jj", '(': "2488842", ')': "8422248", '[': "e88888e", ']': "e22222e", '=': "00v0v00",
    '_': "000000v", '>': "8421248", '<': "248g842", '?': "eh12404", '!': "4444404", "'": "4480000",
    '*': "04lel40", '#': "aavavaa",
}
CELL_W, CELL_H = 6, 8  # a 5×7 glyph plus one texel of spacing

VERTEX_SHADER = """
#version 330 core
layout(location = 0) in vec2 position;   // pixels, origin top-left
layout(location = 1) in vec2 texcoord;
uniform vec2 screen;
out vec2 uv;
void main() {
    uv = texcoord;
    gl_Position = vec4(position.x / screen.x * 2.0 - 1.0, 1.0 - position.y / screen.y * 2.0, 0.0, 1.0);
}
"""

FRAGMENT_SHADER = """
#version 330 core
in vec2 uv;
out vec4 color;
uniform sampler2D atlas;
uniform vec4 tint;
void main() { color = vec4(tint.rgb, tint.a * texture(atlas, uv).r); }
"""


def font_atlas() -> tuple[np.ndarray, dict[str, int]]:
    """(8, 6·(1 + glyphs)) uint8 atlas, 255 = ink, and each character's cell index (0 = solid)."""
    cells = {" ": -1}
    atlas = np.zeros((CELL_H, CELL_W * (len(GLYPHS) + 1)), dtype=np.uint8)
    atlas[:, :CELL_W] = 255
    for index, (char, rows) in enumerate(GLYPHS.items(), start=1):
        bits = np.array([[(int(digit, 32) >> (4 - col)) & 1 for col in range(5)] for digit in rows])  # (7, 5)
        atlas[:7, index * CELL_W:index * CELL_W + 5] = bits * 255
        cells[char] = index
    return atlas, cells


class Hud:
    """Draws text lines and frame-time graphs in the top-left corner of the framebuffer."""

    def __init__(self, scale: int = 1, unit: int = 0):
        self.scale, self.unit = scale, unit
        atlas, self.cells = font_atlas()
        self.atlas_width = atlas.shape[1]
        self.program = compile_program(VERTEX_SHADER, FRAGMENT_SHADER)
        self.locations = {name: gl.glGetUniformLocation(self.program, name) for name in ("screen", "tint", "atlas")}
        with saved_state(unit):
            self.texture = int(gl.glGenTextures(1))
            gl.glBindTexture(gl.GL_TEXTURE_2D, self.texture)
            for parameter in (gl.GL_TEXTURE_MIN_FILTER, gl.GL_TEXTURE_MAG_FILTER):
                gl.glTexParameteri(gl.GL_TEXTURE_2D, parameter, gl.GL_NEAREST)
            gl.glTexImage2D(gl.GL_TEXTURE_2D, 0, gl.GL_R8, atlas.shape[1], atlas.shape[0], 0, gl.GL_RED,
                            gl.GL_UNSIGNED_BYTE, np.ascontiguousarray(atlas))
            self.vao = int(gl.glGenVertexArrays(1))
            self.vbo = int(gl.glGenBuffers(1))
            gl.glBindVertexArray(self.vao)
            gl.glBindBuffer(gl.GL_ARRAY_BUFFER, self.vbo)
            for location, offset in ((0, 0), (1, 8)):
                gl.glEnableVertexAttribArray(location)
                gl.glVertexAttribPointer(location, 2, gl.GL_FLOAT, False, 16, ctypes.c_void_p(offset))
            gl.glBindVertexArray(0)

    def _solid_uv(self) -> tuple[float, float]:
        return (CELL_W / 2) / self.atlas_width, 0.5

    def _quad(self, x0, y0, x1, y1, u0, v0, u1, v1) -> list:
        return [(x0, y0, u0, v0), (x1, y0, u1, v0), (x0, y1, u0, v1),
                (x1, y0, u1, v0), (x1, y1, u1, v1), (x0, y1, u0, v1)]

    def _text(self, lines: list[str], left: int, top: int) -> np.ndarray:
        s, vertices = self.scale, []
        for row, line in enumerate(lines):
            for col, char in enumerate(line.upper()):
                cell = self.cells.get(char, self.cells["?"])
                if cell < 0:
                    continue
                x, y = left + col * CELL_W * s, top + row * (CELL_H + 2) * s
                u0, u1 = cell * CELL_W / self.atlas_width, (cell * CELL_W + 5) / self.atlas_width
                vertices += self._quad(x, y, x + 5 * s, y + 7 * s, u0, 0.0, u1, 7 / CELL_H)
        return np.array(vertices, dtype=np.float32).reshape(-1, 4)

    def _draw(self, vertices: np.ndarray, mode, tint) -> None:
        if not len(vertices):
            return
        vertices = np.ascontiguousarray(vertices, dtype=np.float32)
        gl.glBufferData(gl.GL_ARRAY_BUFFER, vertices.nbytes, vertices, gl.GL_STREAM_DRAW)
        gl.glUniform4f(self.locations["tint"], *tint)
        gl.glDrawArrays(mode, 0, len(vertices))

    def draw(self, width: int, height: int, lines: list[str], graphs=(), graph_ms: float = 50.0) -> None:
        """`lines` of text, then a graph panel of the `graphs` — (values in ms, (r, g, b)) pairs,
        oldest first — scaled to `graph_ms`, with guides at 16.7 and 33.3 ms."""
        s = self.scale
        text_w = max((len(line) for line in lines), default=0) * CELL_W * s
        text_h = len(lines) * (CELL_H + 2) * s
        graph_w, graph_h = 120 * s, 30 * s if graphs else 0
        pad = 4 * s
        panel = (0, 0, max(text_w, graph_w) + 2 * pad, text_h + graph_h + 3 * pad)
        su, sv = self._solid_uv()
        with saved_state(self.unit):
            gl.glViewport(0, 0, width, height)
            gl.glEnable(gl.GL_BLEND)
            gl.glBlendFuncSeparate(gl.GL_SRC_ALPHA, gl.GL_ONE_MINUS_SRC_ALPHA, gl.GL_ONE, gl.GL_ONE_MINUS_SRC_ALPHA)
            gl.glUseProgram(self.program)
            gl.glUniform2f(self.locations["screen"], width, height)
            gl.glUniform1i(self.locations["atlas"], self.unit)
            gl.glBindTexture(gl.GL_TEXTURE_2D, self.texture)
            gl.glBindVertexArray(self.vao)
            gl.glBindBuffer(gl.GL_ARRAY_BUFFER, self.vbo)
            self._draw(np.array(self._quad(*panel, su, sv, su, sv), np.float32), gl.GL_TRIANGLES, (0, 0, 0, 0.6))
            self._draw(self._text(lines, pad, pad), gl.GL_TRIANGLES, (1.0, 1.0, 1.0, 1.0))
            if graphs:
                self._graphs(graphs, pad, text_h + 2 * pad, graph_w, graph_h, graph_ms)

    def _graphs(self, graphs, left: int, top: int, width: int, height: int, graph_ms: float) -> None:
        su, sv = self._solid_uv()
        bottom = top + height
        for guide in (1000 / 60, 1000 / 30):
            y = bottom - height * min(guide / graph_ms, 1.0)
            self._draw(np.array([(left, y, su, sv), (left + width, y, su, sv)], np.float32), gl.GL_LINES,
                       (0.5, 0.5, 0.5, 0.8))
        for values, colour in graphs:
            values = np.asarray(values, dtype=np.float32)[-width:]
            if len(values) < 2:
                continue
            x = left + np.arange(len(values), dtype=np.float32) * (width / max(len(values) - 1, 1))
            y = bottom - height * np.clip(values / graph_ms, 0.0, 1.0)
            points = np.stack([x, y, np.full_like(x, su), np.full_like(x, sv)], axis=1)  # (n, 4)
            self._draw(points, gl.GL_LINE_STRIP, (*colour, 1.0))

    def close(self) -> None:
        gl.glDeleteBuffers(1, [self.vbo])
        gl.glDeleteVertexArrays(1, [self.vao])
        gl.glDeleteTextures([self.texture])
        gl.glDeleteProgram(self.program)
