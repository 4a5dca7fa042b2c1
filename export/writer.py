"""Writing a bundle: `export_bundle(checkpoint, out, ...)` -> a validated `NAME.vgrt/` directory.

Everything is written into a temporary sibling directory, checked (graph rules, then the same
`load_bundle` every consumer uses) and renamed into place, so a failed or interrupted export leaves
no partial bundle behind. The context frames come from the checkpoint's built-in world (a held-out
seed), from the episode store it was trained on (its held-out episodes first), or from a store or
clip (video file, frame folder, STORE:EPISODE) the caller names; they are stored
as raw little-endian tensors (context/NAME.u8|i64|f32) that the manifest describes.

`write_pack(bundle, out)` writes the packed form of a bundle directory, NAME.vgrtpack (the layout is
in export/bundle.py and docs/export.md), through a staging file that the native validator checks
before it is renamed into place.
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from vidgen_rt.data.record import GUIDE_NAMES, play_episode
from vidgen_rt.data.store import EpisodeStore
from vidgen_rt.errors import BundleError, ConfigError, DataError
from vidgen_rt.worlds import HELD_OUT_SEED
from vidgen_rt.export.bundle import PACK_ALIGN, PACK_HEADER, PACK_MAGIC, PACK_SUFFIX, PACK_VERSION, load_bundle, \
    sha256_of
from vidgen_rt.export.graphs import OPSET, export_graphs
from vidgen_rt.export.manifest import MANIFEST_NAME, build_manifest, io_spec
from vidgen_rt.export.quantize import quantize_matmuls
from vidgen_rt.export.rules import check_graph_rules
from vidgen_rt.model.world_model import guide_to_tensor
from vidgen_rt.atomic import atomic_directory, atomic_file, write_json_atomic
from vidgen_rt.train.checkpoint import load_checkpoint, resolve_checkpoint

PRECISIONS = ("fp32", "fp16", "int8")
CONTEXT_DIR = "context"
CONTEXT_DTYPES = {"frames": "uint8", "actions": "int64", "cond": "float32", "guide": "float32"}
FILE_SUFFIXES = {"uint8": "u8", "int64": "i64", "float32": "f32"}
MAX_BATCH = 256


def parse_batches(text: str) -> list[int]:
    try:
        batches = sorted({int(item) for item in str(text).split(",") if item.strip()})
    except ValueError:
        raise ConfigError(f"--batch {text!r}: expected comma-separated batch sizes, e.g. 1,4") from None
    if not batches or batches[0] < 1 or batches[-1] > MAX_BATCH:
        raise ConfigError(f"--batch {text!r}: batch sizes must be between 1 and {MAX_BATCH}")
    return batches


def context_for(config, state: dict, context_store: Path | None) -> dict[str, np.ndarray]:
    """`window` real frames and the actions between them, to seed every stream; for a conditioned
    model also the cond vectors and normalised guide maps of frames 1..K-1 (those the context steps
    produce, as `WorldModel.start` takes them)."""
    m = config.model
    if context_store is None and state.get("world"):
        played = play_episode(state["world"], "explore", HELD_OUT_SEED, m.window, m.frame_height, m.frame_width,
                              guides=m.guide_channels > 0)
        episode = {"frames": played["frames"], "actions": played["actions"], "guide": played["guide"]}
        return _context_arrays(episode, m, state.get("guide_names") or GUIDE_NAMES)
    store_path = Path(context_store or state.get("data") or "")
    if context_store is not None and not (store_path / "index.json").is_file():
        return _clip_context(str(context_store), m, state)
    if not (store_path / "index.json").is_file():
        raise ConfigError(f"no context frames: the checkpoint's store {str(store_path)!r} is not here and it "
                          f"has no built-in world; pass --context STORE or CLIP (a video, frame folder or STORE:EPISODE)")
    store = EpisodeStore.open(store_path)
    held = store.held_out or []
    for episode in map(store.episode, [*held, *(i for i in range(len(store)) if i not in held)]):
        if len(episode) >= m.window and episode.frames.shape[1:3] == (m.frame_height, m.frame_width):
            arrays = {"frames": episode.frames, "actions": episode.actions, "cond": episode.cond,
                      "guide": episode.guide}
            return _context_arrays(arrays, m, store.guide_names)
    raise DataError(f"{store_path}: no episode of at least {m.window} frames of "
                    f"{m.frame_height}x{m.frame_width} for the context")


def _clip_context(spec: str, m, state: dict) -> dict[str, np.ndarray]:
    """The context from a clip, read as ingest reads it; a flow-guided world takes the clip's flow."""
    from vidgen_rt.data.flow import FLOW_GUIDE_NAMES, flow_guide
    from vidgen_rt.data.ingest import load_clip, preprocess_of

    clip = load_clip(spec, preprocess_of(state.get("data"), m.frame_height, m.frame_width), m.window)
    if len(clip["frames"]) < m.window:
        raise DataError(f"{spec}: has {len(clip['frames'])} frames; the context needs {m.window} (model.window)")
    guided = m.guide_channels and state.get("guide_names") == FLOW_GUIDE_NAMES
    clip["guide"] = flow_guide(clip["frames"]) if guided else None
    return _context_arrays(clip, m, FLOW_GUIDE_NAMES if guided else state.get("guide_names"))


