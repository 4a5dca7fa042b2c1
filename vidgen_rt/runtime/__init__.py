"""vidgen_rt.runtime: driving bundles. `OrtStepper` is the Python reference driver of the step contract."""

from vidgen_rt.runtime.ort_stepper import OrtStepper

__all__ = ["OrtStepper"]
