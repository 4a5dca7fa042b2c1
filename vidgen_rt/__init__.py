"""vidgen_rt: a real-time, interactive, autoregressive video generator (a neural game engine).

The Python package holds the built-in worlds, the data pipeline, the frame-causal world model, its
training and evaluation, and the command-line interface `vidgen`.
"""

__version__ = "0.1.0"

__all__ = ["Runtime", "Stream", "__version__"]


def __getattr__(name):
    # The native runtime loads on first use, keeping `import vidgen_rt` cheap.
    if name in ("Runtime", "Stream"):
        from vidgen_rt.runtime import native

        return getattr(native, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
