"""The few-step sampling head (docs/architecture.md §3-§4): Philox noise, the stream options seed /
temperature / sampling_steps on the PyTorch and ONNX Runtime steppers, snapshot replay, export
parity, and that the head trains (tiny)."""

import json

import numpy as np
import pytest
import torch

from conftest import vidgen
from vidgen_rt.config import preset
from vidgen_rt.errors import ConfigError
from vidgen_rt.export.bundle import load_bundle
from vidgen_rt.export.parity import format_report, verify_bundle
from vidgen_rt.export.rules import rule_violations
from vidgen_rt.generate import generate
from vidgen_rt.model.dynamics import FrameCausalTransformer
from vidgen_rt.runtime import open_stepper
from vidgen_rt.runtime.noise import gaussian, noise_bits, philox4x32
from vidgen_rt.train.checkpoint import load_checkpoint
from vidgen_rt.train.objective import DynamicsObjective

# The session fixtures train and export a tiny flow world (minutes on a busy 2-core machine); the
# first test to use them pays for it.
pytestmark = pytest.mark.timeout(900)
ACTIONS = [0, 1, 2, 2, 3, 0, 4, 1] * 4  # 32 frames


def _latents(stepper, frames: int = 32, actions=ACTIONS) -> list[np.ndarray]:
    stepper.reset()
    out = []
    for action in actions[:frames]:
        stepper.step(action)
        latents = stepper.latents
        out.append(latents.numpy().copy() if isinstance(latents, torch.Tensor) else latents.copy())
    return out


def test_philox_matches_the_published_known_answers():
    """Random123's kat_vectors for philox4x32-10: counter = key = 0, and all ones."""
    zero = philox4x32(np.zeros((1, 4), np.uint32), (0, 0))[0]
    assert [hex(w) for w in zero] == ["0x6627e8d5", "0xe169c58d", "0xbc57ac4c", "0x9b00dbd8"]
    ones = philox4x32(np.full((1, 4), 0xFFFFFFFF, np.uint32), (0xFFFFFFFF, 0xFFFFFFFF))[0]
    assert [hex(w) for w in ones] == ["0x408f276d", "0x41c83b0e", "0xa20bc7c6", "0x6d5451fd"]


def test_noise_bits_layout_and_gaussian():
    bits = noise_bits(7, 3, (2, 2, 8, 4, 4))
    assert bits.dtype == np.int32 and bits.min() >= 0 and bits.max() < 2 ** 24
    # Block j of draw d has counter (d, 0, j, 0): the first four values are block 0's words >> 8.
    block = philox4x32(np.array([[3, 0, 0, 0]], np.uint32), (7, 0))[0]
    assert (bits.reshape(-1)[:4] == (block >> 8)).all()
    assert not (noise_bits(7, 4, bits.shape) == bits).all() and not (noise_bits(8, 3, bits.shape) == bits).all()
    assert (noise_bits(2 ** 64 - 1, 2 ** 40, (1, 2, 1, 2, 2)) < 2 ** 24).all()  # 64-bit seed and draw
    samples = gaussian(noise_bits(0, 0, (64, 2, 8, 8, 8)), 1.0)
    assert abs(samples.mean()) < 0.02 and abs(samples.std() - 1.0) < 0.02
    assert not gaussian(bits, 0.0).any()


def test_bundle_holds_the_head_graphs_and_they_meet_the_rules(tiny_flow_bundle):
    import onnx

    bundle = load_bundle(tiny_flow_bundle)
    assert bundle.head["kind"] == "flow_conv" and bundle.head["sampling_steps"] == 2
    assert bundle.head["max_sampling_steps"] == 8 and bundle.head["noise"]["generator"] == "philox4x32-10"
    assert bundle.head["fused_sampling_steps"] == [1, 2, 4]
    for batch in (1, 4):
        graphs = bundle.manifest["graphs"][str(batch)]
        assert set(graphs) == {"encode", "step", "noise", "sample", "decode", "sample_k1", "sample_k2", "sample_k4"}
        assert [i["name"] for i in graphs["sample_k4"]["inputs"]] == ["head_cond", "noise_bits", "temperature"]
        assert [o["name"] for o in graphs["step"]["outputs"]] == ["head_cond", "new_kv"]
        assert graphs["noise"]["inputs"][0] == {"name": "noise_bits", "shape": [batch, 2, 8, 4, 4], "dtype": "int32"}
        for name in graphs:
            model = onnx.load(str(bundle.graph_path(name, batch)))
            assert rule_violations(model, name) == [], name
            assert not {n.op_type for n in model.graph.node} & {"RandomNormal", "RandomUniform", "RandomNormalLike"}