def _context_arrays(episode: dict, m, guide_names) -> dict[str, np.ndarray]:
    """The context tensors; video without an input log takes the one action of an unconditional world."""
    K = m.window
    actions = episode["actions"] if episode["actions"] is not None else np.zeros(K, np.int64)
    context = {"frames": np.asarray(episode["frames"][:K]), "actions": np.asarray(actions[:K - 1], dtype=np.int64)}
    for name, size in (("cond", m.cond_dim), ("guide", m.guide_channels)):
        if size and episode.get(name) is None:
            raise DataError(f"the model takes {name!r} every step but the context source has none")
    if m.cond_dim:
        context["cond"] = np.asarray(episode["cond"][1:K], dtype=np.float32)
    if m.guide_channels:
        context["guide"] = guide_to_tensor(episode["guide"][1:K], guide_names).numpy()
    return context


def export_bundle(checkpoint, out: Path, batches=(1,), precision: str = "fp32", context_store=None,
                  overwrite: bool = False, quiet: bool = False) -> Path:
    if precision not in PRECISIONS:
        raise ConfigError(f"--precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    out = Path(out)
    if out.exists() and not overwrite:
        raise ConfigError(f"{out} exists; pass --overwrite to replace it")
    model, config, state = load_checkpoint(checkpoint)
    context = context_for(config, state, context_store)
    with atomic_directory(out) as staging:
        graphs = _write_graphs(model, precision, batches, staging, quiet)
        manifest = build_manifest(
            name=out.name.removesuffix(".vgrt"), config=config, precision=precision,
            action_names=state.get("action_names") or [str(i) for i in range(config.model.n_actions)],
            graphs=graphs,
            context=_write_context(context, staging),
            source={"checkpoint": str(checkpoint), "resolved": str(resolve_checkpoint(checkpoint)),
                    "world": state.get("world"), "stage": state.get("stage"), "step": state.get("step")},
            exporter={"name": "torch.onnx.export(dynamo=True)", "torch": torch.__version__, "opset": OPSET},
            guide_names=state.get("guide_names"),
        )
        write_json_atomic(staging / MANIFEST_NAME, manifest)
        load_bundle(staging)
    return out


def _write_context(context: dict[str, np.ndarray], directory: Path) -> dict:
    """Each context array as a raw little-endian file under context/; returns the manifest's
    `context` entry, which describes every file (dtype, shape, sha256) so a reader needs no format."""
    (directory / CONTEXT_DIR).mkdir()
    tensors = {}
    for name, array in context.items():
        dtype = CONTEXT_DTYPES[name]
        file = f"{CONTEXT_DIR}/{name}.{FILE_SUFFIXES[dtype]}"
        np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<")).tofile(directory / file)
        tensors[name] = {"file": file, "dtype": dtype, "shape": [int(d) for d in array.shape],
                         "sha256": sha256_of(directory / file)}
    return {"tensors": tensors}


def _write_graphs(model, precision: str, batches, directory: Path, quiet: bool) -> dict:
    """Export, quantize if asked, check the rules; returns the manifest's `graphs` table."""
    table = {}
    export_precision = "fp32" if precision == "int8" else precision
    for batch in tqdm(batches, desc=f"export {precision}", unit="batch size", disable=quiet):
        suffix = "" if batch == 1 else f"_b{batch}"
        paths = export_graphs(model, export_precision, batch, directory, suffix)
        if precision == "int8":
            quantize_matmuls(paths["step"])
        entry = {}
        for name in paths:
            check_graph_rules(paths[name], name, for_tensorrt=precision != "int8")
            entry[name] = {"file": paths[name].name, "sha256": sha256_of(paths[name]), **_signature(paths[name])}
        table[str(batch)] = entry
    if not table:
        raise BundleError("no batch sizes to export")
    return table


def _signature(path: Path) -> dict:
    import onnx

    dtypes = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.FLOAT16: "float16",
              onnx.TensorProto.INT64: "int64", onnx.TensorProto.INT32: "int32", onnx.TensorProto.UINT8: "uint8"}
    model = onnx.load(str(path), load_external_data=False)
    return {kind: [io_spec(v.name, [d.dim_value for d in v.type.tensor_type.shape.dim],
                           dtypes[v.type.tensor_type.elem_type]) for v in values]
            for kind, values in (("inputs", model.graph.input), ("outputs", model.graph.output))}


