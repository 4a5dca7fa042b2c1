"""Input logs for ingested video: which action was taken at each frame (docs/own-video.md).

A log is a CSV file or JSON lines (`.jsonl`, `.ndjson`), one row per frame or one per timestamp:

    # actions: noop, left, right         optional: the action names, in id order
    # bind: a=left, d=right              optional: a key-binding table; rows may then name keys
    frame,action                         header: `frame` or `time` (seconds), then `action` or `key`
    0,noop
    1,left

    {"actions": ["noop", "left", "right"], "bindings": {"a": "left"}}    optional first line
    {"time": 0.0, "key": "a"}

A frame log has exactly one row per frame, frames 0, 1, 2, ... in order. A time log lists events:
each frame (frame t is at t / fps seconds) takes the action of the last event at or before it, and
frames before the first event take action 0, so the idle action belongs first. A cell is an action
name, a bound key, or an action id. The names come from the log, the `--action-names` flag, or,
when neither declares them, the names the logs use in order of first appearance; a cell naming
anything else is an error that names the file and line, as is a log whose length disagrees with
its video's.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidgen_rt.errors import DataError

POSITIONS = ("frame", "time")
CELLS = ("action", "key")
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")


@dataclass
class ActionLog:
    """One log as read: its rows are (line number, frame index or seconds, cell text)."""

    path: Path
    position: str                                   # "frame" or "time"
    rows: list[tuple[int, float, str]]
    names: list[str] | None = None
    bindings: dict[str, str] = field(default_factory=dict)

    def track(self, names: list[str], bindings: dict[str, str], fps: float | None) -> ActionTrack:
        """The log's actions as ids of `names`; DataError naming the line of an unknown action."""
        ids = np.array([self._action_id(line, cell, names, {**bindings, **self.bindings})
                        for line, _, cell in self.rows], dtype=np.int64)
        if self.position == "time" and fps is None:
            raise DataError(f"{self.path}: a time log needs a video's frame rate; this source is a frame "
                            f"folder, so give one row per frame (a `frame` column)")
        return ActionTrack(self, ids, fps)

    def _action_id(self, line: int, cell: str, names: list[str], bindings: dict[str, str]) -> int:
        name = bindings.get(cell, cell)
        if name in names:
            return names.index(name)
        if name.isdigit() and int(name) < len(names):
            return int(name)
        raise DataError(f"{self.path}:{line}: unknown action {cell!r}; expected one of {names}"
                        + (f", a key of {sorted(bindings)}" if bindings else "") + f" or an id 0..{len(names) - 1}")


@dataclass
class ActionTrack:
    """A log's action ids, read a clip at a time while its video decodes, then checked against the
    video's length."""

    log: ActionLog
    ids: np.ndarray      # (rows,) int64
    fps: float | None    # frames per second of the video, for a time log

    def slice(self, start: int, stop: int) -> np.ndarray:
        """(stop - start,) int64: the actions of frames start..stop-1."""
        if self.log.position == "frame":
            return self.ids[start:stop]  # shorter when the log is: check() names that
        times = np.array([at for _, at, _ in self.log.rows])
        chosen = np.searchsorted(times, np.arange(start, stop) / self.fps, side="right") - 1
        return np.where(chosen >= 0, self.ids[np.maximum(chosen, 0)], 0)  # before the first event: action 0

    def check(self, frames: int) -> None:
        """DataError when the log is longer or shorter than the video's `frames` frames."""
        path, rows = self.log.path, self.log.rows
        if self.log.position == "frame" and len(rows) != frames:
            longer = "longer" if len(rows) > frames else "shorter"
            raise DataError(f"{path}: the log is {longer} than its video: {len(rows)} frame rows for "
                            f"{frames} frames (a frame log has one row per frame)")
        if self.log.position == "time" and rows[-1][1] >= frames / self.fps:
            raise DataError(f"{path}:{rows[-1][0]}: the log is longer than its video: an event at "
                            f"{rows[-1][1]:g} s, after the video's {frames} frames "
                            f"({frames / self.fps:.3f} s at {self.fps:g} frames/s)")


