"""The episode store: a directory of recorded or ingested episodes that training memory-maps.

An episode is T >= 2 uint8 RGB frames, with optional per-frame int64 actions (`actions[t]` is taken
after seeing `frames[t]` and leads to `frames[t+1]`), float32 condition vectors and guide maps
(`cond[t]`, `guide[t]` belong to frame t). Each array of each episode is one `.npy` chunk under
`episodes/`, so a reader maps exactly the episodes it samples and never loads a whole data set.
`index.json` says what the store holds (frame size, action names, condition and guide specs, a
free-form `meta` dict) and lists every episode with its length and chunk files.

A store made by ingest or record names its held-out episodes in `meta["held_out"]` (episode
indices, chosen when the store is written, so before any training): training never samples them
and `vidgen eval` measures on them. A store without the key has no held-out split.

Nothing half-written ever looks valid: chunks are written to temp files, fsynced and renamed into
place; `index.json` is written last, the same way. A new store is built in a hidden staging sibling
directory (named for its writer, so the next `create` of the same store removes one a killed writer
left: vidgen_rt.atomic) and renamed into place on commit; an append writes new chunks beside the old
ones and swaps in a new index, so the old index stays readable until the very last rename.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidgen_rt.atomic import fsync_dir, remove_stale_staging, replace_directory, staging_path
from vidgen_rt.errors import DataError

FORMAT = "vidgen_rt.episode_store"
VERSION = 1
INDEX = "index.json"
ARRAYS = ("frames", "actions", "cond", "guide")
# The one action of a world trained on video without an input log (docs/architecture.md §10).
UNCONDITIONAL_ACTIONS = ("none",)
HELD_OUT_AUTO = "auto"  # create(held_out=...): a tenth of the episodes, at least one when there are two


def held_out_count(requested, episodes: int, where: str) -> int:
    """How many of `episodes` to hold out: `requested` episodes, or HELD_OUT_AUTO's share; a
    DataError when that leaves nothing to train on."""
    count = (episodes // 10 or (1 if episodes >= 2 else 0)) if requested == HELD_OUT_AUTO else requested
    if count >= episodes:
        raise DataError(f"{where}: holding out {count} of {episodes} episode(s) leaves none to train on; "
                        f"ingest more or shorter clips (--clip-frames) or lower --held-out")
    return count


@dataclass(frozen=True)
class Episode:
    """One episode's arrays; read-only memory maps when they come from a store."""

    frames: np.ndarray                 # (T, H, W, 3) uint8
    actions: np.ndarray | None = None  # (T,) int64
    cond: np.ndarray | None = None     # (T, Dc) float32
    guide: np.ndarray | None = None    # (T, G, H, W) float32 or uint8
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frames)


class EpisodeStore:
    """A validated, read-only view of a store on disk; `create` and `append` return writers."""

    def __init__(self, path: Path, index: dict):
        self.path = path
        self.height, self.width = index["height"], index["width"]
        self.action_names = index["action_names"]
        self.cond_dim = index["cond_dim"]
        self.guide_names = index["guide_names"]
        self.guide_dtype = index["guide_dtype"]
        self.meta = index["meta"]
        self._episodes = index["episodes"]
        self._arrays = list(_expected_arrays(index, 0))

    @property
    def held_out(self) -> list[int] | None:
        """The held-out episode indices chosen when the store was written, or None: no split."""
        return self.meta.get("held_out")

    def training_indices(self) -> list[int]:
        """Every episode that is not held out."""
        held = set(self.held_out or ())
        return [i for i in range(len(self)) if i not in held]

    @classmethod
    def create(cls, path, height: int, width: int, action_names: list[str] | None = None,
               cond_dim: int = 0, guide_names: list[str] | None = None, meta: dict | None = None,
               overwrite: bool = False, held_out: int | str | None = None) -> EpisodeWriter:
        """A writer for a new store; use it as a context manager (commits only without error).
        `held_out`: the number of last episodes to hold out, HELD_OUT_AUTO, or None for no split."""
        path = Path(path)
        if held_out is not None and held_out != HELD_OUT_AUTO and not (_is_int(held_out) and held_out >= 1):
            raise DataError(f"{path}: --held-out {held_out!r}: expected 1 or more episodes (evaluation "
                            f"measures on them; with none, nothing would be left to evaluate on)")
        _check_target(path, overwrite)
        index = _new_index(height, width, action_names, cond_dim, guide_names, meta)
        return EpisodeWriter(path, index, create=True, overwrite=overwrite, held_out=held_out)

    @classmethod
    def append(cls, path) -> EpisodeWriter:
        """A writer that adds episodes to an existing store; the old index stays until commit."""
        store = cls.open(path)
        return EpisodeWriter(store.path, _read_index(store.path), create=False)

    @classmethod
    def open(cls, path) -> EpisodeStore:
        """Open and validate a store: its index and every chunk's header and size."""
        path = Path(path)
        index = _read_index(path)
        for i, entry in enumerate(index["episodes"]):
            for name, (shape, dtypes) in _expected_arrays(index, entry["length"]).items():
                _check_chunk(path, f"episodes[{i}].{name}", entry.get(name), shape, dtypes)
        return cls(path, index)

    @property
    def guide_channels(self) -> int:
        return len(self.guide_names or ())

    @property
    def num_frames(self) -> int:
        return sum(self.episode_lengths())

    def __len__(self) -> int:
        return len(self._episodes)

    def episode_lengths(self) -> list[int]:
        return [entry["length"] for entry in self._episodes]

    def episode(self, i: int) -> Episode:
        if not -len(self) <= i < len(self):
            raise IndexError(f"episode {i} out of range: {self.path} holds {len(self)} episodes")
        entry = self._episodes[i]
        arrays = {name: np.load(self.path / entry[name], mmap_mode="r", allow_pickle=False)
                  for name in self._arrays}
        return Episode(**arrays, info=entry.get("info", {}))

    def __iter__(self):
        return (self.episode(i) for i in range(len(self)))

    def require_nonempty(self) -> EpisodeStore:
        if not self._episodes:
            raise DataError(f"episode store {self.path} contains no episodes")
        return self