def test_noise_graph_equals_the_numpy_transform(tiny_flow_bundle):
    stepper = open_stepper(tiny_flow_bundle, "ort-python", batch=4)
    bits = noise_bits(11, 5, (4, 2, 8, 4, 4))
    got = stepper.sessions["noise"].run(None, {"noise_bits": bits, "temperature": np.array([0.7], np.float32)})[0]
    np.testing.assert_allclose(got, gaussian(bits, 0.7), atol=1e-5, rtol=0)


@pytest.mark.parametrize("steps", [1, 2, 4])
def test_fused_sample_graph_equals_noise_then_k_steps(tiny_flow_bundle, steps):
    fused = open_stepper(tiny_flow_bundle, "ort-python", batch=4, seed=7, temperature=0.9, sampling_steps=steps)
    chained = open_stepper(tiny_flow_bundle, "ort-python", batch=4, seed=7, temperature=0.9, sampling_steps=steps)
    del chained.sessions[f"sample_k{steps}"]  # the stepper falls back to noise.onnx + K × sample.onnx
    shape = fused.bundle.graph("sample", 4)["inputs"][0]["shape"]  # head_cond [B, N, D]
    head_cond = np.random.default_rng(steps).standard_normal(shape).astype(np.float32)
    for _ in range(3):
        one_call, k_calls = fused.sample(head_cond), chained.sample(head_cond)
        assert np.abs(one_call).max() > 0.1
        np.testing.assert_allclose(one_call, k_calls, atol=1e-5, rtol=0)


def test_same_seed_same_frames_across_torch_and_ort(tiny_flow_bundle, tiny_flow_run):
    ort_latents = _latents(open_stepper(tiny_flow_bundle, "ort-python", seed=5))
    again = _latents(open_stepper(tiny_flow_bundle, "ort-python", seed=5))
    torch_latents = _latents(open_stepper(tiny_flow_run, "torch", seed=5))
    assert all((a == b).all() for a, b in zip(ort_latents, again))  # the oracle is bit-reproducible
    assert max(float(np.abs(a - b).max()) for a, b in zip(ort_latents, torch_latents)) <= 1e-4


def test_seeds_differ_and_temperature_zero_ignores_the_seed(tiny_flow_bundle):
    one = _latents(open_stepper(tiny_flow_bundle, "ort-python", seed=1), 8)
    two = _latents(open_stepper(tiny_flow_bundle, "ort-python", seed=2), 8)
    assert all(np.abs(a - b).max() > 1e-3 for a, b in zip(one, two))
    cold = [_latents(open_stepper(tiny_flow_bundle, "ort-python", seed=s, temperature=0.0), 8) for s in (1, 2)]
    assert all((a == b).all() for a, b in zip(*cold))


def test_sampling_steps_and_set_sampling_take_effect(tiny_flow_bundle):
    base = _latents(open_stepper(tiny_flow_bundle, "ort-python", seed=3), 4)
    stepper = open_stepper(tiny_flow_bundle, "ort-python", seed=3, sampling_steps=4)
    assert stepper.sampling_steps == 4
    assert np.abs(_latents(stepper, 4)[0] - base[0]).max() > 0
    stepper.set_sampling(sampling_steps=2)  # back to the bundle's K: the same frames as the default
    assert all((a == b).all() for a, b in zip(_latents(stepper, 4), base))
    stepper.set_sampling(seed=4, temperature=0.5)
    assert (stepper.seed, stepper.temperature, stepper.sampling_steps) == (4, 0.5, 2)


@pytest.mark.parametrize("backend", ["ort-python", "torch"])
def test_snapshot_restore_replays_the_same_frames(tiny_flow_bundle, tiny_flow_run, backend):
    stepper = open_stepper(tiny_flow_bundle if backend == "ort-python" else tiny_flow_run, backend, seed=9)
    stepper.reset()
    for action in ACTIONS[:5]:
        stepper.step(action)
    saved = stepper.snapshot()
    first = [stepper.step(a) for a in ACTIONS[5:12]]
    stepper.set_sampling(seed=10, temperature=0.3)  # the snapshot brings the options back too
    stepper.restore(saved)
    assert (stepper.seed, stepper.temperature) == (9, 1.0)
    replay = [stepper.step(a) for a in ACTIONS[5:12]]
    assert all((a == b).all() for a, b in zip(first, replay))


