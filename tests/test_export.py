"""Bundles: export, the manifest, graph rules, the reference driver and parity with PyTorch (tiny)."""

import json
import shutil

import numpy as np
import onnx
import pytest

from conftest import vidgen
from vidgen_rt.errors import BundleError, ConfigError
from vidgen_rt.export import export_bundle, load_bundle
from vidgen_rt.export.bundle import sha256_of
from vidgen_rt.export.parity import THRESHOLDS, verify_bundle
from vidgen_rt.export.rules import rule_violations, tensorrt_supported_ops
from vidgen_rt.export.tensorrt import engine_name, engine_settings
from vidgen_rt.runtime import OrtStepper, open_stepper


@pytest.fixture(scope="session")
def tiny_bundle(tiny_run, tmp_path_factory):
    return export_bundle(tiny_run, tmp_path_factory.mktemp("bundles") / "tiny.vgrt", batches=[1, 4], quiet=True)


def test_bundle_holds_the_contract(tiny_bundle):
    bundle = load_bundle(tiny_bundle)
    files = sorted(str(p.relative_to(tiny_bundle)) for p in tiny_bundle.rglob("*") if p.is_file())
    assert files == sorted(["manifest.json", "context/frames.u8", "context/actions.i64", "encode.onnx", "step.onnx",
                            "decode.onnx", "encode_b4.onnx", "step_b4.onnx", "decode_b4.onnx"])
    m, config = bundle.manifest, bundle.config.model
    assert m["format_version"] == 3 and m["precision"] == "fp32" and bundle.batches == [1, 4]
    step = bundle.graph("step", 4)
    shapes = {io["name"]: io["shape"] for io in step["inputs"] + step["outputs"]}
    L, H, S, N, D = config.n_layers, config.n_heads, config.window - 1, config.tokens_per_frame, config.head_dim
    past = [f"past_{kind}_{layer}" for layer in range(L) for kind in ("key", "value")]  # the ring's blocks, in order
    assert [io["name"] for io in step["inputs"]] == ["latents", "action", *past, "lags"]
    assert all(shapes[name] == [4, H, S, N, D] for name in past)
    assert shapes["new_kv"] == [L, 2, 4, H, N, D]
    assert shapes["lags"] == [S] and shapes["action"] == [4]
    assert bundle.graph("decode")["outputs"][0] == {"name": "frames", "shape": [1, 32, 32, 4], "dtype": "uint8"}
    assert m["cache"]["lag_sentinel"] == bundle.lag_sentinel == config.window
    assert bundle.cache_shape(4) == (L, 2, 4, H, S, N, D) and bundle.cache_dtype == np.float32
    assert m["cache"]["layout"] == ["n_layers", "kv", "batch", "n_heads", "cache_slots", "tokens_per_frame", "head_dim"]
    frames = m["context"]["tensors"]["frames"]
    assert frames == {"file": "context/frames.u8", "dtype": "uint8", "shape": [config.window, 32, 32, 3],
                      "sha256": sha256_of(tiny_bundle / "context/frames.u8")}
    assert m["actions"]["key_bindings"]["forward"] == ["W", "UP"]
    assert m["config"]["preset"] == "tiny" and m["postprocess"]["contrast"] == 1.0
    assert bundle.context()["frames"].shape == (config.window, 32, 32, 3)


def test_every_graph_meets_the_rules(tiny_bundle):
    bundle = load_bundle(tiny_bundle)
    for batch in bundle.batches:
        for name in ("encode", "step", "decode"):
            assert rule_violations(onnx.load(str(bundle.graph_path(name, batch))), name) == []


