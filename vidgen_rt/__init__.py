"""vidgen_rt: a real-time, interactive, autoregressive video generator (a neural game engine).

The Python package holds the built-in worlds, the data pipeline, the frame-causal world model, its
training and evaluation, and the command-line interface `vidgen`. A world is driven through one
factory, `vidgen_rt.open_stepper(source, backend)`; `vidgen_rt.WorldModelEnv` puts it behind the
Gymnasium API (needs the optional `gymnasium`).
"""

__version__ = "0.1.0"

__all__ = ["Runtime", "Stream", "WorldModelEnv", "__version__", "open_stepper"]

# Loaded on first use, keeping `import vidgen_rt` cheap (no torch, onnxruntime or native library).
_HOMES = {"Runtime": "vidgen_rt.runtime.native", "Stream": "vidgen_rt.runtime.native",
          "open_stepper": "vidgen_rt.runtime.factory", "WorldModelEnv": "vidgen_rt.env"}


def __getattr__(name):
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
