"""Parity of a bundle with the PyTorch model it came from, and with an ONNX implementation other than ORT.

Three figures, the ones `vidgen export --verify` prints:
- `teacher_forced_max_abs`: both sides step from the same input latents every step (real frames
  encoded by PyTorch), each with its own cache; the worst per-step max |Δ| of the predicted latents;
- `rollout_psnr`: free-running rollouts from the same context and actions, decoded frames compared
  (PyTorch fp32 vs the bundle; for fp16/int8 bundles this is their PSNR against fp32);
- `reference_max_abs`: `onnx.reference.ReferenceEvaluator` (numpy, independent of ORT) against ORT on
  the first steps of `step.onnx`, fed identical inputs.
Thresholds for fp32 bundles: 1e-4, 45 dB, 1e-4.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from tqdm import tqdm

from vidgen_rt.data.record import play_episode
from vidgen_rt.errors import CheckpointError
from vidgen_rt.export.bundle import Bundle
from vidgen_rt.metrics.image import PSNR_CAP_DB
from vidgen_rt.model.kv_ring import KVRing
from vidgen_rt.runtime.ort_stepper import OrtStepper
from vidgen_rt.train.checkpoint import load_checkpoint

THRESHOLDS = {"teacher_forced_max_abs": 1e-4, "rollout_psnr": 45.0, "reference_max_abs": 1e-4}
PROBE_SEED = 2_000_000  # a world seed no training or evaluation run uses


def probe_sequence(bundle: Bundle, frames: int) -> dict[str, np.ndarray]:
    """Real frames and actions to drive both sides: a random-policy episode of the bundle's world,
    or its context followed by seeded held actions when it has no built-in world."""
    config = bundle.config.model
    world = bundle.manifest["source"].get("world")
    context = bundle.context()
    K = len(context["frames"])
    if world:
        played = play_episode(world, "random", PROBE_SEED, K + frames, config.frame_height, config.frame_width)
        return {"frames": played["frames"], "actions": played["actions"], "context": K}
    rng = np.random.default_rng(PROBE_SEED)
    held = np.repeat(rng.integers(0, len(bundle.action_names), size=frames // 8 + 1), 8)[:frames]
    return {"frames": context["frames"], "actions": np.concatenate([context["actions"], [0], held]), "context": K}


def teacher_forced_errors(model, stepper: OrtStepper, latents: torch.Tensor, actions: np.ndarray) -> np.ndarray:
    """Per-step max |Δ| of next latents when both sides see latents[t] at step t (from empty caches)."""
    ring = KVRing(model.config, batch=1)
    stepper.reset(np.zeros((1, *stepper.bundle.context()["frames"].shape[1:]), np.uint8), np.zeros(0, np.int64))
    errors = []
    for t in range(len(latents)):
        action = torch.tensor([int(actions[t])])
        with torch.no_grad():
            expected, new_kv = model.dynamics.step(latents[t:t + 1], action, None, None, ring.kv, ring.lags)
        ring.push(new_kv)
        got = stepper._advance(latents[t:t + 1].numpy().astype(stepper.dtype), action.numpy(), None, None)
        errors.append(float(np.abs(got.astype(np.float64) - expected.numpy()).max()))
    return np.array(errors)


def rollout_psnr(model, stepper: OrtStepper, context_frames, context_actions, actions) -> tuple[float, float]:
    """PSNR (dB) between PyTorch fp32 and bundle rollouts over all frames; also the bundle's fps."""
    expected = model.rollout(context_frames, context_actions, actions)
    stepper.reset(context_frames, context_actions)
    began = time.perf_counter()
    got = np.stack([stepper.step(int(a))[0, ..., :3] for a in actions])
    fps = len(actions) / (time.perf_counter() - began)
    return sequence_psnr(got, expected), fps


def sequence_psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR over a whole uint8 sequence (one MSE over every pixel of every frame), capped."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return PSNR_CAP_DB if mse == 0 else min(PSNR_CAP_DB, 10.0 * np.log10(255.0 ** 2 / mse))


