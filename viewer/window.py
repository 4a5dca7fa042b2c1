"""The platform half of `vidgen play`: a GLFW window (OpenGL 3.3 core), its keyboard, mouse and
gamepads, and the display loop that ties a `StreamController` to a renderer from embed.py and the HUD.

Every display refresh: poll input, apply the action, take the stream's newest frame (or, in lockstep,
step it), upload it if it changed, draw it — flat, or as the panorama seen from the current head
pose — then the HUD, and swap. Key events from the window and from a key script (`--key-script`,
for automation and tests: `FRAME press|release KEY` lines applied at the start of display frame
FRAME) go through the same handler, so a script exercises exactly what a player's keys do.
"""

from __future__ import annotations

import collections
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidgen_rt.data.flow import MOTIONS, is_flow_guided, motion_field
from vidgen_rt.errors import VidgenError
from vidgen_rt.viewer.controls import (KEY_NAMES, ActionKeys, command_keys, gamepad_actions,
                                       gamepad_choices, gamepad_inputs, motion_keys)

MOUSE_DEGREES_PER_PIXEL = 0.15
GAMEPAD_BUTTONS = ("a", "b", "x", "y", "left_bumper", "right_bumper", "back", "start", "guide", "left_thumb",
                   "right_thumb", "dpad_up", "dpad_right", "dpad_down", "dpad_left")
GAMEPAD_AXES = ("left_x", "left_y", "right_x", "right_y", "left_trigger", "right_trigger")


class GlfwWindow:
    """A window with a current OpenGL 3.3 core context; key events arrive as GLFW key names."""

    def __init__(self, width: int, height: int, title: str, vsync: bool = True):
        try:
            import glfw
        except ImportError as error:
            raise VidgenError(f"the window needs the viewer extras (pip install -e '.[viewer]'): {error}") from None
        self.glfw = glfw
        self.errors: list[str] = []
        glfw.ERROR_REPORTING = "ignore"
        glfw.set_error_callback(lambda code, text: self.errors.append(text.decode() if isinstance(text, bytes) else text))
        if not glfw.init():
            raise VidgenError(f"GLFW could not initialise ({'; '.join(self.errors) or 'no reason given'}): "
                              "is a display available (DISPLAY, or run under xvfb-run)?")
        for hint, value in ((glfw.CONTEXT_VERSION_MAJOR, 3), (glfw.CONTEXT_VERSION_MINOR, 3),
                            (glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE), (glfw.OPENGL_FORWARD_COMPAT, True)):
            glfw.window_hint(hint, value)
        self.handle = glfw.create_window(width, height, title, None, None)
        if not self.handle:
            glfw.terminate()
            raise VidgenError(f"GLFW could not create an OpenGL 3.3 core window "
                              f"({'; '.join(self.errors) or 'no reason given'})")
        glfw.make_context_current(self.handle)
        glfw.swap_interval(1 if vsync else 0)
        self.key_names = {getattr(glfw, f"KEY_{name}"): name for name in KEY_NAMES if hasattr(glfw, f"KEY_{name}")}
        self.on_key = lambda name, pressed: None
        self.mouse_delta = np.zeros(2)
        self._cursor = None
        glfw.set_key_callback(self.handle, self._key)
        glfw.set_cursor_pos_callback(self.handle, self._cursor_moved)

    def _key(self, handle, key, scancode, action, mods) -> None:
        if action != self.glfw.REPEAT and key in self.key_names:
            self.on_key(self.key_names[key], action == self.glfw.PRESS)

    def _cursor_moved(self, handle, x, y) -> None:
        if self._cursor is not None:
            self.mouse_delta += (x - self._cursor[0], y - self._cursor[1])
        self._cursor = (x, y)

    def capture_mouse(self) -> None:
        self.glfw.set_input_mode(self.handle, self.glfw.CURSOR, self.glfw.CURSOR_DISABLED)

    def take_mouse_delta(self) -> np.ndarray:
        delta, self.mouse_delta = self.mouse_delta, np.zeros(2)
        return delta

    def gamepad(self) -> tuple[dict, dict] | None:
        """(buttons, axes) of the first connected gamepad, or None."""
        glfw = self.glfw
        for joystick in range(glfw.JOYSTICK_1, glfw.JOYSTICK_LAST + 1):
            if glfw.joystick_is_gamepad(joystick):
                state = glfw.get_gamepad_state(joystick)
                if state:
                    return (dict(zip(GAMEPAD_BUTTONS, (bool(b) for b in state.buttons))),
                            dict(zip(GAMEPAD_AXES, (float(a) for a in state.axes))))
        return None

    @property
    def framebuffer_size(self) -> tuple[int, int]:
        return self.glfw.get_framebuffer_size(self.handle)

    @property
    def should_close(self) -> bool:
        return bool(self.glfw.window_should_close(self.handle))

    def poll(self) -> None:
        self.glfw.poll_events()

    def swap(self) -> None:
        self.glfw.swap_buffers(self.handle)

    def set_title(self, title: str) -> None:
        self.glfw.set_window_title(self.handle, title)

    def close(self) -> None:
        self.glfw.destroy_window(self.handle)
        self.glfw.terminate()


