"""Input, platform-independent: keys and gamepads become the world's action and the viewer's
commands. Keys are named as GLFW names them without the KEY_ prefix ("W", "UP", "SPACE", "1", "F2"),
the names a bundle's manifest uses in `actions.key_bindings`; each platform half (the GLFW window,
the pygame example) translates its own key codes to these names.

The action is that of the most recently pressed key still held that is bound to one (so pressing
LEFT while holding W turns, and releasing LEFT walks on); with none held it is the manifest's
default action. Viewer commands have a letter and an F-key; a letter the manifest binds to an action
stays an action key, and the command keeps its F-key. A flow-guided world (docs/own-video.md) is
steered by motion keys instead: the arrows pan the picture and Z / X zoom in / out, through the
same most-recent-held-key rule; keys the world binds to actions keep their actions.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

from vidgen_rt.errors import ConfigError

NAMED_KEYS = {
    "SPACE", "APOSTROPHE", "COMMA", "MINUS", "PERIOD", "SLASH", "SEMICOLON", "EQUAL", "LEFT_BRACKET",
    "BACKSLASH", "RIGHT_BRACKET", "GRAVE_ACCENT", "ESCAPE", "ENTER", "TAB", "BACKSPACE", "INSERT", "DELETE",
    "RIGHT", "LEFT", "DOWN", "UP", "PAGE_UP", "PAGE_DOWN", "HOME", "END", "CAPS_LOCK", "SCROLL_LOCK",
    "NUM_LOCK", "PRINT_SCREEN", "PAUSE", "LEFT_SHIFT", "LEFT_CONTROL", "LEFT_ALT", "LEFT_SUPER",
    "RIGHT_SHIFT", "RIGHT_CONTROL", "RIGHT_ALT", "RIGHT_SUPER", "MENU",
}
KEY_NAMES = (NAMED_KEYS | set(string.ascii_uppercase) | set(string.digits)
             | {f"F{i}" for i in range(1, 26)} | {f"KP_{i}" for i in range(10)})

# command -> keys; the first key is given up when the manifest binds it to an action.
COMMANDS = {
    "quit": ("ESCAPE",), "pause": ("P", "F5"), "step": ("N", "F6"), "rewind": ("BACKSPACE", "F7"),
    "reset": ("R", "F8"), "hud": ("H", "F1"), "screenshot": ("F2",), "record": ("F3",),
    "postprocess": ("F4",), "filter": ("F9",), "colder": ("LEFT_BRACKET", "F10"), "warmer": ("RIGHT_BRACKET", "F11"),
}
RESERVED = {"ESCAPE"}

# Motion keys of a flow-guided world -> motion names of vidgen_rt.data.flow.MOTIONS.
MOTION_KEYS = {"LEFT": "left", "RIGHT": "right", "UP": "up", "DOWN": "down", "Z": "zoom_in", "X": "zoom_out"}

# Gamepad -> action names for worlds whose actions carry these names; other worlds get the d-pad and
# left stick as arrow keys and the south button as SPACE.
GAMEPAD_ACTIONS = {
    "forward": ("dpad_up", "left_up"), "backward": ("dpad_down", "left_down"),
    "turn_left": ("dpad_left", "right_left"), "turn_right": ("dpad_right", "right_right"),
    "strafe_left": ("left_left", "left_bumper"), "strafe_right": ("left_right", "right_bumper"),
}
GAMEPAD_KEYS = {"UP": ("dpad_up", "left_up"), "DOWN": ("dpad_down", "left_down"),
                "LEFT": ("dpad_left", "left_left"), "RIGHT": ("dpad_right", "left_right"), "SPACE": ("a",)}
STICK_DEAD_ZONE = 0.4


def check_key(name: str, where: str) -> str:
    if not isinstance(name, str) or name.upper() not in KEY_NAMES:
        raise ConfigError(f"{where}: unknown key {name!r}; expected a GLFW key name without KEY_ "
                          f"(e.g. W, UP, SPACE, 1, F2)")
    return name.upper()


def parse_bindings(manifest_actions: dict) -> dict[str, int]:
    """Key name -> action id from a manifest's `actions` (names, key_bindings), checked."""
    names = manifest_actions["names"]
    keys: dict[str, int] = {}
    for action, bound in manifest_actions.get("key_bindings", {}).items():
        where = f"manifest.json actions.key_bindings.{action}"
        if action not in names:
            raise ConfigError(f"{where}: no such action; the actions are {names}")
        for key in ([bound] if isinstance(bound, str) else bound):
            key = check_key(key, where)
            if key in RESERVED:
                raise ConfigError(f"{where}: {key} is reserved for quitting the viewer")
            if key in keys and keys[key] != names.index(action):
                raise ConfigError(f"{where}: {key} is already bound to {names[keys[key]]!r}")
            keys[key] = names.index(action)
    return keys


