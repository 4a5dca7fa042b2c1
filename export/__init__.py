"""vidgen_rt.export: runtime bundles — ONNX export, the bundle reader, graph rules, parity, TensorRT.

A bundle is a directory `NAME.vgrt/` holding the ONNX graphs the runtime drives — `encode.onnx`
(RGB uint8 frame -> latents), `step.onnx` (one autoregressive step against an explicit KV ring cache),
for a flow head `noise.onnx` and `sample.onnx`, and `decode.onnx` (latents -> RGBA uint8 frame), one
set per exported batch size — plus `manifest.json` (shapes, dtypes, the cache layout, the action
space, the head, post-processing defaults, the resolved training config), `context/` (raw tensors of
the real frames to start from, described in `context.tensors`) and optional TensorRT engines. The
same files packed into one `NAME.vgrtpack` (`vidgen export --pack`) open from memory.
Installed as `vidgen_rt.export` (source folder `export/`).
"""

from vidgen_rt.export.bundle import Bundle, load_bundle
from vidgen_rt.export.writer import export_bundle

__all__ = ["Bundle", "load_bundle", "export_bundle"]