def reference_errors(stepper: OrtStepper, latents: np.ndarray, actions: np.ndarray) -> float:
    """Max |Δ| between ORT and onnx.reference.ReferenceEvaluator over the first len(latents) steps."""
    from onnx.reference import ReferenceEvaluator

    evaluator = ReferenceEvaluator(str(stepper.bundle.graph_path("step", stepper.batch)))
    stepper.reset(np.zeros((1, *stepper.bundle.context()["frames"].shape[1:]), np.uint8), np.zeros(0, np.int64))
    worst = 0.0
    for t in range(len(latents)):
        feeds = {"latents": latents[t:t + 1].astype(stepper.dtype), "action": np.array([actions[t]], np.int64),
                 "kv_cache": stepper.kv.copy(), "lags": stepper.lags.copy()}
        reference = evaluator.run(None, feeds)
        ort_outputs = stepper.sessions["step"].run(None, feeds)
        worst = max(worst, *(float(np.abs(r.astype(np.float64) - o).max()) for r, o in zip(reference, ort_outputs)))
        stepper._advance(feeds["latents"], feeds["action"], None, None)
    return worst


def verify_bundle(bundle: Bundle, checkpoint=None, steps: int = 256, reference_steps: int = 3,
                  threads: int | None = None, quiet: bool = False) -> dict:
    """All parity figures for one bundle (batch 1), with pass/fail against the fp32 thresholds."""
    stepper = OrtStepper(bundle, batch=1, threads=threads)
    spec = checkpoint or bundle.manifest["source"].get("resolved") or bundle.manifest["source"].get("checkpoint")
    probe = probe_sequence(bundle, steps + 1)
    K = probe["context"]
    report = {"bundle": str(bundle.path), "precision": bundle.manifest["precision"], "steps": steps}
    progress = tqdm(total=3, desc="verify", unit="check", disable=quiet)
    try:
        model, _, _ = load_checkpoint(spec)
    except CheckpointError:
        model = None
        report["torch"] = f"checkpoint {spec!r} not available: PyTorch parity skipped"
    real_latents = None
    if model is not None:
        report["checkpoint"] = str(spec)
        real_latents = model.encode_frames(probe["frames"][K - 1:K + steps - 1]) if bundle.manifest["source"].get(
            "world") else None
        if real_latents is not None:
            errors = teacher_forced_errors(model, stepper, real_latents, probe["actions"][K - 1:])
            report["teacher_forced_max_abs"] = float(errors.max())
            report["teacher_forced_mean_max_abs"] = float(errors.mean())
        progress.update()
        report["rollout_psnr"], report["ort_fps"] = rollout_psnr(
            model, stepper, probe["frames"][:K], probe["actions"][:K - 1], probe["actions"][K - 1:K - 1 + steps])
        progress.update()
    latents = (real_latents.numpy() if real_latents is not None
               else np.stack([stepper.encode(f[None])[0] for f in probe["frames"][:reference_steps]]))
    report["reference_max_abs"] = reference_errors(stepper, latents[:reference_steps], probe["actions"][:reference_steps])
    progress.update()
    progress.close()
    if report["precision"] == "fp32":
        report["passed"] = all(_meets(key, report[key]) for key in THRESHOLDS if key in report)
    return report


def _meets(key: str, value: float) -> bool:
    return value >= THRESHOLDS[key] if key.endswith("psnr") else value <= THRESHOLDS[key]


def format_report(report: dict) -> str:
    lines = [f"bundle {report['bundle']} ({report['precision']}, {report['steps']} steps)"]
    labels = {"teacher_forced_max_abs": "teacher-forced max |Δ latents| (ORT vs PyTorch)",
              "rollout_psnr": "free-running rollout PSNR, dB (vs PyTorch fp32)",
              "reference_max_abs": "max |Δ| ORT vs onnx.reference evaluator"}
    for key, label in labels.items():
        if key in report:
            bound = THRESHOLDS[key]
            verdict = "" if report["precision"] != "fp32" else (" ok" if _meets(key, report[key]) else " FAIL")
            limit = f">= {bound}" if key.endswith("psnr") else f"<= {bound:g}"
            lines.append(f"  {label:52s} {report[key]:.3g}  (fp32 target {limit}){verdict}")
    if "torch" in report:
        lines.append(f"  {report['torch']}")
    if "ort_fps" in report:
        lines.append(f"  ORT reference driver speed: {report['ort_fps']:.0f} frames/s (step + decode, Python)")
    return "\n".join(lines)