class EpisodeWriter:
    """Adds episodes to a new or existing store; a context manager that commits only on success."""

    def __init__(self, path: Path, index: dict, create: bool, overwrite: bool = False,
                 held_out: int | str | None = None):
        self.path = path
        self._held_out = held_out
        self._index = index
        self._create = create
        self._overwrite = overwrite
        self._token = secrets.token_hex(4)
        self._base_episodes = list(index["episodes"])
        self._new_files: list[Path] = []
        self._done = False
        # A new store grows in a hidden sibling so a crash leaves nothing that looks like a store.
        if create:
            remove_stale_staging(path.parent, path.name)
        self._work = staging_path(path) if create else path
        (self._work / "episodes").mkdir(parents=True, exist_ok=not create)

    def __len__(self) -> int:
        return len(self._index["episodes"]) - len(self._base_episodes)

    def __enter__(self) -> EpisodeWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def add_episode(self, frames, actions=None, cond=None, guide=None, info: dict | None = None):
        if self._done:
            raise RuntimeError(f"writer for {self.path} is already committed or aborted")
        number = len(self._index["episodes"])
        where = f"{self.path}: episode {number}"
        arrays = _validate_episode(self._index, where, frames, actions, cond, guide)
        entry = {"length": len(arrays["frames"])}
        for name, array in arrays.items():
            rel = f"episodes/{number:06d}-{self._token}.{name}.npy"
            self._new_files.append(self._work / rel)
            _write_npy(self._work / rel, array)
            entry[name] = rel
        if info:
            entry["info"] = _json_checked(info, f"{where}: info")
        if "guide" in arrays and self._index["guide_dtype"] is None:
            self._index["guide_dtype"] = arrays["guide"].dtype.name
        self._index["episodes"].append(entry)

    def commit(self) -> None:
        if self._done:
            return
        try:
            if self._create:
                self._commit_new()
            else:
                self._commit_append()
        except BaseException:
            self.abort()
            raise
        self._done = True

    def abort(self) -> None:
        """Remove everything this writer wrote; an existing store keeps its old index and chunks."""
        self._done = True
        if self._create:
            shutil.rmtree(self._work, ignore_errors=True)
            return
        for path in self._new_files:
            path.unlink(missing_ok=True)
            path.with_name(path.name + ".tmp").unlink(missing_ok=True)

    def _commit_new(self) -> None:
        if self._held_out is not None:  # the last episodes: footage that comes after all trained on
            episodes = len(self._index["episodes"])
            count = held_out_count(self._held_out, episodes, str(self.path))
            self._index["meta"]["held_out"] = list(range(episodes - count, episodes))
        fsync_dir(self._work / "episodes")
        _write_index(self._work / INDEX, self._index)
        if self.path.exists() or self.path.is_symlink():
            _check_target(self.path, self._overwrite)  # it may have appeared since create()
        replace_directory(self._work, self.path)

    def _commit_append(self) -> None:
        # Another writer that committed meanwhile would lose its episodes to our index: refuse.
        if _read_index(self.path)["episodes"] != self._base_episodes:
            raise DataError(f"{self.path / INDEX} was changed by another writer during this append")
        fsync_dir(self.path / "episodes")
        _write_index(self.path / INDEX, self._index)