def pack_path(bundle: Path) -> Path:
    """Where `--pack` puts the packed form of `bundle`: NAME.vgrt -> NAME.vgrtpack beside it."""
    bundle = Path(bundle)
    return bundle.with_name(bundle.name.removesuffix(".vgrt") + PACK_SUFFIX)


def write_pack(bundle: Path, out: Path) -> Path:
    """The bundle directory `bundle` (validated first, checksums included) as one file `out`:
    manifest.json first, then every other file of the bundle in name order, each at a 64-byte-
    aligned offset. The staging file passes the native validator before it replaces `out`."""
    bundle, out = Path(bundle), Path(out)
    load_bundle(bundle)
    # The validator refuses unlisted files, so the directory's files are exactly manifest.json and
    # those the manifest names.
    names = sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file())
    names.remove(MANIFEST_NAME)
    files = [(name, (bundle / name).stat().st_size) for name in [MANIFEST_NAME, *names]]
    index = _pack_index(files)
    with atomic_file(out) as staging:
        with open(staging, "wb") as handle:
            handle.write(struct.pack("<8sII Q", PACK_MAGIC, PACK_VERSION, 0, len(index)).ljust(PACK_HEADER, b"\0"))
            handle.write(index)
            for entry in json.loads(index)["files"]:
                handle.write(b"\0" * (entry["offset"] - handle.tell()))
                with open(bundle / entry["name"], "rb") as source:
                    shutil.copyfileobj(source, handle, 1 << 20)
        load_bundle(staging)
    return out


def _pack_index(files: list[tuple[str, int]]) -> bytes:
    """The JSON index of `files` (name, size). Their offsets depend on the index's own length, so the
    room reserved for it grows until the index fits."""
    def align(offset: int) -> int:
        return -(-offset // PACK_ALIGN) * PACK_ALIGN

    room = PACK_ALIGN
    while True:
        offset = align(PACK_HEADER + room)
        entries = []
        for name, size in files:
            entries.append({"name": name, "offset": offset, "size": size})
            offset = align(offset + size)
        index = json.dumps({"files": entries}, separators=(",", ":")).encode()
        if len(index) <= room:
            return index
        room = align(len(index))
