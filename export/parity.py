"""Parity of a bundle with the PyTorch model it came from, and with an ONNX implementation other than ORT.

Three figures, the ones `vidgen export --verify` prints:
- `teacher_forced_max_abs`: both sides step from the same input latents every step (real frames
  encoded by PyTorch), each with its own cache; the worst per-step max |Δ| of the predicted latents;
- `rollout_psnr`: free-running rollouts from the same context and actions, decoded frames compared
  (PyTorch fp32 vs the bundle; for fp16/int8 bundles this is their PSNR against fp32);
- `reference_max_abs`: `onnx.reference.ReferenceEvaluator` (numpy, independent of ORT) against ORT on
  the first steps of `step.onnx` (and, for a flow head, of `noise.onnx` and `sample.onnx`), fed
  identical inputs.
Thresholds for fp32 bundles: 1e-4, 45 dB, 1e-4. For a flow head both sides sample with the same stream
options (seed 0, temperature 1, the bundle's K), so the teacher-forced figure covers the sampled path
step by step. Its free-running rollout is judged at temperature 0 (the head's deterministic output):
sampled trajectories separate once float-level differences change one sample, as any sampler's do
(the shipped maze: 55 dB at temperature 0, 19 dB at temperature 1 over 256 frames), so the sampled
rollout's PSNR is reported beside it (`rollout_psnr_sampled`) without a threshold.
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
from vidgen_rt.model.world_model import guide_to_tensor
from vidgen_rt.runtime.factory import open_stepper
from vidgen_rt.train.checkpoint import load_checkpoint

THRESHOLDS = {"teacher_forced_max_abs": 1e-4, "rollout_psnr": 45.0, "reference_max_abs": 1e-4}
PROBE_SEED = 2_000_000  # a world seed no training or evaluation run uses


def probe_sequence(bundle: Bundle, steps: int) -> dict:
    """Frames, actions and per-frame conditions to drive both sides for `steps` steps after the
    context: a random-policy episode of the bundle's world, or its context followed by seeded held
    actions (conditions held at the context's last) when it has no built-in world. `cond[f]` and
    `guide[f]` belong to frame f (entry 0 is never used: no step produces frame 0)."""
    config = bundle.config.model
    world = bundle.manifest["source"].get("world")
    context = bundle.context()
    K = len(context["frames"])
    total = K + steps
    if world:
        played = play_episode(world, "random", PROBE_SEED, total, config.frame_height, config.frame_width,
                              guides=config.guide_channels > 0)
        guide = None
        if config.guide_channels:
            guide = guide_to_tensor(played["guide"], bundle.manifest["conditions"]["guide"]["names"]).numpy()
        return {"frames": played["frames"], "actions": played["actions"], "context": K, "cond": None,
                "guide": guide, "real": True}
    rng = np.random.default_rng(PROBE_SEED)
    held = np.repeat(rng.integers(0, len(bundle.action_names), size=steps // 8 + 1), 8)[:steps]
    probe = {"frames": context["frames"], "actions": np.concatenate([context["actions"], held]), "context": K,
             "real": False}
    for name in ("cond", "guide"):
        values = context.get(name)  # frames 1..K-1
        probe[name] = None if values is None else np.concatenate(
            [values[:1], values, np.repeat(values[-1:], steps, axis=0)])
    return probe


def _at(values, frame: int):
    return None if values is None else values[frame:frame + 1]


def teacher_forced_errors(torch_stepper, stepper, latents: torch.Tensor, probe: dict) -> np.ndarray:
    """Per-step max |Δ| of next latents when both sides (a "torch" and an "ort-python" stepper) step
    from latents[t] (frame K-1+t), from empty caches, with the same action and conditions."""
    torch_stepper.start(latents[None, :1], torch.zeros((1, 0), dtype=torch.int64))  # an empty ring
    stepper.reset(np.zeros((1, *probe["frames"].shape[1:]), np.uint8), np.zeros(0, np.int64))
    first = probe["context"] - 1
    errors = []
    for t in range(len(latents)):
        frame = first + t
        action = np.array([probe["actions"][frame]], dtype=np.int64)
        cond, guide = _at(probe["cond"], frame + 1), _at(probe["guide"], frame + 1)
        expected = torch_stepper.advance(latents[t:t + 1], action, cond, guide)
        got = stepper.advance(latents[t:t + 1].numpy().astype(stepper.dtype), action, cond, guide)
        errors.append(float(np.abs(got.astype(np.float64) - expected.numpy()).max()))
    return np.array(errors)


def _tensor(values):
    return None if values is None else torch.from_numpy(np.asarray(values, dtype=np.float32))


def rollout_psnr(torch_stepper, stepper, probe: dict, steps: int) -> tuple[float, float]:
    """PSNR (dB) between PyTorch fp32 ("torch" stepper) and bundle ("ort-python" stepper) rollouts
    over all frames; also the bundle's fps."""
    K = probe["context"]
    frames, actions = probe["frames"][:K], probe["actions"][:K - 1]
    future = probe["actions"][K - 1:K - 1 + steps]
    conditions = {name: None if probe[name] is None else probe[name][1:K + steps] for name in ("cond", "guide")}
    expected = torch_stepper.rollout(frames, actions, future, cond=_tensor(conditions["cond"]),
                                     guide=_tensor(conditions["guide"]))
    stepper.reset(frames, actions, _at_range(probe["cond"], 1, K), _at_range(probe["guide"], 1, K))
    began = time.perf_counter()
    got = np.stack([stepper.step(int(a), _at(probe["cond"], K + t), _at(probe["guide"], K + t))[0, ..., :3]
                    for t, a in enumerate(future)])
    fps = len(future) / (time.perf_counter() - began)
    return sequence_psnr(got, expected), fps


def _at_range(values, start: int, stop: int):
    return None if values is None else values[start:stop]


def sequence_psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR over a whole uint8 sequence (one MSE over every pixel of every frame), capped."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return PSNR_CAP_DB if mse == 0 else min(PSNR_CAP_DB, 10.0 * np.log10(255.0 ** 2 / mse))


def reference_errors(stepper, latents: np.ndarray, probe: dict) -> float:
    """Max |Δ| between ORT and onnx.reference.ReferenceEvaluator over the first len(latents) steps: the
    evaluator runs step.onnx on the inputs of each OrtStepper step, and its output (next latents or
    head_cond) and new keys / values are compared with what the step returned and pushed into the
    ring; for a flow head the noise and sample graphs are compared on each step's inputs too."""
    from onnx.reference import ReferenceEvaluator

    evaluator = ReferenceEvaluator(str(stepper.bundle.graph_path("step", stepper.batch)))
    stepper.reset(np.zeros((1, *probe["frames"].shape[1:]), np.uint8), np.zeros(0, np.int64))
    first, worst = probe["context"] - 1, 0.0
    for t in range(len(latents)):
        frame = first + t
        action = np.array([probe["actions"][frame]], np.int64)
        cond, guide = _at(probe["cond"], frame + 1), _at(probe["guide"], frame + 1)
        feeds = {"latents": latents[t:t + 1].astype(stepper.dtype), "action": action}
        for name, value in (("cond", cond), ("guide", guide)):
            if value is not None:
                feeds[name] = value.astype(stepper.dtype)
        feeds.update({name: block.copy() for name, block in stepper.past.items()})
        feeds["lags"], slot = stepper.lags.copy(), stepper.next_slot
        reference = evaluator.run(None, feeds)
        ort_outputs = (stepper.run_step(feeds["latents"], action, cond, guide), stepper.kv[:, :, :, :, slot])
        worst = max(worst, *(float(np.abs(r.astype(np.float64) - o).max()) for r, o in zip(reference, ort_outputs)))
        if stepper.bundle.is_flow:
            worst = max(worst, _head_reference_error(stepper, ort_outputs[0], ReferenceEvaluator))
    return worst


def _head_reference_error(stepper, head_cond: np.ndarray, evaluator_class) -> float:
    """Max |Δ| of noise.onnx, of one sample.onnx step and of every fused sample_k{K}, ORT against the
    reference evaluator."""
    worst = 0.0
    noise_feeds = {"noise_bits": stepper.next_noise_bits((stepper.batch, 2, *stepper.latent_shape)),
                   "temperature": np.array([stepper.temperature], np.float32)}
    sample_feeds = {"head_cond": head_cond, "x": stepper.sessions["noise"].run(None, noise_feeds)[0],
                    "t": np.array([0.5], np.float32), "dt": np.array([0.25], np.float32)}
    checks = [("noise", noise_feeds), ("sample", sample_feeds)]
    checks += [(name, {"head_cond": head_cond, **noise_feeds})
               for name in stepper.bundle.graph_names if name.startswith("sample_k")]
    for name, feeds in checks:
        expected = evaluator_class(str(stepper.bundle.graph_path(name, stepper.batch))).run(None, feeds)[0]
        got = stepper.sessions[name].run(None, feeds)[0]
        worst = max(worst, float(np.abs(expected.astype(np.float64) - got).max()))
    return worst


def verify_bundle(bundle: Bundle, checkpoint=None, steps: int = 256, reference_steps: int = 3,
                  intra_op_threads: int | None = None, quiet: bool = False) -> dict:
    """All parity figures for one bundle (batch 1), with pass/fail against the fp32 thresholds."""
    stepper = open_stepper(bundle, "ort-python", intra_op_threads=intra_op_threads)
    spec = checkpoint or bundle.manifest["source"].get("resolved") or bundle.manifest["source"].get("checkpoint")
    probe = probe_sequence(bundle, steps)
    K = probe["context"]
    report = {"bundle": str(bundle.path), "precision": bundle.manifest["precision"], "steps": steps}
    progress = tqdm(total=3, desc="verify", unit="check", disable=quiet)
    try:
        loaded = load_checkpoint(spec)
    except CheckpointError:
        loaded = None
        report["torch"] = f"checkpoint {spec!r} not available: PyTorch parity skipped"
    latents = None
    if loaded is not None:
        report["checkpoint"] = str(spec)
        torch_stepper = open_stepper(loaded, "torch")
        if probe["real"]:
            latents = loaded[0].encode_frames(probe["frames"][K - 1:K - 1 + steps])
            errors = teacher_forced_errors(torch_stepper, stepper, latents, probe)
            report["teacher_forced_max_abs"] = float(errors.max())
            report["teacher_forced_mean_max_abs"] = float(errors.mean())
        progress.update()
        if bundle.is_flow:
            report["rollout_psnr_sampled"], _ = rollout_psnr(torch_stepper, stepper, probe, steps)
            for side in (torch_stepper, stepper):
                side.set_sampling(temperature=0.0)
        report["rollout_psnr"], report["ort_fps"] = rollout_psnr(torch_stepper, stepper, probe, steps)
        if bundle.is_flow:
            stepper.set_sampling(temperature=1.0)  # the reference check below draws noise as the bundle does
        progress.update()
    inputs = (latents[:reference_steps].numpy() if latents is not None
              else np.concatenate([stepper.encode(f[None]) for f in probe["frames"][K - 1:K - 1 + reference_steps]]))
    report["reference_max_abs"] = reference_errors(stepper, inputs, probe)
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
              "rollout_psnr_sampled": "the same, sampled at temperature 1 (no target)",
              "reference_max_abs": "max |Δ| ORT vs onnx.reference evaluator"}
    for key, label in labels.items():
        if key in report:
            if key not in THRESHOLDS:
                lines.append(f"  {label:52s} {report[key]:.3g}")
                continue
            bound = THRESHOLDS[key]
            verdict = "" if report["precision"] != "fp32" else (" ok" if _meets(key, report[key]) else " FAIL")
            limit = f">= {bound}" if key.endswith("psnr") else f"<= {bound:g}"
            lines.append(f"  {label:52s} {report[key]:.3g}  (fp32 target {limit}){verdict}")
    if "torch" in report:
        lines.append(f"  {report['torch']}")
    if "ort_fps" in report:
        lines.append(f"  ORT reference driver speed: {report['ort_fps']:.0f} frames/s (step + decode, Python)")
    return "\n".join(lines)
