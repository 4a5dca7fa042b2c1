"""Reading a bundle: `load_bundle(path)` validates everything before anything runs it.

A bundle directory holds exactly the files its manifest names (graphs, context, engines) plus
`manifest.json`. The loader rejects, each with an error naming the file and field: a missing or
unreadable manifest, an unknown `format_version`, a schema violation, a path that leaves the bundle
(`..`, absolute, or a symlink out; ONNX external-data locations included), a missing or extra file, a
checksum mismatch, a file that is not ONNX, and graph inputs/outputs whose names, shapes or dtypes
differ from the manifest. Nothing is unpickled: the context is read with `allow_pickle=False`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError

from vidgen_rt.config import Config, from_dict
from vidgen_rt.errors import BundleError, ConfigError
from vidgen_rt.export.manifest import GRAPH_NAMES, MANIFEST_NAME as MANIFEST, check_manifest

ONNX_DTYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.FLOAT16: "float16",
               onnx.TensorProto.INT64: "int64", onnx.TensorProto.UINT8: "uint8",
               onnx.TensorProto.INT32: "int32", onnx.TensorProto.BOOL: "bool"}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Bundle:
    path: Path
    manifest: dict

    @property
    def config(self) -> Config:
        return from_dict(self.manifest["config"], where=f"{self.path / MANIFEST}: config")

    @property
    def batches(self) -> list[int]:
        return sorted(int(b) for b in self.manifest["graphs"])

    @property
    def action_names(self) -> list[str]:
        return list(self.manifest["actions"]["names"])

    def graph(self, name: str, batch: int = 1) -> dict:
        entry = self.manifest["graphs"].get(str(batch))
        if entry is None:
            raise BundleError(f"{self.path}: no graphs for batch {batch}; exported batch sizes: {self.batches}")
        return entry[name]

    def graph_path(self, name: str, batch: int = 1) -> Path:
        return self.path / self.graph(name, batch)["file"]

    def context(self) -> dict[str, np.ndarray]:
        """The default context: frames (K, H, W, 3) uint8, actions (K-1,) int64 [, cond, guide]."""
        return _read_context(self.path / self.manifest["context"]["file"], self.manifest)


def load_bundle(path) -> Bundle:
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"{path}: no such bundle directory")
    manifest = _read_manifest(path)
    check_manifest(manifest)
    try:
        from_dict(manifest["config"], where="config")
    except ConfigError as error:
        raise BundleError(f"{path / MANIFEST}: field 'config': {error}") from None
    listed = _listed_files(manifest)
    for field, name in listed.items():
        file = _inside(path, name, field)
        if not file.is_file():
            raise BundleError(f"{path / MANIFEST}: field {field!r}: file {name!r} is missing")
    _check_no_extra_files(path, set(listed.values()))
    for field, name in listed.items():
        expected = _sha_field(manifest, field)
        if sha256_of(path / name) != expected:
            raise BundleError(f"{path / name}: checksum mismatch with {MANIFEST} field {field!r} "
                              f"(the file was changed or truncated)")
    for batch, entry in manifest["graphs"].items():
        for graph in GRAPH_NAMES:
            _check_graph_signature(path, entry[graph], f"graphs.{batch}.{graph}")
    _read_context(path / manifest["context"]["file"], manifest)
    return Bundle(path=path, manifest=manifest)


def _read_manifest(path: Path) -> dict:
    try:
        return json.loads((path / MANIFEST).read_text())
    except FileNotFoundError:
        raise BundleError(f"{path}: not a bundle (no {MANIFEST})") from None
    except (OSError, ValueError) as error:
        raise BundleError(f"{path / MANIFEST}: unreadable ({error})") from None


def _listed_files(manifest: dict) -> dict[str, str]:
    """manifest field -> relative file name, for every file the bundle must hold."""
    files = {}
    for batch, entry in manifest["graphs"].items():
        for graph in GRAPH_NAMES:
            files[f"graphs.{batch}.{graph}.file"] = entry[graph]["file"]
    files["context.file"] = manifest["context"]["file"]
    for key, engine in manifest["engines"].items():
        if not isinstance(engine, dict) or "file" not in engine or "sha256" not in engine:
            raise BundleError(f"{MANIFEST}: field 'engines.{key}': expected an object with file and sha256")
        files[f"engines.{key}.file"] = engine["file"]
    for field, name in files.items():
        if not isinstance(name, str) or not name:
            raise BundleError(f"{MANIFEST}: field {field!r}: expected a file name")
    return files


def _sha_field(manifest: dict, field: str) -> str:
    node = manifest
    for key in field.split(".")[:-1]:
        node = node[key]
    return node["sha256"]


def _inside(root: Path, name: str, field: str) -> Path:
    """The file `name` under `root`, refusing anything that resolves outside it."""
    candidate = Path(name)
    resolved = (root / candidate).resolve()
    if candidate.is_absolute() or ".." in candidate.parts or not resolved.is_relative_to(root.resolve()):
        raise BundleError(f"{root / MANIFEST}: field {field!r}: path {name!r} leaves the bundle directory")
    return resolved


def _check_no_extra_files(path: Path, listed: set[str]) -> None:
    present = {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file() or p.is_symlink()}
    extra = sorted(present - listed - {MANIFEST})
    if extra:
        raise BundleError(f"{path}: files not named by {MANIFEST}: {', '.join(extra[:5])}")


def _check_graph_signature(root: Path, spec: dict, field: str) -> None:
    file = root / spec["file"]
    try:
        model = onnx.load(str(file), load_external_data=False)
    except (DecodeError, ValueError, OSError) as error:
        raise BundleError(f"{file}: not a valid ONNX model ({type(error).__name__}: {error})") from None
    for tensor in model.graph.initializer:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            location = {entry.key: entry.value for entry in tensor.external_data}.get("location", "")
            target = _inside(root, location, f"{field} external data of {tensor.name!r}")
            if not target.is_file():
                raise BundleError(f"{file}: external data {location!r} of {tensor.name!r} is missing")
    for kind, values in (("inputs", model.graph.input), ("outputs", model.graph.output)):
        actual = [{"name": v.name, "shape": [d.dim_value if d.HasField("dim_value") else d.dim_param
                                             for d in v.type.tensor_type.shape.dim],
                   "dtype": ONNX_DTYPES.get(v.type.tensor_type.elem_type, str(v.type.tensor_type.elem_type))}
                  for v in values]
        expected = spec[kind]
        if [a["name"] for a in actual] != [e["name"] for e in expected]:
            raise BundleError(f"{file}: {kind} are {[a['name'] for a in actual]}, {MANIFEST} field "
                              f"'{field}.{kind}' says {[e['name'] for e in expected]}")
        for a, e in zip(actual, expected):
            for key in ("shape", "dtype"):
                if a[key] != e[key]:
                    raise BundleError(f"{file}: {kind[:-1]} {a['name']!r} has {key} {a[key]}, {MANIFEST} field "
                                      f"'{field}.{kind}' says {e[key]}")


def _read_context(file: Path, manifest: dict) -> dict[str, np.ndarray]:
    frame = manifest["frame"]
    try:
        with np.load(file, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError) as error:
        raise BundleError(f"{file}: unreadable context ({error})") from None
    frames, actions = arrays.get("frames"), arrays.get("actions")
    count = manifest["context"]["frames"]
    if frames is None or frames.dtype != np.uint8 or frames.shape != (count, frame["height"], frame["width"], 3):
        raise BundleError(f"{file}: 'frames' must be uint8 ({count}, {frame['height']}, {frame['width']}, 3), "
                          f"got {None if frames is None else (frames.dtype.name, frames.shape)}")
    n_actions = len(manifest["actions"]["names"])
    if (actions is None or actions.dtype != np.int64 or actions.shape != (count - 1,)
            or (actions.size and (actions.min() < 0 or actions.max() >= n_actions))):
        raise BundleError(f"{file}: 'actions' must be int64 ({count - 1},) in 0..{n_actions - 1}")
    return arrays