def read_action_log(path) -> ActionLog:
    """Read and check one log's layout (not yet its actions: those need every log's names)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: unreadable action log ({error})") from None
    log = _read_jsonl(path, text) if path.suffix.lower() in JSON_SUFFIXES else _read_csv(path, text)
    if not log.rows:
        raise DataError(f"{path}: the action log has no rows")
    _check_positions(log)
    return log


def action_names(logs: list[ActionLog], declared: list[str] | None = None) -> list[str]:
    """The store's action names: `declared` (the flag), else the logs' own (which must agree), else
    the names the rows use, in order of first appearance."""
    own = [log.names for log in logs if log.names is not None]
    if declared is None and own:
        declared = own[0]
        for log in logs:
            if log.names is not None and log.names != declared:
                raise DataError(f"{log.path}: declares actions {log.names}, but {logs[0].path} declares {declared}")
    if declared is not None:
        return _checked_names(declared, "--action-names")
    bound = {key: name for log in logs for key, name in log.bindings.items()}
    used = [bound.get(cell, cell) for log in logs for _, _, cell in log.rows]
    if all(cell.isdigit() for cell in used):
        return [str(i) for i in range(max(int(cell) for cell in used) + 1)]
    return list(dict.fromkeys(used))


def parse_bindings(text: str | None, where: str = "--bindings") -> dict[str, str]:
    """'a=left, d=right' -> {"a": "left", "d": "right"}."""
    bindings = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, name = (part.strip() for part in item.partition("="))
        if not (sep and key and name):
            raise DataError(f"{where}: expected KEY=ACTION pairs such as 'a=left, d=right', got {item.strip()!r}")
        bindings[key] = name
    return bindings


def _checked_names(names: list[str], where: str) -> list[str]:
    if not names or not all(isinstance(n, str) and n.strip() for n in names) or len(set(names)) != len(names):
        raise DataError(f"{where}: expected a non-empty list of distinct action names, got {names!r}")
    return [n.strip() for n in names]


def _read_csv(path: Path, text: str) -> ActionLog:
    names, bindings, lines = None, {}, []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("#"):
            key, _, value = line[1:].partition(":")
            if key.strip() == "actions":
                names = _checked_names([n.strip() for n in value.split(",")], f"{path}:{number}")
            elif key.strip() == "bind":
                bindings.update(parse_bindings(value, f"{path}:{number}"))
        elif line:
            lines.append((number, raw))
    if not lines:
        raise DataError(f"{path}: the action log has no header row (expected e.g. 'frame,action')")
    header_line, header = lines[0]
    columns = [c.strip().lower() for c in next(csv.reader([header]))]
    position = next((c for c in POSITIONS if c in columns), None)
    cell = next((c for c in CELLS if c in columns), None)
    if position is None or cell is None:
        raise DataError(f"{path}:{header_line}: header {header.strip()!r} should name a 'frame' or 'time' "
                        f"column and an 'action' or 'key' column")
    rows = []
    for number, raw in lines[1:]:
        values = next(csv.reader([raw]))
        if len(values) != len(columns):
            raise DataError(f"{path}:{number}: expected {len(columns)} values ({header.strip()}), got {raw.strip()!r}")
        record = dict(zip(columns, (v.strip() for v in values)))
        rows.append((number, _position(path, number, position, record[position]), record[cell]))
    return ActionLog(path, position, rows, names, bindings)


def _read_jsonl(path: Path, text: str) -> ActionLog:
    names, bindings, rows, position = None, {}, [], None
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}:{number}: not a JSON object ({error.msg})") from None
        if not isinstance(record, dict):
            raise DataError(f"{path}:{number}: expected a JSON object, got {raw.strip()!r}")
        if not rows and ("actions" in record and isinstance(record["actions"], list) or "bindings" in record):
            names = _checked_names(record["actions"], f"{path}:{number}") if "actions" in record else names
            if not isinstance(record.get("bindings", {}), dict):
                raise DataError(f"{path}:{number}: 'bindings' should be an object of key -> action name")
            bindings.update({str(k): str(v) for k, v in record.get("bindings", {}).items()})
            continue
        here = next((p for p in POSITIONS if p in record), None)
        cell = next((c for c in CELLS if c in record), None)
        if here is None or cell is None or position not in (None, here):
            raise DataError(f"{path}:{number}: expected {{\"{position or 'frame'}\": ..., \"action\" or \"key\": ...}}, "
                            f"got {raw.strip()!r}")
        position = here
        rows.append((number, _position(path, number, here, str(record[here])), str(record[cell])))
    return ActionLog(path, position or "frame", rows, names, bindings)


def _position(path: Path, number: int, position: str, value: str) -> float:
    try:
        at = int(value) if position == "frame" else float(value)
    except ValueError:
        raise DataError(f"{path}:{number}: {position} {value!r} is not a "
                        f"{'frame number' if position == 'frame' else 'time in seconds'}") from None
    if not math.isfinite(at) or at < 0:
        raise DataError(f"{path}:{number}: {position} {value!r} should be >= 0")
    return at


def _check_positions(log: ActionLog) -> None:
    """Frame rows are 0, 1, 2, ... exactly; time rows never go back."""
    for k, (line, at, _) in enumerate(log.rows):
        if log.position == "frame" and at != k:
            raise DataError(f"{log.path}:{line}: frame {at:g} where frame {k} was expected "
                            f"(a frame log has one row per frame, in order from 0)")
        if log.position == "time" and k and at < log.rows[k - 1][1]:
            raise DataError(f"{log.path}:{line}: time {at:g} s comes before the previous row's "
                            f"{log.rows[k - 1][1]:g} s (events must be in time order)")
