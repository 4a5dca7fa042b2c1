"""vidgen_rt.runtime: driving worlds through one interface (docs/architecture.md §4).

`open_stepper(source, backend)` (factory.py) opens a `Stepper` (stepper.py) on one of three
implementations: `TorchStepper` (PyTorch), `OrtStepper` (the numpy + ONNX Runtime reference driver)
and the native runtime's `Stream` (`Runtime` / `Stream`, libvidgen_rt). Everything imports lazily,
so `import vidgen_rt` stays cheap.
"""

__all__ = ["OrtStepper", "Runtime", "Stepper", "StepperInfo", "Stream", "TorchStepper", "open_stepper"]

_HOMES = {"OrtStepper": "vidgen_rt.runtime.ort_stepper", "Runtime": "vidgen_rt.runtime.native",
          "Stream": "vidgen_rt.runtime.native", "Stepper": "vidgen_rt.runtime.stepper",
          "StepperInfo": "vidgen_rt.runtime.stepper", "TorchStepper": "vidgen_rt.runtime.torch_stepper",
          "open_stepper": "vidgen_rt.runtime.factory"}


def __getattr__(name):
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