@dataclass
class ViewOptions:
    """How `play` shows a stream (the command line fills it)."""

    title: str = "vidgen play"
    size: tuple[int, int] = (512, 512)              # window width, height
    vsync: bool = True
    max_fps: float = 120.0                          # display refresh cap when nothing else paces it
    frames: int | None = None                       # quit after this many generated frames
    script: list[int] | None = None                 # scripted actions (lockstep)
    key_script: dict = field(default_factory=dict)  # display frame -> [(key, pressed)]
    screenshot: Path | None = None
    trace: Path | None = None                       # JSON lines: generated frame, action, sha1
    motion_script: list[str] | None = None          # a flow-guided world's scripted motions (lockstep)
    motion_pixels: float = 2.0                      # a flow-guided world's motion speed, pixels per frame
    record: Path | None = None
    record_fps: float = 30.0
    hud: bool = True
    filter: str = "nearest"
    vr: bool = False
    stereo: bool = False
    fov: float = 90.0
    pose: list[tuple[float, float]] | None = None   # (yaw, pitch) degrees per display frame


class Viewer:
    """The display loop of `vidgen play` (see the module docstring)."""

    def __init__(self, controller, manifest: dict, bindings: dict[str, int], options: ViewOptions):
        self.controller, self.options = controller, options
        self.names = list(manifest["actions"]["names"])
        self.head = manifest["head"]["kind"]  # "mse" or a flow head whose temperature [ and ] change
        self.keys = ActionKeys(bindings, default=int(manifest["actions"].get("default", 0)))
        self.commands = command_keys(bindings)
        self.choices = gamepad_choices(self.names, bindings)
        guide = (manifest["conditions"] or {}).get("guide") or {}
        self.motion_keys = motion_keys(bindings) if is_flow_guided(guide.get("names")) else None
        self.motion_fields = ({name: motion_field(name, guide["height"], guide["width"], options.motion_pixels)
                               for name in MOTIONS} if self.motion_keys else {})
        self.motion = "still"
        self.pending: list[str] = []
        self.yaw = self.pitch = 0.0
        self.message, self.message_until = "", 0.0
        self.display_times: collections.deque = collections.deque(maxlen=240)
        self.frame_times: collections.deque = collections.deque(maxlen=240)
        self.hud_on = options.hud
        self.display_frames = 0
        self.last_screen: np.ndarray | None = None

    def handle_key(self, name: str, pressed: bool) -> None:
        if pressed and name in self.commands:
            self.pending.append(self.commands[name])
        elif pressed:
            self.keys.press(name)
            if self.motion_keys:
                self.motion_keys.press(name)
        else:
            self.keys.release(name)
            if self.motion_keys:
                self.motion_keys.release(name)

    def say(self, text: str) -> None:
        print(text, flush=True)
        self.message, self.message_until = text, time.monotonic() + 3.0

    def run(self) -> dict:
        from vidgen_rt.viewer.embed import FrameRenderer, PanoramaRenderer
        from vidgen_rt.viewer.hud import Hud

        o = self.options
        window = GlfwWindow(*o.size, o.title, vsync=o.vsync)
        window.on_key = self.handle_key
        trace = open(o.trace, "w") if o.trace else None
        try:
            height, width = self.controller.frame.shape[:2]
            renderer = (PanoramaRenderer(height, width, filter=o.filter) if o.vr
                        else FrameRenderer(height, width, filter=o.filter))
            renderer.upload(self.controller.frame)
            self.hud = Hud()
            if o.vr and o.pose is None:
                window.capture_mouse()
            if o.record:
                self.controller.start_recording(o.record, o.record_fps)
            self._steer(self.controller)  # a guided stream needs its guide before the first frame
            self.controller.start()
            began = time.perf_counter()
            self._loop(window, renderer, trace)
            seconds = time.perf_counter() - began
        finally:
            if trace:
                trace.close()
            window.close()
        if o.screenshot is not None and self.last_screen is not None:
            from PIL import Image
            Image.fromarray(self.last_screen).save(o.screenshot)
        generated = self.controller.stepper.stats().get("frames", self.controller.generated)
        return {"frames": self.controller.generated, "generated": generated, "display_frames": self.display_frames,
                "seconds": seconds, "display_fps": self.display_frames / max(seconds, 1e-9),
                "generation_fps": generated / max(seconds, 1e-9)}

    def _loop(self, window: GlfwWindow, renderer, trace) -> None:
        from OpenGL import GL as gl

        from vidgen_rt.viewer.glutil import read_framebuffer

        o, controller = self.options, self.controller
        last = time.perf_counter()
        last_frame_at = last
        while True:
            window.poll()
            for key, pressed in o.key_script.get(self.display_frames, ()):
                self.handle_key(key, pressed)
            if window.should_close or not self._run_commands(window, renderer):
                break
            self._update_pose(window)
            pad = window.gamepad()
            self.keys.gamepad = gamepad_actions(gamepad_inputs(*pad), self.choices) if pad else []
            if o.script:
                controller.set_action(o.script[controller.generated % len(o.script)])
            else:
                controller.set_action(self.keys.action())
            self._steer(controller)
            generated_before = controller.generated
            if controller.poll():
                renderer.upload(controller.frame)
                now = time.perf_counter()
                self.frame_times.append((now - last_frame_at) * 1000)
                last_frame_at = now
            if trace and controller.generated != generated_before:
                frame = np.ascontiguousarray(controller.frame)
                entry = {"frame": controller.generated, "action": controller.action,
                         "sha1": hashlib.sha1(frame.tobytes()).hexdigest()}
                if self.motion_keys:
                    entry["motion"] = self.motion
                trace.write(json.dumps(entry) + "\n")
            width, height = window.framebuffer_size
            gl.glBindFramebuffer(gl.GL_FRAMEBUFFER, 0)
            gl.glViewport(0, 0, width, height)
            gl.glClearColor(0.0, 0.0, 0.0, 1.0)
            gl.glClear(gl.GL_COLOR_BUFFER_BIT)
            self._draw_frame(renderer, width, height)
            if self.hud_on:
                self._draw_hud(width, height)
            done = o.frames is not None and controller.generated >= o.frames
            if done or self.pending.count("screenshot"):
                self.last_screen = read_framebuffer(width, height)
                self._save_requested_screenshots()
            window.swap()
            self.display_frames += 1
            now = time.perf_counter()
            if not o.vsync and o.max_fps > 0:
                time.sleep(max(0.0, last + 1 / o.max_fps - now))
                now = time.perf_counter()
            self.display_times.append((now - last) * 1000)
            last = now
            if done:
                break

    def _steer(self, controller) -> None:
        """A flow-guided world: the motion of the next frame, scripted or from the held keys; the
        stream gets a new guide only when the motion changes."""
        if not self.motion_keys:
            return
        script = self.options.motion_script
        motion = script[controller.generated % len(script)] if script else self.motion_keys.action()
        if motion != self.motion or controller.guide is None:
            controller.set_guide(self.motion_fields[motion])
            self.motion = motion

    def _draw_frame(self, renderer, width: int, height: int) -> None:
        o = self.options
        if not o.vr:
            renderer.draw(0, 0, width, height)
        elif o.stereo:
            renderer.draw_stereo(0, 0, width, height, self.yaw, self.pitch, o.fov)
        else:
            renderer.draw(0, 0, width, height, self.yaw, self.pitch, o.fov)

    def _update_pose(self, window: GlfwWindow) -> None:
        o = self.options
        if not o.vr:
            return
        if o.pose:
            self.yaw, self.pitch = o.pose[min(self.display_frames, len(o.pose) - 1)]
            return
        dx, dy = window.take_mouse_delta() * MOUSE_DEGREES_PER_PIXEL
        self.yaw = (self.yaw + dx + 180.0) % 360.0 - 180.0
        self.pitch = float(np.clip(self.pitch - dy, -89.0, 89.0))

    def _run_commands(self, window: GlfwWindow, renderer) -> bool:
        """Carry out the queued viewer commands; False to quit. Screenshots wait for the draw."""
        controller, keep = self.controller, []
        for command in self.pending:
            if command == "quit":
                return False
            if command == "screenshot":
                keep.append(command)
            elif command == "pause":
                controller.toggle_pause()
                self.say("paused" if controller.paused else "resumed")
            elif command == "step" and controller.single_step():
                renderer.upload(controller.frame)
            elif command == "rewind":
                back = controller.rewind()
                renderer.upload(controller.frame)
                self.say("nothing to rewind" if back is None else f"rewound {back} frames")
            elif command == "reset":
                controller.reset()
                renderer.upload(controller.frame)
                self.say("reset to the context frames")
            elif command == "hud":
                self.hud_on = not self.hud_on
            elif command == "record":
                self._toggle_recording()
            elif command == "postprocess":
                try:
                    preset = controller.cycle_postprocess()
                    self.say("post-processing: " + ", ".join(f"{k} {v:g}" for k, v in preset.items()))
                except VidgenError as error:
                    self.say(str(error))
            elif command == "filter":
                renderer.filter = "linear" if renderer.filter == "nearest" else "nearest"
                self.say(f"filter: {renderer.filter}")
            elif command in ("colder", "warmer"):
                if self.head == "mse":
                    self.say("temperature: this world's head is deterministic (mse)")
                else:
                    self.say(f"temperature {controller.change_temperature(1 if command == 'warmer' else -1):.1f}")
        self.pending = keep
        return True

    def _toggle_recording(self) -> None:
        if self.controller.recorder is None:
            path = Path(time.strftime("vidgen-%Y%m%d-%H%M%S.mp4"))
            self.controller.start_recording(path, self.options.record_fps)
            self.say(f"recording to {path}")
        else:
            self.say(f"recorded {self.controller.recorder.frames} frames to {self.controller.stop_recording()}")

    def _save_requested_screenshots(self) -> None:
        from PIL import Image

        if "screenshot" in self.pending:
            path = Path(time.strftime("vidgen-%Y%m%d-%H%M%S.png"))
            Image.fromarray(self.last_screen).save(path)
            self.pending = [c for c in self.pending if c != "screenshot"]
            self.say(f"screenshot saved to {path}")

    def _draw_hud(self, width: int, height: int) -> None:
        controller = self.controller
        stats = controller.stepper.stats()

        def ms(section: str, key: str = "p50_ms") -> str:
            value = stats.get(section, {}).get(key)
            return "N/A" if value is None else f"{value:.1f}"

        display = np.asarray(self.display_times)[-60:]
        display_fps = 1000 / display.mean() if len(display) else 0.0
        flags = [name for name, on in (("PAUSED", controller.paused), ("REC", controller.recorder is not None),
                                       ("POST", controller.preset != 0), ("LOCKSTEP", controller.lockstep)) if on]
        lines = [f"GEN {stats.get('fps', 0.0):5.1f} FPS  DISPLAY {display_fps:5.1f} FPS",
                 f"STEP {ms('step')} MS  DECODE {ms('decode')} MS (P50)",
                 f"END TO END P50 {ms('total')} P99 {ms('total', 'p99_ms')} MS",
                 f"DROPPED {stats.get('dropped_frames', 0)}  FRAME {controller.generated}",
                 f"ACTION {self.names[controller.action]}"]
        if self.motion_keys:
            lines.append(f"MOTION {self.motion.upper()}")
        if self.head != "mse":
            lines.append(f"TEMP {controller.temperature:.1f}  K {controller.sampling_steps}")
        if self.options.vr:
            lines.append(f"YAW {self.yaw:+.0f} PITCH {self.pitch:+.0f}")
        if flags:
            lines.append(" ".join(flags))
        if self.message and time.monotonic() < self.message_until:
            lines.append(self.message[:60])
        self.hud.scale = max(1, min(width, height) // 400)
        self.hud.draw(width, height, lines, graphs=[(list(self.display_times), (0.3, 1.0, 0.3)),
                                                    (list(self.frame_times), (1.0, 0.6, 0.2))])
