"""A Panda3D host: the generated world as a live texture on a television inside a small 3D scene.

Panda3D owns the window, the loop, the camera and the renderer; the runtime only hands over frames
(docs/embedding.md, "Panda3D"). Each frame is RGBA8 with rows top-down; Panda3D's textures are
bottom-up, so the rows are flipped on upload (`Texture.setRamImageAs(..., "RGBA")` swizzles to
Panda's BGRA). Keys come from the bundle's `actions.key_bindings` (GLFW key names, mapped to
Panda3D's event names: "W" -> "w", "UP" -> "arrow_up"); the most recently pressed held key wins, and
with none held the action is the bundle's default.

- synchronous (default): every display frame steps the stream once with the current action, so
  generated frame i took the keys held at display frame i;
- asynchronous (`--async`): the native stream generates on its own thread; the host pushes the
  action when it changes and uploads the newest frame when there is one.

    python examples/panda3d_host.py maze.vgrt                 # W/S/Q/E/A/D or arrows, Esc quits
    python examples/panda3d_host.py maze.vgrt --async
    python examples/panda3d_host.py maze.vgrt --offscreen --frames 60 --keys "w*30,arrow_left*30" \\
        --out scene.png --texture-out tv.png

`--keys` feeds key events as a keyboard would (KEY*N: hold KEY for N display frames, "-" for no
key), `--out` saves the rendered scene, `--texture-out` the TV's texture read back from the graphics
context (rows turned top-down again). Offscreen rendering needs no display: Panda3D's EGL or
software renderer.
"""

import argparse
import sys

import numpy as np
from panda3d.core import (AmbientLight, CardMaker, DirectionalLight, Filename, ModifierButtons, Texture,
                          loadPrcFileData)

from vidgen_rt import open_stepper
from vidgen_rt.viewer.controls import ActionKeys, parse_bindings

# GLFW key names (the manifest's) -> Panda3D event names; letters and digits are lower-cased as is.
PANDA_KEYS = {
    "UP": "arrow_up", "DOWN": "arrow_down", "LEFT": "arrow_left", "RIGHT": "arrow_right", "SPACE": "space",
    "ENTER": "enter", "TAB": "tab", "BACKSPACE": "backspace", "ESCAPE": "escape", "LEFT_SHIFT": "lshift",
    "RIGHT_SHIFT": "rshift", "LEFT_CONTROL": "lcontrol", "RIGHT_CONTROL": "rcontrol", "LEFT_ALT": "lalt",
    "RIGHT_ALT": "ralt", "INSERT": "insert", "DELETE": "delete", "HOME": "home", "END": "end",
    "PAGE_UP": "page_up", "PAGE_DOWN": "page_down",
}


def panda_key(glfw_name: str) -> str | None:
    """The Panda3D event name of a GLFW key name, or None when Panda3D has no such key event."""
    if glfw_name in PANDA_KEYS:
        return PANDA_KEYS[glfw_name]
    if len(glfw_name) == 1 and glfw_name.isalnum():
        return glfw_name.lower()
    if glfw_name[0] == "F" and glfw_name[1:].isdigit() and int(glfw_name[1:]) <= 12:
        return glfw_name.lower()
    return None


def parse_key_script(text: str) -> list[str | None]:
    """"w*3,-*2,arrow_left" -> the key held at each display frame (None: no key)."""
    held = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, _, count = item.partition("*")
        if count and not count.isdigit():
            sys.exit(f"panda3d_host: --keys item {item!r}: expected KEY or KEY*N with N a whole number")
        held += [None if key == "-" else key] * int(count or 1)
    return held