def _check_target(path: Path, overwrite: bool) -> None:
    """Refuse to replace anything but an episode store or an empty directory, even when asked to."""
    if not (path.exists() or path.is_symlink()):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DataError(f"cannot create episode store {path}: {error}") from None
        return
    if path.is_dir() and not any(path.iterdir()):
        return
    if not overwrite:
        raise DataError(f"{path} already exists; pass overwrite=True (--overwrite) to replace it")
    if not (path.is_dir() and (path / INDEX).is_file()):
        raise DataError(f"refusing to overwrite {path}: it is not an episode store (no {INDEX})")


def _new_index(height, width, action_names, cond_dim, guide_names, meta) -> dict:
    height, width, cond_dim = (int(v) if isinstance(v, np.integer) else v
                               for v in (height, width, cond_dim))  # e.g. from an array's shape
    index = {
        "format": FORMAT, "version": VERSION, "height": height, "width": width,
        "action_names": None if action_names is None else list(action_names),
        "cond_dim": cond_dim,
        "guide_names": None if guide_names is None else list(guide_names),
        "guide_dtype": None,
        "meta": _json_checked({} if meta is None else meta, "EpisodeStore.create: meta"),
        "episodes": [],
    }
    return _check_index("EpisodeStore.create", index)


def _read_index(path: Path) -> dict:
    if not path.is_dir():
        raise DataError(f"episode store {path} does not exist or is not a directory")
    index_path = path / INDEX
    if not index_path.is_file():
        raise DataError(f"{path} is not an episode store: {index_path} is missing")
    try:
        data = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"{index_path}: unreadable or corrupt JSON ({error})") from None
    return _check_index(str(index_path), data)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_names(value) -> bool:
    return (value is None or isinstance(value, list) and len(value) > 0
            and all(isinstance(n, str) and n for n in value) and len(set(value)) == len(value))


_INDEX_FIELDS = {
    "height": (lambda v: _is_int(v) and v > 0, "a positive integer"),
    "width": (lambda v: _is_int(v) and v > 0, "a positive integer"),
    "action_names": (_is_names, "null or a non-empty list of distinct names"),
    "cond_dim": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "guide_names": (_is_names, "null or a non-empty list of distinct names"),
    "guide_dtype": (lambda v: v in (None, "uint8", "float32"), 'null, "uint8" or "float32"'),
    "meta": (lambda v: isinstance(v, dict), "an object"),
    "episodes": (lambda v: isinstance(v, list), "a list"),
}


