"""A host that owns its window, GL context and loop, and shows a generated world inside its own
scene through the embed API (vidgen_rt.viewer.embed.FrameRenderer).

The host's scene is a rotating colour-cornered quad behind the generated view. The host binds its
program and vertex array once, before the loop, and never again: the renderer restores every piece
of GL state it touches, so the host's draw keeps working frame after frame. Input is the host's job:
its key callback turns the bundle's key bindings into actions and pushes them to the stream, which
generates on its own thread.

    python examples/glfw_host.py maze.vgrt                 # W/S/Q/E/A/D or arrows, Esc quits
    xvfb-run -a python examples/glfw_host.py maze.vgrt --frames 300 --screenshot host.png
"""

import argparse
import ctypes
import sys

import glfw
import numpy as np
from OpenGL import GL as gl

from vidgen_rt import open_stepper
from vidgen_rt.viewer.controls import ActionKeys, KEY_NAMES, parse_bindings
from vidgen_rt.viewer.embed import FrameRenderer
from vidgen_rt.viewer.glutil import compile_program, read_framebuffer

SCENE_VERTEX = """
#version 330 core
layout(location = 0) in vec2 position;
layout(location = 1) in vec3 colour;
uniform float angle;
out vec3 shade;
void main() {
    mat2 turn = mat2(cos(angle), sin(angle), -sin(angle), cos(angle));
    shade = colour;
    gl_Position = vec4(turn * position, 0.0, 1.0);
}
"""
SCENE_FRAGMENT = """
#version 330 core
in vec3 shade;
out vec4 color;
void main() { color = vec4(shade, 1.0); }
"""
BACKGROUND = (0.1, 0.1, 0.3, 1.0)


def make_scene() -> tuple[int, int]:
    """The host's rotating quad: a program and a vertex array (position xy, colour rgb)."""
    program = compile_program(SCENE_VERTEX, SCENE_FRAGMENT)
    corners = np.array([[-0.9, -0.9, 1, 0, 0], [0.9, -0.9, 0, 1, 0], [-0.9, 0.9, 0, 0, 1], [0.9, 0.9, 1, 1, 0]],
                       dtype=np.float32)
    vao = gl.glGenVertexArrays(1)
    gl.glBindVertexArray(vao)
    vbo = gl.glGenBuffers(1)
    gl.glBindBuffer(gl.GL_ARRAY_BUFFER, vbo)
    gl.glBufferData(gl.GL_ARRAY_BUFFER, corners.nbytes, corners, gl.GL_STATIC_DRAW)
    for location, size, offset in ((0, 2, 0), (1, 3, 8)):
        gl.glEnableVertexAttribArray(location)
        gl.glVertexAttribPointer(location, size, gl.GL_FLOAT, False, 20, ctypes.c_void_p(offset))
    return program, vao


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", help="a bundle directory (vidgen export WORLD -o NAME.vgrt)")
    parser.add_argument("--frames", type=int, default=None, help="quit after this many display frames")
    parser.add_argument("--screenshot", help="save the last display frame (PNG)")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads")
    args = parser.parse_args()

    stream = open_stepper(args.bundle, "native", intra_op_threads=args.threads)  # asynchronous play: native
    actions = stream.bundle.manifest["actions"]
    keys = ActionKeys(parse_bindings(actions), default=actions["default"])
    if not glfw.init():
        sys.exit("glfw_host: GLFW could not initialise (no display? try xvfb-run)")
    for hint, value in ((glfw.CONTEXT_VERSION_MAJOR, 3), (glfw.CONTEXT_VERSION_MINOR, 3),
                        (glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE), (glfw.OPENGL_FORWARD_COMPAT, True)):
        glfw.window_hint(hint, value)
    window = glfw.create_window(640, 480, "glfw host + vidgen_rt", None, None)
    if not window:
        sys.exit("glfw_host: no OpenGL 3.3 core window")
    glfw.make_context_current(window)
    glfw.swap_interval(1 if args.frames is None else 0)
    names = {getattr(glfw, f"KEY_{n}"): n for n in KEY_NAMES if hasattr(glfw, f"KEY_{n}")}

    def on_key(handle, key, scancode, action, mods):
        if key == glfw.KEY_ESCAPE:
            glfw.set_window_should_close(handle, True)
        elif action == glfw.PRESS and key in names:
            keys.press(names[key])
        elif action == glfw.RELEASE and key in names:
            keys.release(names[key])

    glfw.set_key_callback(window, on_key)
    renderer = FrameRenderer(stream.info.height, stream.info.width)
    renderer.upload(stream.reset())
    program, vao = make_scene()
    gl.glUseProgram(program)          # bound once: the renderer must leave them as they are
    gl.glBindVertexArray(vao)
    angle_at = gl.glGetUniformLocation(program, "angle")
    stream.start()
    pushed, shown, display = None, 0, 0
    try:
        while not glfw.window_should_close(window) and (args.frames is None or display < args.frames):
            glfw.poll_events()
            if keys.action() != pushed:
                pushed = keys.action()
                stream.push_action(pushed)
            shown += renderer.update(stream)
            width, height = glfw.get_framebuffer_size(window)
            gl.glViewport(0, 0, width, height)
            gl.glClearColor(*BACKGROUND)
            gl.glClear(gl.GL_COLOR_BUFFER_BIT)
            gl.glUniform1f(angle_at, display * 0.02)
            gl.glDrawArrays(gl.GL_TRIANGLE_STRIP, 0, 4)                   # the host's scene
            renderer.draw(width // 4, height // 4, width // 2, height // 2)  # the generated view
            display += 1
            if args.screenshot and args.frames is not None and display == args.frames:
                from PIL import Image
                Image.fromarray(read_framebuffer(width, height)).save(args.screenshot)
            glfw.swap_buffers(window)
    finally:
        stream.stop()
        stats = stream.stats()
        stream.close()
        renderer.close()
        glfw.terminate()
    print(f"glfw_host: {display} display frames, {shown} generated frames shown, "
          f"generation {stats['fps']:.1f} frames/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