def command_keys(bindings: dict[str, int]) -> dict[str, str]:
    """Key name -> viewer command, leaving out keys that the world binds to actions."""
    return {key: command for command, keys in COMMANDS.items() for key in keys if key not in bindings}


@dataclass
class ActionKeys:
    """Held keys (and gamepad) -> the current action: an action id, or for `motion_keys` a motion name."""

    bindings: dict[str, int | str]
    default: int | str = 0
    held: list[str] = field(default_factory=list)  # bound keys, oldest press first
    gamepad: list[int] = field(default_factory=list)  # actions the gamepad asks for

    def press(self, key: str) -> None:
        if key in self.bindings and key not in self.held:
            self.held.append(key)

    def release(self, key: str) -> None:
        if key in self.held:
            self.held.remove(key)

    def clear(self) -> None:
        self.held.clear()

    def action(self) -> int:
        if self.held:
            return self.bindings[self.held[-1]]
        if self.gamepad:
            return self.gamepad[0]
        return self.default


def motion_keys(bindings: dict[str, int]) -> ActionKeys:
    """Held motion keys -> the motion name of a flow-guided world ("still" with none held), through
    the same most-recent-held-key rule as actions; keys the world binds to actions are left out."""
    return ActionKeys({key: motion for key, motion in MOTION_KEYS.items() if key not in bindings}, default="still")


def gamepad_inputs(buttons: dict[str, bool], axes: dict[str, float]) -> set[str]:
    """The pressed inputs of a gamepad state: button names, plus sticks past the dead zone as
    left_up / left_left / right_right ... (GLFW's y axis points down)."""
    pressed = {name for name, down in buttons.items() if down}
    for stick in ("left", "right"):
        x, y = axes.get(f"{stick}_x", 0.0), axes.get(f"{stick}_y", 0.0)
        for direction, value in (("left", -x), ("right", x), ("up", -y), ("down", y)):
            if value > STICK_DEAD_ZONE:
                pressed.add(f"{stick}_{direction}")
    return pressed


def gamepad_choices(action_names: list[str], bindings: dict[str, int]) -> list[tuple[tuple[str, ...], int]]:
    """(gamepad inputs, action id) in priority order: by action name where the world's actions
    carry the usual names, else through the keys the d-pad and stick stand for."""
    named = [(inputs, action_names.index(name)) for name, inputs in GAMEPAD_ACTIONS.items() if name in action_names]
    return named or [(inputs, bindings[key]) for key, inputs in GAMEPAD_KEYS.items() if key in bindings]


def gamepad_actions(pressed: set[str], choices) -> list[int]:
    """The actions a set of pressed gamepad inputs asks for, first = strongest."""
    return [action for inputs, action in choices if any(i in pressed for i in inputs)]


def parse_key_script(text: str) -> dict[int, list[tuple[str, bool]]]:
    """Key events for automation and tests, one per line: `FRAME press|release KEY` (display frame
    index from 0, GLFW key name); '#' starts a comment. -> {frame: [(key, pressed), ...]}."""
    events: dict[int, list[tuple[str, bool]]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].split()
        if not line:
            continue
        if len(line) != 3 or not line[0].isdigit() or line[1] not in ("press", "release"):
            raise ConfigError(f"key script line {number}: expected 'FRAME press|release KEY', got {raw.strip()!r}")
        events.setdefault(int(line[0]), []).append((check_key(line[2], f"key script line {number}"),
                                                    line[1] == "press"))
    return events
