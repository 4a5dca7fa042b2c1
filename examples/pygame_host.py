"""A pygame host: pygame owns the window (an OpenGL 3.3 core display), the event loop and the
clock; the embed API draws the generated world into the middle of its frame.

Actions come from pygame's key events, mapped through the bundle's key bindings (pygame's key names
upper-cased are GLFW's: "w" -> W, "up" -> UP, "space" -> SPACE) and pushed to the stream, which
generates on its own thread. The border pulses in a colour of the host's own, cleared by the host
every frame.

    python examples/pygame_host.py maze.vgrt                 # W/S/Q/E/A/D or arrows, Esc quits
    xvfb-run -a python examples/pygame_host.py maze.vgrt --frames 300 --screenshot pygame.png
"""

import argparse
import math
import os
import sys

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame  # noqa: E402
from OpenGL import GL as gl  # noqa: E402

from vidgen_rt import open_stepper  # noqa: E402
from vidgen_rt.viewer.controls import ActionKeys, parse_bindings  # noqa: E402
from vidgen_rt.viewer.embed import FrameRenderer  # noqa: E402
from vidgen_rt.viewer.glutil import read_framebuffer  # noqa: E402

SIZE = (640, 480)


def key_name(key: int) -> str:
    """pygame key -> the GLFW key name bundles use ("left shift" -> LEFT_SHIFT)."""
    return pygame.key.name(key).upper().replace(" ", "_")


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
    pygame.display.init()  # only the display: no audio device needed
    for attribute, value in ((pygame.GL_CONTEXT_MAJOR_VERSION, 3), (pygame.GL_CONTEXT_MINOR_VERSION, 3),
                             (pygame.GL_CONTEXT_PROFILE_MASK, pygame.GL_CONTEXT_PROFILE_CORE)):
        pygame.display.gl_set_attribute(attribute, value)
    try:
        pygame.display.set_mode(SIZE, pygame.OPENGL | pygame.DOUBLEBUF)
    except pygame.error as error:
        sys.exit(f"pygame_host: no OpenGL 3.3 core display ({error}); try xvfb-run")
    pygame.display.set_caption("pygame host + vidgen_rt")
    renderer = FrameRenderer(stream.info.height, stream.info.width, filter="linear")
    renderer.upload(stream.reset())
    stream.start()
    clock = pygame.time.Clock()
    running, pushed, shown, display = True, None, 0, 0
    try:
        while running and (args.frames is None or display < args.frames):
            for event in pygame.event.get():
                if event.type == pygame.QUIT or (event.type == pygame.KEYDOWN and event.key == pygame.K_ESCAPE):
                    running = False
                elif event.type == pygame.KEYDOWN:
                    keys.press(key_name(event.key))
                elif event.type == pygame.KEYUP:
                    keys.release(key_name(event.key))
            if keys.action() != pushed:
                pushed = keys.action()
                stream.push_action(pushed)
            shown += renderer.update(stream)
            pulse = 0.5 + 0.5 * math.sin(display * 0.05)
            gl.glViewport(0, 0, *SIZE)
            gl.glClearColor(0.8 * pulse, 0.2, 0.4, 1.0)
            gl.glClear(gl.GL_COLOR_BUFFER_BIT)
            renderer.draw(SIZE[0] // 4, SIZE[1] // 4, SIZE[0] // 2, SIZE[1] // 2)
            display += 1
            if args.screenshot and args.frames is not None and display == args.frames:
                from PIL import Image
                Image.fromarray(read_framebuffer(*SIZE)).save(args.screenshot)
            pygame.display.flip()
            clock.tick(0 if args.frames is not None else 60)
    finally:
        stream.stop()
        stats = stream.stats()
        stream.close()
        renderer.close()
        pygame.quit()
    print(f"pygame_host: {display} display frames, {shown} generated frames shown, "
          f"generation {stats['fps']:.1f} frames/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