class TelevisionHost:
    """The scene, the texture on the TV screen and the loop's per-frame work."""

    def __init__(self, base, stepper, asynchronous: bool):
        self.base, self.stepper, self.asynchronous = base, stepper, asynchronous
        info = stepper.info
        actions = stepper.bundle.manifest["actions"]
        self.keys = ActionKeys(parse_bindings(actions), default=actions["default"])
        self.texture = Texture("world")
        self.texture.setup2dTexture(info.width, info.height, Texture.T_unsigned_byte, Texture.F_rgba8)
        self.texture.setMagfilter(Texture.FT_nearest)
        self.texture.setMinfilter(Texture.FT_linear)
        self.build_scene(info.width / info.height)
        self.bind_keys()
        self.pushed, self.shown, self.frame_index, self.display = None, 0, 0, 0
        self.upload(stepper.reset(), 0)

    def build_scene(self, aspect: float) -> None:
        base = self.base
        base.disableMouse()
        base.setBackgroundColor(0.12, 0.1, 0.14, 1)
        floor = CardMaker("floor")
        floor.setFrame(-6, 6, -6, 6)
        floor_node = base.render.attachNewNode(floor.generate())
        floor_node.setP(-90)
        floor_node.setZ(-1.2)
        floor_node.setColor(0.35, 0.3, 0.25, 1)
        cabinet = base.loader.loadModel("models/box")  # a unit cube from (0,0,0) to (1,1,1)
        cabinet.reparentTo(base.render)
        cabinet.setScale(2.0 * aspect + 0.3, 0.6, 2.3)
        cabinet.setPos(-(2.0 * aspect + 0.3) / 2, 0.05, -1.15)
        cabinet.setColor(0.15, 0.15, 0.17, 1)
        screen = CardMaker("screen")
        screen.setFrame(-aspect, aspect, -1, 1)  # UV (0,0) bottom-left: texture row 0 is the bottom row
        screen_node = base.render.attachNewNode(screen.generate())
        screen_node.setTexture(self.texture)
        screen_node.setLightOff()  # the screen glows: it shows the frame's own colours
        ambient = base.render.attachNewNode(AmbientLight("ambient"))
        ambient.node().setColor((0.35, 0.35, 0.4, 1))
        sun = base.render.attachNewNode(DirectionalLight("sun"))
        sun.setHpr(30, -50, 0)
        base.render.setLight(ambient)
        base.render.setLight(sun)
        base.camera.setPos(2.2, -7.5, 1.2)
        base.camera.lookAt(0, 0, 0)

    def bind_keys(self) -> None:
        if self.base.mouseWatcherNode is not None:  # a window (an offscreen buffer has no keyboard)
            # No modifier prefixes ("shift-w"): a held Shift must not hide the W the world is bound to.
            self.base.mouseWatcherNode.setModifierButtons(ModifierButtons())
            self.base.buttonThrowers[0].node().setModifierButtons(ModifierButtons())
        for glfw_name in self.keys.bindings:
            event = panda_key(glfw_name)
            if event is None:
                print(f"panda3d_host: key {glfw_name} has no Panda3D event; its action needs another key")
                continue
            self.base.accept(event, self.keys.press, [glfw_name])
            self.base.accept(event + "-up", self.keys.release, [glfw_name])

    def upload(self, frames: np.ndarray, index: int) -> None:
        """Player 0's RGBA frame (top-down rows) into the texture (bottom-up rows)."""
        self.texture.setRamImageAs(np.ascontiguousarray(frames[0, ::-1]).tobytes(), "RGBA")
        self.frame_index = index
        self.shown += 1

    def frame(self) -> None:
        """One display frame's work before Panda3D renders it."""
        action = self.keys.action()
        if not self.asynchronous:
            self.upload(self.stepper.step(action), self.frame_index + 1)
        else:
            if action != self.pushed:
                first = self.pushed is None
                self.stepper.push_action(action)
                self.pushed = action
                if first:  # start after the first push, so generated frame 1 takes it
                    self.stepper.start()
            latest = self.stepper.latest()
            if latest is not None:
                self.upload(latest[1], latest[0])
        t = self.display / 60.0
        self.base.camera.setPos(2.2 * np.cos(0.4 * t), -7.5, 1.2 + 0.3 * np.sin(0.3 * t))
        self.base.camera.lookAt(0, 0, 0)
        self.display += 1

    def texture_from_gpu(self) -> np.ndarray:
        """The texture as the graphics context holds it, rows top-down again: (H, W, 4) RGBA."""
        self.texture.clearRamImage()
        if not self.base.graphicsEngine.extractTextureData(self.texture, self.base.win.getGsg()):
            sys.exit("panda3d_host: the graphics context cannot read the texture back")
        height, width = self.texture.getYSize(), self.texture.getXSize()
        data = np.frombuffer(bytes(self.texture.getRamImageAs("RGBA")), np.uint8)
        return data.reshape(height, width, 4)[::-1]


