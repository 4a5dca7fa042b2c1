"""Reading a bundle: `load_bundle(path)` returns what the native validator accepted.

Every rule a bundle must meet lives in one place, the native loader (native/src/bundle.cpp,
bundle_check.cpp; docs/architecture.md §9): regular files only, nothing leaving the bundle or
unlisted, the sha256 of every file, action names, every shape against the cache layout and the model
config, each graph's ONNX signature, the default context. `load_bundle` runs it through
`vidgen_rt._native.read_bundle`, which returns the manifest.json text it validated (read once, so
Python parses exactly the bytes that were checked), and wraps that text in a `Bundle`. The default
context is raw little-endian tensors the manifest describes; `Bundle.context()` reads them with a
size check. Nothing is unpickled.

A packed bundle (NAME.vgrtpack, docs/export.md) is the same files in one file: a 64-byte header
(magic "VGRTPACK", format version, index size), a JSON index of every file's offset and size, then
the files at 64-byte-aligned offsets. `load_bundle` hands its bytes to the same validator and reads
the index only after the validator accepted it. The writer is `export.writer.write_pack`.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from vidgen_rt import _native
from vidgen_rt.config import Config, from_dict
from vidgen_rt.errors import BundleError, ConfigError
from vidgen_rt.export.manifest import MANIFEST_NAME as MANIFEST, graph_names
from vidgen_rt.runtime.native import relabel

PACK_SUFFIX = ".vgrtpack"
PACK_MAGIC = b"VGRTPACK"
PACK_VERSION = 1
PACK_HEADER = 64   # bytes before the index
PACK_ALIGN = 64    # every file starts at a multiple of this


def sha256_of(path: Path) -> str:
    """The digest a manifest records for a file (writers record it; the native validator checks it)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Bundle:
    path: Path | None      # the bundle directory, the .vgrtpack file of a packed bundle, None from bytes
    manifest: dict
    pack_index: dict | None = None  # a packed bundle's files: name -> (offset, size)

    @cached_property
    def config(self) -> Config:
        return from_dict(self.manifest["config"], where=f"{self.path / MANIFEST}: config")

    @property
    def batches(self) -> list[int]:
        return sorted(int(b) for b in self.manifest["graphs"])

    @property
    def head(self) -> dict:
        """The manifest's `head`: kind ("mse", "flow_mlp", "flow_conv"), sampling_steps (default K),
        max_sampling_steps, fused_sampling_steps and the noise spec (docs/architecture.md §4)."""
        return self.manifest["head"]

    @property
    def is_flow(self) -> bool:
        return self.head["kind"] != "mse"

    @property
    def graph_names(self) -> tuple[str, ...]:
        return graph_names(self.head)

    @property
    def action_names(self) -> list[str]:
        return list(self.manifest["actions"]["names"])

    def graph(self, name: str, batch: int = 1) -> dict:
        entry = self.manifest["graphs"].get(str(batch))
        if entry is None:
            raise BundleError(f"{self.path}: no graphs for batch {batch}; exported batch sizes: {self.batches}")
        return entry[name]

    def graph_path(self, name: str, batch: int = 1) -> Path:
        if self.pack_index is not None:
            raise BundleError(f"{self.path}: a packed bundle's graphs are inside the pack; open it with the "
                              f"native runtime (backend 'native'), or use the bundle directory")
        return self.path / self.graph(name, batch)["file"]

    def cache_shape(self, batch: int) -> tuple[int, ...]:
        """The KV ring of a stream of `batch` players: (n_layers, 2, B, n_heads, cache_slots,
        tokens_per_frame, head_dim), the manifest's cache.layout."""
        self.graph("step", batch)  # refuses a batch size the bundle was not exported for
        c = self.manifest["cache"]
        return (c["n_layers"], 2, batch, c["n_heads"], c["cache_slots"], c["tokens_per_frame"], c["head_dim"])

    @property
    def cache_dtype(self) -> np.dtype:
        return np.dtype(self.manifest["cache"]["dtype"])

    @property
    def lag_sentinel(self) -> int:
        """The lag of an empty or expired slot (docs/architecture.md §10)."""
        return int(self.manifest["cache"]["lag_sentinel"])

    def context(self) -> dict[str, np.ndarray]:
        """The default context: frames (K, H, W, 3) uint8, actions (K-1,) int64 [, cond (K-1, Dc),
        guide (K-1, G, H, W) float32], each from its raw file under context/."""
        arrays = {}
        for name, spec in self.manifest["context"]["tensors"].items():
            data = self._read(spec["file"])
            dtype, shape = np.dtype(spec["dtype"]).newbyteorder("<"), tuple(spec["shape"])
            expected = int(np.prod(shape)) * dtype.itemsize
            if len(data) != expected:
                raise BundleError(f"{self.path / spec['file']}: {len(data)} bytes, {MANIFEST} field "
                                  f"'context.tensors.{name}' declares {list(shape)} {spec['dtype']} = {expected} bytes")
            arrays[name] = np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
        return arrays

    def _read(self, name: str) -> bytes:
        if self.path is None:
            raise BundleError(f"{name}: a bundle opened from bytes (Runtime.from_bytes) has no files to read here")
        if self.pack_index is None:
            return (self.path / name).read_bytes()
        offset, size = self.pack_index[name]
        with open(self.path, "rb") as handle:
            handle.seek(offset)
            return handle.read(size)


def load_bundle(path, verify_checksums: bool = True) -> Bundle:
    """The bundle at `path` once the native validator accepted it; BundleError naming the file and
    field otherwise. `verify_checksums=False` skips only the sha256 rule."""
    path = Path(path)
    if path.is_file():  # a packed bundle; anything else goes to the directory validator
        data = path.read_bytes()
        try:
            manifest = json.loads(_native.read_bundle(data, verify_checksums=verify_checksums))
        except BundleError as error:
            raise relabel(error, path) from None
        bundle = Bundle(path=path, manifest=manifest, pack_index=pack_index(path))
    else:
        manifest = json.loads(_native.read_bundle(str(path), verify_checksums=verify_checksums))
        bundle = Bundle(path=path, manifest=manifest)
    try:
        bundle.config  # parsed now, so a config the dataclasses refuse is a BundleError at load
    except ConfigError as error:
        raise BundleError(f"{path / MANIFEST}: field 'config': {error}") from None
    return bundle


def pack_index(path: Path) -> dict:
    """name -> (offset, size) of the files of a pack the native validator has accepted (its header
    and index are known to be intact); reads only those."""
    with open(path, "rb") as handle:
        (index_size,) = struct.unpack_from("<Q", handle.read(PACK_HEADER), 16)
        index = json.loads(handle.read(index_size))
    return {entry["name"]: (entry["offset"], entry["size"]) for entry in index["files"]}


def bundle_is_current(path) -> bool:
    """Whether `path` holds a bundle this runtime accepts, checksums aside: a cache of exports
    re-exports anything else (a format version 1 bundle, a half-deleted directory)."""
    try:
        _native.read_bundle(str(path), verify_checksums=False)
    except BundleError:
        return False
    return True