def _check_index(where: str, data) -> dict:
    """One schema check for both a new index and one read from disk."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DataError(f"{where}: not an episode store index (expected format {FORMAT!r})")
    if data.get("version") != VERSION:
        raise DataError(f"{where}: unsupported version {data.get('version')!r} "
                        f"(this vidgen_rt reads version {VERSION})")
    for key, (valid, expected) in _INDEX_FIELDS.items():
        if key not in data or not valid(data[key]):
            raise DataError(f"{where}: field {key!r} should be {expected}, got {data.get(key)!r}")
    for i, entry in enumerate(data["episodes"]):
        if not (isinstance(entry, dict) and _is_int(entry.get("length")) and entry["length"] >= 2):
            raise DataError(f"{where}: episodes[{i}] should be an object with 'length' >= 2")
    held = data["meta"].get("held_out")
    if held is not None and not (isinstance(held, list) and all(_is_int(i) for i in held)
                                 and len(set(held)) == len(held) < len(data["episodes"])
                                 and all(0 <= i < len(data["episodes"]) for i in held)):
        raise DataError(f"{where}: field 'meta.held_out' should be a list of distinct episode indices, "
                        f"fewer than the {len(data['episodes'])} episodes, got {held!r}")
    return data


def _expected_arrays(index: dict, length: int) -> dict[str, tuple[tuple, set[str]]]:
    """Shape and allowed dtypes of each array an episode of this store must have."""
    h, w = index["height"], index["width"]
    arrays = {"frames": ((length, h, w, 3), {"uint8"})}
    if index["action_names"] is not None:
        arrays["actions"] = ((length,), {"int64"})
    if index["cond_dim"]:
        arrays["cond"] = ((length, index["cond_dim"]), {"float32"})
    if index["guide_names"] is not None:
        dtypes = {index["guide_dtype"]} if index["guide_dtype"] else {"uint8", "float32"}
        arrays["guide"] = ((length, len(index["guide_names"]), h, w), dtypes)
    return arrays


def _check_chunk(root: Path, name: str, rel, shape: tuple, dtypes: set[str]) -> None:
    where = f"{root / INDEX}: {name}"
    if not isinstance(rel, str) or Path(rel).is_absolute() or ".." in Path(rel).parts:
        raise DataError(f"{where} should be a relative path inside the store, got {rel!r}")
    path = root / rel
    if not path.is_file():
        raise DataError(f"{where}: chunk file {path} is missing")
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            got_shape, fortran, dtype = read(f)
            data_start = f.tell()
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: not a readable .npy chunk ({error})") from None
    if got_shape != shape or dtype.name not in dtypes or fortran:
        raise DataError(f"{path}: expected shape {shape} {'/'.join(sorted(dtypes))}, "
                        f"got {got_shape} {dtype.name}")
    # math.prod of Python ints cannot overflow, so a header declaring terabytes is compared exactly.
    if path.stat().st_size < data_start + dtype.itemsize * math.prod(shape):
        raise DataError(f"{path}: truncated chunk (file is shorter than its {shape} array)")


_DECLARED_BY = {"actions": "action_names", "cond": "cond_dim > 0", "guide": "guide_names"}


def _validate_episode(index: dict, where: str, frames, actions, cond, guide) -> dict:
    """Check an episode against the store and return its arrays in their stored dtypes."""
    frames = np.asarray(frames)
    length = frames.shape[0] if frames.ndim else 0
    if length < 2:
        raise DataError(f"{where}: an episode needs at least 2 frames, got {length}")
    expected = _expected_arrays(index, length)
    given = {"frames": frames, "actions": actions, "cond": cond, "guide": guide}
    arrays = {}
    for name in ARRAYS:
        if (name in expected) != (given[name] is not None):
            state = "has" if name in expected else "has no"
            raise DataError(f"{where}: {name} {'missing' if name in expected else 'given'}; "
                            f"the store {state} {_DECLARED_BY[name]}")
        if name in expected:
            shape, dtypes = expected[name]
            arrays[name] = _convert(where, name, np.asarray(given[name]), shape, dtypes)
    if "actions" in arrays:
        _check_action_range(where, arrays["actions"], len(index["action_names"]))
    return arrays


def _convert(where: str, name: str, array: np.ndarray, shape: tuple, dtypes: set[str]):
    kind = array.dtype.kind
    if name == "frames" and array.dtype != np.uint8:
        raise DataError(f"{where}: frames must be uint8 RGB in 0..255, got {array.dtype} "
                        "(vidgen_rt.data.preprocess.to_uint8 converts floats in [0, 1])")
    if name == "actions":
        if kind not in "iu":
            raise DataError(f"{where}: actions must be integers, got {array.dtype}")
        array = array.astype(np.int64)
    elif kind == "f" or name == "cond" and kind in "iu":
        array = array.astype(np.float32)
        if not np.isfinite(array).all():
            bad = int(np.argwhere(~np.isfinite(array))[0][0])
            raise DataError(f"{where}: {name} has NaN or inf at frame {bad}")
    if array.shape != shape or array.dtype.name not in dtypes:
        raise DataError(f"{where}: {name} should be {'/'.join(sorted(dtypes))} of shape {shape}, "
                        f"got {array.dtype} {array.shape}")
    return array


def _check_action_range(where: str, actions: np.ndarray, count: int) -> None:
    bad = np.flatnonzero((actions < 0) | (actions >= count))
    if bad.size:
        t = int(bad[0])
        raise DataError(f"{where}: actions[{t}] = {int(actions[t])} is outside 0..{count - 1} "
                        f"(the store has {count} action names)")


def _json_checked(value: dict, where: str) -> dict:
    if not isinstance(value, dict):
        raise DataError(f"{where} should be a dict, got {type(value).__name__}")
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise DataError(f"{where} must be JSON-serializable ({error})") from None


def _atomic_write(path: Path, write) -> None:
    """Write through a fsynced temp file and rename it: readers see the old file or the new one."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _write_npy(path: Path, array: np.ndarray) -> None:
    _atomic_write(path, lambda f: np.save(f, np.ascontiguousarray(array), allow_pickle=False))


def _write_index(path: Path, index: dict) -> None:
    _atomic_write(path, lambda f: f.write(_index_text(index).encode("utf-8")))
    fsync_dir(path.parent)


def _index_text(index: dict) -> str:
    """An indented header and one line per episode: readable, and small for 100k episodes."""
    head = json.dumps({k: v for k, v in index.items() if k != "episodes"}, indent=1)
    rows = ",\n".join("  " + json.dumps(entry) for entry in index["episodes"])
    return f'{head[:-2]},\n "episodes": [\n{rows}\n ]\n}}\n'