def configure_panda(offscreen: bool) -> None:
    """Before ShowBase: an offscreen buffer where there is no display (EGL first, then software)."""
    settings = ["window-title vidgen_rt in Panda3D", "win-size 800 600", "audio-library-name null",
                "sync-video false" if offscreen else "sync-video true", "notify-level-device fatal",
                "notify-level-display error", "print-pipe-types false"]
    if offscreen:
        settings += ["window-type offscreen", "load-display p3headlessgl", "aux-display p3tinydisplay"]
    loadPrcFileData("panda3d_host", "\n".join(settings))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", help="a bundle: NAME.vgrt or NAME.vgrtpack (vidgen export WORLD -o NAME.vgrt [--pack])")
    parser.add_argument("--async", dest="asynchronous", action="store_true",
                        help="generate on the runtime's thread; show the newest frame each display frame")
    parser.add_argument("--offscreen", action="store_true", help="render into an offscreen buffer (no window)")
    parser.add_argument("--frames", type=int, default=None, help="quit after this many display frames")
    parser.add_argument("--keys", default="", help="scripted key events: KEY*N,... (Panda3D key names; '-' = none)")
    parser.add_argument("--out", help="save the last rendered scene (PNG)")
    parser.add_argument("--texture-out", help="save the TV texture read back from the graphics context (PNG)")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads (default 2: the game keeps the rest)")
    args = parser.parse_args()
    if args.offscreen and args.frames is None:
        parser.error("--offscreen needs --frames N")

    configure_panda(args.offscreen)
    from direct.showbase.ShowBase import ShowBase

    # Spinning pool threads would take the cores the renderer needs (docs/embedding.md, "Threads").
    stepper = open_stepper(args.bundle, "native", intra_op_threads=args.threads, allow_spinning=False)
    base = ShowBase()
    host = TelevisionHost(base, stepper, args.asynchronous)
    script = parse_key_script(args.keys)
    held = [None]

    def tick(task):
        # After Panda3D has dispatched this frame's keyboard events, before it renders.
        key = script[host.display] if host.display < len(script) else None
        if key != held[0]:  # a scripted key behaves as the keyboard: release, then press
            if held[0] is not None:
                base.messenger.send(held[0] + "-up")
            if key is not None:
                base.messenger.send(key)
            held[0] = key
        host.frame()
        return task.cont

    base.taskMgr.add(tick, "vidgen_rt world", sort=10)  # events run at sort 0, rendering at 50
    base.accept("escape", base.userExit)
    try:
        while args.frames is None or host.display < args.frames:
            base.taskMgr.step()
        if args.out:
            base.win.saveScreenshot(Filename.fromOsSpecific(args.out))
        if args.texture_out:
            from PIL import Image
            Image.fromarray(host.texture_from_gpu()).save(args.texture_out)
    finally:
        if args.asynchronous:
            stepper.stop()
        stats = stepper.stats()
        stepper.stream.close()
    mode = "asynchronous" if args.asynchronous else "synchronous"
    print(f"panda3d_host: {host.display} display frames ({mode}), {host.shown} frames uploaded, "
          f"last frame index {host.frame_index}, generation {stats['fps']:.1f} frames/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
