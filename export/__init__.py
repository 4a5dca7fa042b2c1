"""vidgen_rt.export: the home of runtime bundles.

A bundle is a directory `NAME.vgrt/` holding the ONNX graphs the runtime drives — `encode.onnx`
(RGB frame -> latents), `step.onnx` (one autoregressive step against an explicit KV ring cache) and
`decode.onnx` (latents -> RGBA frame) — plus `manifest.json` describing shapes, dtypes, the cache
layout, the action space and post-processing defaults, optional TensorRT engines and a few context
frames. The exporter, the bundle reader and the parity checks are not written yet; until then this
package holds nothing but this description. Installed as `vidgen_rt.export` (source folder
`export/`).
"""
