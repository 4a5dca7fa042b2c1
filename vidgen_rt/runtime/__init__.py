"""vidgen_rt.runtime: driving bundles. `OrtStepper` is the Python reference driver of the step
contract; `Runtime` / `Stream` are the native runtime (libvidgen_rt, C++). Both import lazily, so
`import vidgen_rt` stays cheap."""

__all__ = ["OrtStepper", "Runtime", "Stream"]

_HOMES = {"OrtStepper": "vidgen_rt.runtime.ort_stepper", "Runtime": "vidgen_rt.runtime.native",
          "Stream": "vidgen_rt.runtime.native"}


def __getattr__(name):
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
