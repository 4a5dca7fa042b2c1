"""TensorRT engines for a bundle, built with the Python `tensorrt` API where it is installed.

Each graph of each batch size becomes a serialized engine (`engines/<name>.plan`) built from the
bundle's fp16 (or fp32) ONNX: a strongly typed network (precision comes from the graph's own types,
so the engine computes what the ONNX says), static shapes, and a timing cache shared by the builds.
Engines are specific to a GPU model, a TensorRT version and the build settings, so the file name
encodes all three; an engine already in the bundle under its name is reused, not rebuilt. The
manifest's `engines` table lists each plan with its checksum, and is rewritten atomically.

Without TensorRT (or without a CUDA GPU) `build_engines` raises `TensorRTUnavailable` with a message
saying what is missing; nothing in the bundle changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

from vidgen_rt.errors import VidgenError
from vidgen_rt.export.bundle import Bundle, load_bundle, sha256_of
from vidgen_rt.export.manifest import MANIFEST_NAME
from vidgen_rt.atomic import write_json_atomic

ENGINE_DIR = "engines"
TIMING_CACHE = "timing.cache"
DEFAULT_WORKSPACE_MB = 1024


class TensorRTUnavailable(VidgenError):
    """TensorRT's Python package or a CUDA GPU is missing on this machine."""


def engine_settings(precision: str, workspace_mb: int = DEFAULT_WORKSPACE_MB) -> dict:
    return {"strongly_typed": True, "precision": precision, "workspace_mb": workspace_mb, "static_shapes": True}


def settings_digest(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


def engine_name(graph: str, batch: int, gpu_name: str, compute_capability: str, trt_version: str,
                settings: dict) -> str:
    """e.g. step-b1-nvidia-h100-80gb-hbm3-sm90-trt10.15.1-fp16-3f2a9c1d0e.plan"""
    return (f"{graph}-b{batch}-{slug(gpu_name)}-sm{compute_capability.replace('.', '')}-"
            f"trt{trt_version}-{settings['precision']}-{settings_digest(settings)}.plan")


def _import_tensorrt():
    try:
        import tensorrt
    except ImportError:
        raise TensorRTUnavailable(
            "TensorRT is not available: the Python package 'tensorrt' is not installed (it comes from "
            "NVIDIA's package index, with a CUDA GPU driver). Bundles run on ONNX Runtime without it.") from None
    return tensorrt


def _gpu() -> tuple[str, str]:
    import torch

    if not torch.cuda.is_available():
        raise TensorRTUnavailable("TensorRT engines need a CUDA GPU, and none is visible to this process")
    major, minor = torch.cuda.get_device_capability(0)
    return torch.cuda.get_device_name(0), f"{major}.{minor}"


def build_engines(bundle_path, workspace_mb: int = DEFAULT_WORKSPACE_MB, quiet: bool = False) -> dict:
    """Build (or reuse) an engine per graph and batch size; returns the manifest's `engines` table."""
    bundle = load_bundle(bundle_path)
    if bundle.manifest["precision"] == "int8":
        raise VidgenError(f"{bundle.path}: int8 bundles use ONNX Runtime's dynamic quantization, which TensorRT "
                          f"does not parse; export with --precision fp16 for TensorRT")
    trt = _import_tensorrt()
    gpu_name, capability = _gpu()
    settings = engine_settings(bundle.manifest["precision"], workspace_mb)
    engines = dict(bundle.manifest["engines"])
    directory = bundle.path / ENGINE_DIR
    directory.mkdir(exist_ok=True)
    logger = trt.Logger(trt.Logger.ERROR if quiet else trt.Logger.WARNING)
    timing_cache = directory / TIMING_CACHE
    for batch in bundle.batches:
        for graph in bundle.graph_names:
            name = engine_name(graph, batch, gpu_name, capability, trt.__version__, settings)
            key = f"{graph}-b{batch}"
            if engines.get(key, {}).get("file") == f"{ENGINE_DIR}/{name}" and (directory / name).is_file():
                continue
            plan = _build_one(trt, logger, bundle.graph_path(graph, batch), settings, timing_cache)
            _write_atomic(directory / name, plan)
            engines[key] = {"file": f"{ENGINE_DIR}/{name}", "sha256": sha256_of(directory / name),
                            "gpu": gpu_name, "compute_capability": capability,
                            "tensorrt": trt.__version__, "settings": settings}
    _record_engines(bundle, engines)
    return engines


def _build_one(trt, logger, onnx_path: Path, settings: dict, timing_cache: Path) -> bytes:
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise VidgenError(f"{onnx_path}: TensorRT's ONNX parser rejected the graph: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, settings["workspace_mb"] << 20)
    cache = config.create_timing_cache(timing_cache.read_bytes() if timing_cache.is_file() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise VidgenError(f"{onnx_path}: TensorRT failed to build an engine (see the log above)")
    _write_atomic(timing_cache, bytes(memoryview(config.get_timing_cache().serialize())))
    return bytes(memoryview(plan))


def _write_atomic(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(temp, path)


def _record_engines(bundle: Bundle, engines: dict) -> None:
    """Name the engines (and the timing cache, as an engine-table entry) in the manifest."""
    cache = bundle.path / ENGINE_DIR / TIMING_CACHE
    if cache.is_file():
        engines["timing-cache"] = {"file": f"{ENGINE_DIR}/{TIMING_CACHE}", "sha256": sha256_of(cache)}
    manifest = dict(bundle.manifest, engines=engines)
    write_json_atomic(bundle.path / MANIFEST_NAME, manifest)
    load_bundle(bundle.path)
