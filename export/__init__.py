"""vidgen_rt.export: turn a trained world model into a runtime bundle.

A bundle is a directory `NAME.vgrt/` holding the ONNX graphs the runtime drives — `encode.onnx`
(RGB frame -> latents), `step.onnx` (one autoregressive step against an explicit KV ring cache) and
`decode.onnx` (latents -> RGBA frame) — plus `manifest.json` describing shapes, dtypes, the cache
layout, the action space and post-processing defaults, optional TensorRT engines and a few context
frames. This package exports those graphs, writes and reads bundles, and checks them for parity
against the PyTorch model. Installed as `vidgen_rt.export` (source folder `export/`).
"""