def test_bad_sampling_options_are_refused_in_one_line(tiny_flow_bundle, tiny_flow_run):
    bad = [{"seed": -1}, {"seed": 2 ** 64}, {"seed": 1.5}, {"seed": True}, {"temperature": float("nan")},
           {"temperature": -0.1}, {"temperature": 4.5}, {"temperature": "hot"}, {"sampling_steps": 0},
           {"sampling_steps": 9}, {"sampling_steps": 2.0}]
    stepper = open_stepper(tiny_flow_bundle, "ort-python")
    for options in bad:
        for make in (lambda: open_stepper(tiny_flow_bundle, "ort-python", **options),
                     lambda: open_stepper(tiny_flow_run, "torch", **options),
                     lambda: stepper.set_sampling(**options)):
            with pytest.raises(ConfigError) as error:
                make()
            name = next(iter(options))
            assert name in str(error.value) and "\n" not in str(error.value)


def test_mse_bundle_accepts_the_options_and_ignores_them(tiny_bundle_for_options):
    plain = _latents(open_stepper(tiny_bundle_for_options, "ort-python"), 4)
    varied = _latents(open_stepper(tiny_bundle_for_options, "ort-python", seed=7, temperature=0.0,
                                   sampling_steps=8), 4)
    assert all((a == b).all() for a, b in zip(plain, varied))
    assert load_bundle(tiny_bundle_for_options).head["kind"] == "mse"


@pytest.fixture(scope="module")
def tiny_bundle_for_options(tiny_run, tmp_path_factory):
    from vidgen_rt.export import export_bundle

    return export_bundle(tiny_run, tmp_path_factory.mktemp("mse") / "mse.vgrt", quiet=True)


def test_export_parity_covers_the_sampled_path(tiny_flow_bundle, tiny_flow_run):
    report = verify_bundle(load_bundle(tiny_flow_bundle), tiny_flow_run, steps=24, quiet=True)
    assert report["passed"], report
    assert report["teacher_forced_max_abs"] <= 1e-4 and report["reference_max_abs"] <= 1e-4
    # the thresholded rollout is the deterministic one; the sampled one is reported beside it
    assert report["rollout_psnr"] >= 45.0 and 0.0 < report["rollout_psnr_sampled"] <= 100.0
    assert "sampled at temperature 1 (no target)" in format_report(report)


def test_flow_run_loss_falls(tiny_flow_run):
    losses = [json.loads(line)["loss"] for line in (tiny_flow_run / "log.jsonl").read_text().splitlines()
              if json.loads(line).get("stage") == "dynamics" and "loss" in json.loads(line)]
    assert len(losses) >= 4 and np.mean(losses[-2:]) < 0.9 * np.mean(losses[:2])


@pytest.mark.parametrize("head", ["flow_mlp", "flow_conv"])
def test_each_head_learns_a_velocity(head):
    """Both heads, trained jointly with the transformer on a toy world (the next frame is the current
    one shifted by the action), fit the flow-matching objective."""
    config = preset("tiny").model
    config.head, config.n_layers = head, 1
    torch.manual_seed(0)
    objective = DynamicsObjective(FrameCausalTransformer(config))
    optimizer = torch.optim.Adam(objective.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(60):
        start = torch.rand(4, 1, config.latent_channels, 4, 4, generator=generator) * 2 - 1
        actions = torch.randint(0, 2, (4, 5), generator=generator)
        frames = [start[:, 0]]
        for t in range(5):
            frames.append(torch.roll(frames[-1], shifts=1 + int(actions[0, t]), dims=-1))
        clip = torch.stack(frames, dim=1)  # (4, 6, C, 4, 4)
        t = torch.rand(2 * 4 * 5, generator=generator)
        noise = torch.randn(2 * 4 * 5, config.latent_channels, 4, 4, generator=generator)
        loss = objective(clip[:, :-1], actions[:1].expand(4, -1), clip[:, 1:], flow_t=t, flow_noise=noise).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.mean(losses[-10:]) < 0.85 * np.mean(losses[:10])  # 1.3 -> 1.0 in 60 steps, measured


def test_generate_takes_the_stream_options(tiny_flow_run, tmp_path):
    """`vidgen generate` samples as the stepper does: the noise seed picks the frames, temperature 0
    ignores it, and a bad value is a one-line error before anything is written."""
    model, config, state = load_checkpoint(tiny_flow_run)

    def frames(**sampling):
        return generate(model, config, state, 6, actions=[1], sampling=sampling)["frames"]

    first, again, other = frames(seed=3), frames(seed=3), frames(seed=4)
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert np.array_equal(frames(seed=3, temperature=0.0), frames(seed=4, temperature=0.0))
    bad = vidgen("generate", tiny_flow_run, "--frames", "4", "--temperature", "9", "-o", tmp_path / "x.mp4",
                 check=False)
    assert bad.returncode == 2 and "temperature" in bad.stderr and "Traceback" not in bad.stderr, bad.stderr
    assert not (tmp_path / "x.mp4").exists()