def test_rule_checker_catches_each_violation():
    scatter = onnx.helper.make_node("ScatterND", ["x", "i", "u"], ["y"])
    contrib = onnx.helper.make_node("FusedGemm", ["x", "x"], ["z"], domain="com.microsoft")
    graph = onnx.helper.make_graph(
        [scatter, contrib], "broken",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["batch", 4]),
         onnx.helper.make_tensor_value_info("i", onnx.TensorProto.INT64, [1, 1]),
         onnx.helper.make_tensor_value_info("u", onnx.TensorProto.FLOAT, [1, 4])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["batch", 4])])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 18),
                                                         onnx.helper.make_opsetid("com.microsoft", 1)])
    problems = " | ".join(rule_violations(model, "step"))
    assert "non-static shape" in problems
    assert "com.microsoft:FusedGemm" in problems
    assert "scatters into the cache (ScatterND)" in problems
    assert "MatMulInteger" not in tensorrt_supported_ops() and "LayerNormalization" in tensorrt_supported_ops()


def test_parity_with_pytorch_fp32(tiny_bundle, tiny_run):
    report = verify_bundle(load_bundle(tiny_bundle), checkpoint=tiny_run, steps=256, quiet=True)
    assert report["teacher_forced_max_abs"] <= THRESHOLDS["teacher_forced_max_abs"]
    assert report["rollout_psnr"] >= THRESHOLDS["rollout_psnr"]
    assert report["reference_max_abs"] <= THRESHOLDS["reference_max_abs"]
    assert report["passed"] is True


def test_wide_tokens_export_with_parity(tiny_store, tmp_path):
    # token_patch=2: four latent cells per token, the layout of the shipped small world
    run = tmp_path / "patch2"
    vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", run, "--quiet", "--set", "model.token_patch=2",
           "--set", "train.tokenizer_steps=10", "--set", "train.dynamics_steps=10")
    bundle = load_bundle(export_bundle(run, tmp_path / "patch2.vgrt", quiet=True))
    assert bundle.manifest["cache"]["tokens_per_frame"] == 4
    report = verify_bundle(bundle, checkpoint=run, steps=64, quiet=True)
    assert report["passed"] is True, report


def test_reduced_precision_variants_report_psnr_against_fp32(tiny_run, tmp_path):
    for precision in ("fp16", "int8"):
        path = export_bundle(tiny_run, tmp_path / f"{precision}.vgrt", precision=precision, quiet=True)
        bundle = load_bundle(path)
        assert bundle.manifest["precision"] == precision
        report = verify_bundle(bundle, checkpoint=tiny_run, steps=256, quiet=True)
        assert 15.0 < report["rollout_psnr"] <= 100.0, (precision, report)
        assert "passed" not in report
    int8_ops = [node.op_type for node in onnx.load(str(tmp_path / "int8.vgrt" / "step.onnx")).graph.node]
    n_layers = load_bundle(tmp_path / "int8.vgrt").config.model.n_layers
    assert int8_ops.count("MatMulInteger") == 3 * n_layers  # per block: MLP in, MLP out, attention proj


def test_stepper_matches_pytorch_rollout_and_restores(tiny_bundle, tiny_run):
    stepper = OrtStepper(tiny_bundle, batch=1)
    context = stepper.bundle.context()
    actions = np.array([1, 1, 3, 3, 0, 4, 2, 5, 6, 1] * 3)
    expected = open_stepper(tiny_run, "torch").rollout(context["frames"], context["actions"], actions)
    first = stepper.reset()
    assert first.shape == (1, 32, 32, 4) and (first[..., 3] == 255).all()
    got = np.stack([stepper.step(int(a))[0, ..., :3] for a in actions])
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1
    stepper.reset()
    [stepper.step(int(a)) for a in actions[:5]]
    saved = stepper.snapshot()
    branch = [stepper.step(int(a)) for a in actions[5:15]]
    stepper.restore(saved)
    again = [stepper.step(int(a)) for a in actions[5:15]]
    assert all(np.array_equal(a, b) for a, b in zip(branch, again))


def test_batched_stepper_runs_each_stream_with_its_own_actions(tiny_bundle):
    single, batched = OrtStepper(tiny_bundle, batch=1), OrtStepper(tiny_bundle, batch=4)
    single.reset(), batched.reset()
    for t in range(12):
        frames = batched.step([t % 7, 1, 3, 5])
        reference = single.step(t % 7)
    assert np.abs(frames[0].astype(int) - reference[0].astype(int)).max() <= 2
    assert not np.array_equal(frames[1], frames[2])


def test_stepper_rejects_bad_input(tiny_bundle):
    stepper = OrtStepper(tiny_bundle)
    with pytest.raises(ConfigError, match="before reset"):
        stepper.step(0)
    stepper.reset()
    with pytest.raises(ConfigError, match="out of range"):
        stepper.step(7)
    with pytest.raises(BundleError, match="no graphs for batch 2"):
        OrtStepper(tiny_bundle, batch=2)


# ---- broken bundles: the rules live in tests/test_bundle_rules.py; here the CLI's answer -------------

def test_cli_answers_a_broken_bundle_in_one_line(tiny_bundle, tmp_path):
    broken = tmp_path / "broken.vgrt"
    shutil.copytree(tiny_bundle, broken)
    manifest = json.loads((broken / "manifest.json").read_text())
    manifest["graphs"]["1"]["decode"]["sha256"] = "0" * 64
    (broken / "manifest.json").write_text(json.dumps(manifest))
    result = vidgen("export", broken, "--verify", check=False)
    assert result.returncode == 2 and "decode.onnx: checksum mismatch" in result.stderr
    assert "Traceback" not in result.stderr
    with pytest.raises(BundleError, match="decode.onnx: checksum mismatch"):
        load_bundle(broken)
    assert load_bundle(broken, verify_checksums=False).batches == [1, 4]


def test_failed_export_leaves_nothing_behind(tiny_run, tmp_path, monkeypatch):
    import vidgen_rt.export.writer as writer

    def refuse(path, name, for_tensorrt=True):
        raise BundleError(f"{path}: refused for the test")

    monkeypatch.setattr(writer, "check_graph_rules", refuse)
    with pytest.raises(BundleError, match="refused for the test"):
        export_bundle(tiny_run, tmp_path / "x.vgrt", quiet=True)
    assert list(tmp_path.iterdir()) == []


def test_cli_export_verify_and_tensorrt(tiny_run, tmp_path):
    out = tmp_path / "cli.vgrt"
    result = vidgen("export", tiny_run, "-o", out, "--verify", "--steps", "64", "--json", tmp_path / "v.json")
    assert "free-running rollout PSNR" in result.stdout and " ok" in result.stdout
    assert json.loads((tmp_path / "v.json").read_text())["passed"] is True
    again = vidgen("export", tiny_run, "-o", out, check=False)
    assert again.returncode == 2 and "exists; pass --overwrite" in again.stderr
    trt = vidgen("export", out, "--tensorrt", check=False)
    assert trt.returncode == 2 and "TensorRT is not available" in trt.stderr
    assert json.loads((out / "manifest.json").read_text())["engines"] == {}
    bad = vidgen("export", tiny_run, "-o", tmp_path / "b.vgrt", "--batch", "0", check=False)
    assert bad.returncode == 2 and "--batch" in bad.stderr


def test_engine_names_encode_gpu_version_and_settings():
    fp16 = engine_settings("fp16")
    name = engine_name("step", 4, "NVIDIA H100 80GB HBM3", "9.0", "10.15.1", fp16)
    assert name.startswith("step-b4-nvidia-h100-80gb-hbm3-sm90-trt10.15.1-fp16-") and name.endswith(".plan")
    assert name != engine_name("step", 4, "NVIDIA H100 80GB HBM3", "9.0", "10.15.1", engine_settings("fp16", 2048))
    assert name != engine_name("step", 4, "NVIDIA L4", "8.9", "10.15.1", fp16)
