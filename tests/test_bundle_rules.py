"""The bundle rules, once: a table of broken bundles, each made from a freshly exported tiny bundle
(an mse head, a guide-conditioned one, and a flow head with its noise and sample graphs) and refused
the same way by all four doors into the one validator (docs/architecture.md §9): the
C ABI's vgrt_bundle_check and vgrt_model_create (ctypes on libvidgen_rt.so), and Python's
load_bundle and Runtime. Each row names a substring of the message all four must give.

The rows run in a worker subprocess (this file run as a script) with a per-row alarm, so a rule
that blocks (a FIFO where a file belongs) fails its own row instead of hanging the suite; the
parent restarts the worker after such a row and carries on with the rest.
"""

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

ROW_TIMEOUT = 60  # seconds per row: four validations and one ONNX Runtime session set-up


# ---- damage: each function breaks one thing in a copy of the bundle ----------------------------

def edit_manifest(path, change):
    manifest = json.loads((path / "manifest.json").read_text())
    change(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))


def reseal(path, file):
    """Record `file`'s new sha256 in the manifest, so only the intended fault remains."""
    import hashlib

    digest = hashlib.sha256((path / file).read_bytes()).hexdigest()

    def change(manifest):
        entries = [*(g for b in manifest["graphs"].values() for g in b.values()),
                   *manifest["context"]["tensors"].values()]
        next(e for e in entries if e["file"] == file)["sha256"] = digest
    edit_manifest(path, change)


def flip_byte(path, file):
    data = bytearray((path / file).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (path / file).write_bytes(bytes(data))


def move_outside(path, outside, file):
    """Replace `file` by a symlink to a copy outside the bundle."""
    target = outside / file.replace("/", "_")
    shutil.move(path / file, target)
    os.symlink(target, path / file)


def fifo(path, file):
    (path / file).unlink()
    os.mkfifo(path / file)


def step_input(manifest, name):
    return next(io for io in manifest["graphs"]["1"]["step"]["inputs"] if io["name"] == name)


def graph_io(manifest, graph, name):
    """The manifest entry of tensor `name` among graph `graph`'s inputs and outputs (batch 1)."""
    spec = manifest["graphs"]["1"][graph]
    return next(io for io in spec["inputs"] + spec["outputs"] if io["name"] == name)


def edit_onnx(path, file, change):
    import onnx

    model = onnx.load(str(path / file))
    change(model)
    onnx.save(model, str(path / file))
    reseal(path, file)


def external_data(model):
    import onnx

    tensor = max(model.graph.initializer, key=lambda t: len(t.raw_data))
    onnx.external_data_helper.set_external_data(tensor, location="../outside.bin")
    tensor.ClearField("raw_data")


def truncate(path, file):
    data = (path / file).read_bytes()
    (path / file).write_bytes(data[: len(data) // 2])
    reseal(path, file)


def write_actions(path, values):
    import numpy as np

    np.asarray(values, dtype="<i8").tofile(path / "context/actions.i64")
    reseal(path, "context/actions.i64")


SHA_OF_NOTHING = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

# row -> (damage(path, outside), substring every door's message must contain)
ROWS = {
    "manifest_sha256_altered": (lambda p, o: edit_manifest(p, lambda m: m["graphs"]["1"]["step"].update(
        sha256=SHA_OF_NOTHING)), "checksum mismatch"),
    "decode_onnx_byte_flipped": (lambda p, o: flip_byte(p, "decode.onnx"), "checksum mismatch"),
    "context_frames_byte_flipped": (lambda p, o: flip_byte(p, "context/frames.u8"), "checksum mismatch"),
    "sha256_not_hex": (lambda p, o: edit_manifest(p, lambda m: m["graphs"]["1"]["encode"].update(sha256="xyz")),
                       "64 lowercase hex digits"),
    "duplicate_action_names": (lambda p, o: edit_manifest(p, lambda m: m["actions"]["names"].__setitem__(
        1, m["actions"]["names"][0])), "duplicate action name"),
    "eight_actions_for_a_7_action_model": (lambda p, o: edit_manifest(p, lambda m: m["actions"]["names"].append(
        "jump")), "config.model.n_actions"),
    "six_actions_for_a_7_action_model": (lambda p, o: edit_manifest(p, lambda m: m["actions"]["names"].pop()),
                                         "config.model.n_actions"),
    "default_action_out_of_range": (lambda p, o: edit_manifest(p, lambda m: m["actions"].update(default=7)),
                                    "actions.default"),
    "manifest_symlink_outside": (lambda p, o: move_outside(p, o, "manifest.json"), "leads outside the bundle"),
    "graph_symlink_outside": (lambda p, o: move_outside(p, o, "step.onnx"), "leads outside the bundle"),
    "context_symlink_outside": (lambda p, o: move_outside(p, o, "context/frames.u8"), "leads outside the bundle"),
    "manifest_fifo": (lambda p, o: fifo(p, "manifest.json"), "not a regular file"),
    "graph_fifo": (lambda p, o: fifo(p, "decode.onnx"), "not a regular file"),
    "context_fifo": (lambda p, o: fifo(p, "context/actions.i64"), "not a regular file"),
    "manifest_a_directory": (lambda p, o: ((p / "manifest.json").unlink(), (p / "manifest.json").mkdir()),
                             "not a regular file"),
    "extra_file": (lambda p, o: (p / "stray.bin").write_bytes(b"x"), "files not named by manifest.json: stray.bin"),
    "extra_file_in_context": (lambda p, o: (p / "context" / "old.npz").write_bytes(b"x"),
                              "files not named by manifest.json: context/old.npz"),
    "missing_graph": (lambda p, o: (p / "encode.onnx").unlink(), "file \"encode.onnx\" is missing"),
    "missing_engine": (lambda p, o: edit_manifest(p, lambda m: m["engines"].update(
        {"step-b1": {"file": "engines/step.plan", "sha256": SHA_OF_NOTHING}})), "file \"engines/step.plan\" is missing"),
    "missing_manifest": (lambda p, o: (p / "manifest.json").unlink(), "not a bundle (no manifest.json)"),
    "dotdot_path": (lambda p, o: edit_manifest(p, lambda m: m["context"]["tensors"]["frames"].update(
        file="../frames.u8")), "relative path inside the bundle"),
    "absolute_path": (lambda p, o: edit_manifest(p, lambda m: m["graphs"]["1"]["decode"].update(file="/etc/hostname")),
                      "relative path inside the bundle"),
    "one_file_named_twice": (lambda p, o: edit_manifest(p, lambda m: m["graphs"]["1"]["encode"].update(
        file="decode.onnx")), "named twice"),
    "past_key_shape_vs_cache_layout": (lambda p, o: edit_manifest(p, lambda m: step_input(m, "past_key_0")["shape"]
                                                                   .__setitem__(2, 3)), "past_key_0"),
    "past_value_dtype_vs_cache_dtype": (lambda p, o: edit_manifest(p, lambda m: step_input(m, "past_value_1").update(
        dtype="float16")), "past_value_1"),
    "past_key_renamed": (lambda p, o: edit_manifest(p, lambda m: step_input(m, "past_key_1").update(name="kv_cache")),
                         "a tensor named \"past_key_1\""),
    "cache_n_layers_vs_config": (lambda p, o: edit_manifest(p, lambda m: m["cache"].update(n_layers=3)),
                                 "config.model.n_layers"),
    "cache_lag_sentinel_vs_config": (lambda p, o: edit_manifest(p, lambda m: m["cache"].update(lag_sentinel=99)),
                                     "config.model.window"),
    "cache_layout_old_words": (lambda p, o: edit_manifest(p, lambda m: m["cache"].update(
        layout=["layers", "kv", "batch", "heads", "slots", "tokens", "head_dim"])), "cache.layout"),
    "latent_dtype_vs_precision": (lambda p, o: edit_manifest(p, lambda m: m["latent"].update(dtype="float16")),
                                  "latent.dtype"),
    "frame_size_vs_config": (lambda p, o: edit_manifest(p, lambda m: m["frame"].update(height=64)),
                             "config.model.frame_height"),
    "latent_grid_vs_config": (lambda p, o: edit_manifest(p, lambda m: m["latent"].update(width=8)),
                              "frame_width / downsample"),
    "batch_key_zero": (lambda p, o: edit_manifest(p, lambda m: m["graphs"].update({"0": m["graphs"].pop("1")})),
                       "batch size"),
    "cond_context_for_a_model_without_cond": (lambda p, o: edit_manifest(p, lambda m: m["context"]["tensors"].update(
        cond={"file": "context/cond.f32", "dtype": "float32", "shape": [5, 1], "sha256": SHA_OF_NOTHING})),
        "context.tensors.cond"),
    "format_version_99": (lambda p, o: edit_manifest(p, lambda m: m.update(format_version=99)),
                          "unsupported version"),
    "format_version_1_says_reexport": (lambda p, o: edit_manifest(p, lambda m: m.update(format_version=1)),
                                       "re-export the bundle: vidgen export"),
    "format_version_2_says_reexport": (lambda p, o: edit_manifest(p, lambda m: m.update(format_version=2)),
                                       "one kv_cache input, this runtime binds one past_key_{l} / past_value_{l} "
                                       "input per layer; re-export the bundle: vidgen export"),
    "format_version_a_string": (lambda p, o: edit_manifest(p, lambda m: m.update(format_version="3")),
                                "unsupported version"),
    "unknown_top_level_field": (lambda p, o: edit_manifest(p, lambda m: m.update(layers=2)), "field 'layers'"),
    "exporter_provenance_missing": (lambda p, o: edit_manifest(p, lambda m: m.pop("exporter")),
                                    "field 'exporter': expected present"),
    "non_json_manifest": (lambda p, o: (p / "manifest.json").write_text("{ not json"), "not valid JSON"),
    "manifest_a_json_list": (lambda p, o: (p / "manifest.json").write_text("[]"), "a JSON object"),
    "huge_declared_dims": (lambda p, o: edit_manifest(p, lambda m: m["context"]["tensors"]["frames"].update(
        shape=[6, 1000000, 1000000, 3])), "under 16 GiB"),
    "negative_declared_dim": (lambda p, o: edit_manifest(p, lambda m: step_input(m, "lags").update(shape=[-5])),
                              "an integer in 1.."),
    "truncated_context_tensor": (lambda p, o: truncate(p, "context/frames.u8"), "truncated"),
    "context_action_out_of_range": (lambda p, o: write_actions(p, [0, 1, 7, 2, 3]), "out of range 0..6"),
    "graph_not_onnx": (lambda p, o: truncate(p, "step.onnx"), "not a valid ONNX model"),
    "graph_signature_vs_manifest": (lambda p, o: edit_onnx(p, "step.onnx", lambda m: setattr(
        m.graph.input[0].type.tensor_type.shape.dim[0], "dim_value", 3)), "input 'latents' has shape [3,"),
    "graph_external_data_outside": (lambda p, o: edit_onnx(p, "decode.onnx", external_data), "external data"),
    "head_missing": (lambda p, o: edit_manifest(p, lambda m: m.pop("head")), "field 'head': expected present"),
    "mse_head_called_flow": (lambda p, o: edit_manifest(p, lambda m: m["head"].update(kind="flow_mlp")),
                             "(config.model.head)"),
}

def write_guide(path, value):
    import numpy as np

    guide = np.fromfile(path / "context/guide.f32", dtype="<f4")
    guide[len(guide) // 2] = value
    guide.tofile(path / "context/guide.f32")
    reseal(path, "context/guide.f32")


# The same, on a bundle of a guide-conditioned model (docs/conditioning.md).
GUIDED_ROWS = {
    "guide_context_far_outside_its_range": (lambda p, o: write_guide(p, 1e30), "outside conditions.guide.range"),
    "guide_context_nan": (lambda p, o: write_guide(p, float("nan")), "outside conditions.guide.range"),
    "guide_range_missing": (lambda p, o: edit_manifest(p, lambda m: m["conditions"]["guide"].pop("range")),
                            "conditions.guide.range"),
    "guide_range_reversed": (lambda p, o: edit_manifest(p, lambda m: m["conditions"]["guide"].update(range=[4, -4])),
                             "conditions.guide.range"),
    "guide_channels_vs_config": (lambda p, o: edit_manifest(p, lambda m: m["conditions"]["guide"].update(channels=3)),
                                 "config.model.guide_channels"),
}


# The same, on a bundle of a flow head (docs/architecture.md §4: step -> head_cond, noise, sample).
FLOW_ROWS = {
    "head_kind_unknown": (lambda p, o: edit_manifest(p, lambda m: m["head"].update(kind="diffusion")),
                          "one of mse, flow_mlp, flow_conv"),
    "head_kind_vs_config": (lambda p, o: edit_manifest(p, lambda m: m["head"].update(kind="flow_mlp")),
                            "\"flow_conv\" (config.model.head)"),
    "head_mse_with_flow_graphs": (lambda p, o: edit_manifest(p, lambda m: (
        m["head"].update(kind="mse", fused_sampling_steps=[]), m["config"]["model"].update(head="mse"))),
        "exactly the graphs encode, step, decode (head.kind mse)"),
    "head_mse_with_fused_steps": (lambda p, o: edit_manifest(p, lambda m: (
        m["head"].update(kind="mse"), m["config"]["model"].update(head="mse"))),
        "head.fused_sampling_steps': expected an empty list for head.kind \"mse\""),
    "fused_steps_not_increasing": (lambda p, o: edit_manifest(p, lambda m: m["head"].update(
        fused_sampling_steps=[2, 1, 4])), "head.fused_sampling_steps': expected increasing values"),
    "fused_steps_over_max": (lambda p, o: edit_manifest(p, lambda m: m["head"].update(
        fused_sampling_steps=[1, 9])), "head.fused_sampling_steps': expected an integer in 1..8"),
    "fused_graph_missing": (lambda p, o: edit_manifest(p, lambda m: m["graphs"]["1"].pop("sample_k2")),
                            "exactly the graphs encode, step, noise, sample, decode, sample_k1, sample_k2, sample_k4"),
    "fused_graph_for_unlisted_steps": (lambda p, o: edit_manifest(p, lambda m: m["head"].update(
        fused_sampling_steps=[1, 2])), "exactly the graphs encode, step, noise, sample, decode, sample_k1, sample_k2 "),
    "fused_graph_temperature_shape": (lambda p, o: edit_manifest(p, lambda m: graph_io(
        m, "sample_k4", "temperature").update(shape=[2])), "\"temperature\" of shape [1] float32"),
    "fused_graph_output_name": (lambda p, o: edit_manifest(p, lambda m: graph_io(
        m, "sample_k1", "next_latents").update(name="x_next")), "\"next_latents\""),
    "head_sampling_steps_over_max": (lambda p, o: edit_manifest(p, lambda m: m["head"].update(sampling_steps=9)),
                                     "head.sampling_steps"),
    "head_sampling_steps_vs_config": (lambda p, o: edit_manifest(p, lambda m: m["head"].update(sampling_steps=3)),
                                      "config.model.sampling_steps"),
    "head_noise_generator": (lambda p, o: edit_manifest(p, lambda m: m["head"]["noise"].update(generator="pcg64")),
                             "\"philox4x32-10\""),
    "head_noise_bits_per_value": (lambda p, o: edit_manifest(p, lambda m: m["head"]["noise"].update(
        bits_per_value=32)), "head.noise.bits_per_value"),
    "missing_sample_graph": (lambda p, o: edit_manifest(p, lambda m: m["graphs"]["1"].pop("sample")),
                             "exactly the graphs encode, step, noise, sample, decode"),
    "missing_sample_file": (lambda p, o: (p / "sample.onnx").unlink(), "file \"sample.onnx\" is missing"),
    "step_outputs_next_latents": (lambda p, o: edit_manifest(p, lambda m: graph_io(m, "step", "head_cond").update(
        name="next_latents")), "\"head_cond\""),
    "head_cond_width_vs_d_model": (lambda p, o: edit_manifest(p, lambda m: graph_io(m, "sample", "head_cond")[
        "shape"].__setitem__(2, 7)), "\"head_cond\" of shape"),
    "noise_bits_shape": (lambda p, o: edit_manifest(p, lambda m: graph_io(m, "noise", "noise_bits")["shape"]
                                                    .__setitem__(1, 3)), "\"noise_bits\" of shape"),
    "noise_bits_dtype": (lambda p, o: edit_manifest(p, lambda m: graph_io(m, "noise", "noise_bits").update(
        dtype="int64")), "\"noise_bits\" of shape"),
    "sample_t_shape": (lambda p, o: edit_manifest(p, lambda m: graph_io(m, "sample", "t").update(shape=[2])),
                       "\"t\" of shape [1] float32"),
    "sample_x_next_dtype": (lambda p, o: edit_manifest(p, lambda m: graph_io(m, "sample", "x_next").update(
        dtype="float16")), "\"x_next\""),
    "sample_graph_signature_vs_manifest": (lambda p, o: edit_onnx(p, "sample.onnx", lambda m: setattr(
        m.graph.input[1].type.tensor_type.shape.dim[1], "dim_value", 5)), "input 'x' has shape [1, 5,"),
}


# ---- the worker: every door on every row --------------------------------------------------------

class ModelOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("abi_version", ctypes.c_uint32),
                ("backend", ctypes.c_char_p), ("provider", ctypes.c_char_p), ("ort_library", ctypes.c_char_p),
                ("ort_search_dir", ctypes.c_char_p), ("intra_op_threads", ctypes.c_int32),
                ("allow_spinning", ctypes.c_int32), ("device_id", ctypes.c_int32),
                ("verify_checksums", ctypes.c_int32), ("compute_precision", ctypes.c_char_p),
                ("openvino_library", ctypes.c_char_p), ("openvino_search_dir", ctypes.c_char_p)]


def doors(path: str, verify: bool) -> dict:
    """[status or exception type, message] from each of the four doors."""
    from vidgen_rt.errors import VidgenError
    from vidgen_rt.export.bundle import load_bundle
    from vidgen_rt.runtime.native import Runtime, library_path, ort_search_dir

    lib = ctypes.CDLL(str(library_path()))
    lib.vgrt_last_error.restype = ctypes.c_char_p
    options = ModelOptions()  # stamped with this declaration's ABI and size (vidgen_rt.h, "ABI rule")
    assert lib.vgrt_model_options_init(ctypes.byref(options), 5, ctypes.sizeof(ModelOptions)) == 0, \
        f"ModelOptions out of date with vidgen_rt.h: {lib.vgrt_last_error().decode()}"
    search_dir = ort_search_dir().encode()
    options.ort_search_dir, options.verify_checksums, options.intra_op_threads = search_dir, int(verify), 1
    out = {"c_check": [lib.vgrt_bundle_check(path.encode(), int(verify), None), lib.vgrt_last_error().decode()]}
    model = ctypes.c_void_p()
    status = lib.vgrt_model_create(path.encode(), ctypes.byref(options), ctypes.byref(model))
    out["c_create"] = [status, lib.vgrt_last_error().decode() if status else ""]
    if model:
        lib.vgrt_model_destroy(model)
    for door, call in (("py_load", lambda: load_bundle(path, verify_checksums=verify)),
                       ("py_runtime", lambda: Runtime(path, intra_op_threads=1, verify_checksums=verify))):
        try:
            call()
            out[door] = ["ok", ""]
        except VidgenError as error:
            out[door] = [type(error).__name__, str(error)]
    return out


def worker(rows: list[dict]) -> None:
    current = {}

    def hung(signum, frame):
        print(json.dumps({"row": current["id"], "hung": True}), flush=True)
        os._exit(3)

    signal.signal(signal.SIGALRM, hung)
    for row in rows:
        current.update(row)
        signal.alarm(ROW_TIMEOUT)
        print(json.dumps({"row": row["id"], **doors(row["path"], row["verify"])}), flush=True)
        signal.alarm(0)


def run_rows(rows: list[dict]) -> dict[str, dict]:
    """Each row's outcomes; a row that hung or killed the worker gets {"hung": ...} and the worker
    restarts with the rows after it."""
    results, pending = {}, list(rows)
    while pending:
        proc = subprocess.run([sys.executable, __file__, json.dumps(pending)], capture_output=True, text=True,
                              timeout=ROW_TIMEOUT * len(pending) + 120)
        ran = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
        results.update({result["row"]: result for result in ran})
        pending = [row for row in pending if row["id"] not in results]
        if pending and not (ran and ran[-1].get("hung")):  # the worker died inside this row
            results[pending[0]["id"]] = {"row": pending[0]["id"],
                                         "hung": f"worker exit {proc.returncode}: {proc.stderr[-2000:]}"}
            pending = pending[1:]
    return results


if __name__ == "__main__":
    worker(json.loads(sys.argv[1]))
    sys.exit(0)


# ---- the tests ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pristine(tiny_run, tmp_path_factory):
    from vidgen_rt.export import export_bundle

    return export_bundle(tiny_run, tmp_path_factory.mktemp("rules") / "tiny.vgrt", batches=[1], quiet=True)


@pytest.fixture(scope="module")
def outcomes(pristine, tmp_path_factory):
    """Every row (and the checksum opt-out rows) through the four doors, in one worker."""
    rows = []
    for name, (damage, _) in ROWS.items():
        work = tmp_path_factory.mktemp(name)
        (work / "outside").mkdir()
        shutil.copytree(pristine, work / "broken.vgrt")
        damage(work / "broken.vgrt", work / "outside")
        rows.append({"id": name, "path": str(work / "broken.vgrt"), "verify": True})
    for name, base in (("unverified_altered_sha256", "manifest_sha256_altered"),
                       ("unverified_flipped_byte", "decode_onnx_byte_flipped")):
        rows.append({"id": name, "path": next(r["path"] for r in rows if r["id"] == base), "verify": False})
    both = tmp_path_factory.mktemp("unverified_duplicate") / "broken.vgrt"
    shutil.copytree(pristine, both)
    ROWS["manifest_sha256_altered"][0](both, None)
    ROWS["duplicate_action_names"][0](both, None)
    rows.append({"id": "unverified_still_refuses_duplicates", "path": str(both), "verify": False})
    rows.append({"id": "pristine", "path": str(pristine), "verify": True})
    return run_rows(rows)


@pytest.fixture(scope="module")
def guided(tmp_path_factory):
    """A bundle of a briefly trained guide-conditioned tiny model."""
    from conftest import vidgen
    from vidgen_rt.data.record import record_world
    from vidgen_rt.export import export_bundle

    work = tmp_path_factory.mktemp("guided")
    record_world("maze", work / "store", policy="explore", episodes=2, frames=24, height=32, width=32, guides=True,
                 quiet=True)
    vidgen("train", "--preset", "tiny", "--data", work / "store", "--out", work / "run", "--quiet",
           "--set", "train.tokenizer_steps=2", "--set", "train.dynamics_steps=2", "--set", "train.eval_every=1000")
    return export_bundle(work / "run", work / "guided.vgrt", batches=[1], quiet=True)


def damaged_rows(source, table: dict, tmp_path_factory) -> list[dict]:
    """A damaged copy of `source` per row of `table`, each with its own work folder for outside files."""
    rows = []
    for name, (damage, _) in table.items():
        work = tmp_path_factory.mktemp(name)
        shutil.copytree(source, work / "broken.vgrt")
        damage(work / "broken.vgrt", work)
        rows.append({"id": name, "path": str(work / "broken.vgrt"), "verify": True})
    return rows


@pytest.fixture(scope="module")
def guided_outcomes(guided, tmp_path_factory):
    return run_rows(damaged_rows(guided, GUIDED_ROWS, tmp_path_factory))


@pytest.fixture(scope="module")
def flow_outcomes(tiny_flow_bundle, tmp_path_factory):
    rows = damaged_rows(tiny_flow_bundle, FLOW_ROWS, tmp_path_factory)
    return run_rows(rows + [{"id": "pristine", "path": str(tiny_flow_bundle), "verify": True}])


def test_the_table_has_every_case_of_the_issue():
    assert len(ROWS) + len(GUIDED_ROWS) + len(FLOW_ROWS) >= 30


def assert_refused_alike(result, key):
    assert "hung" not in result, result
    assert result["c_check"][0] == -3 and key in result["c_check"][1], result
    assert result["c_create"][0] == -3 and key in result["c_create"][1], result
    assert result["py_load"][0] == "BundleError" and key in result["py_load"][1], result
    assert result["py_runtime"][0] == "BundleError" and key in result["py_runtime"][1], result


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("row", list(ROWS))
def test_every_door_refuses_the_broken_bundle_alike(outcomes, row):
    assert_refused_alike(outcomes[row], ROWS[row][1])


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("row", list(GUIDED_ROWS))
def test_every_door_refuses_the_broken_guided_bundle_alike(guided_outcomes, row):
    assert_refused_alike(guided_outcomes[row], GUIDED_ROWS[row][1])


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("row", list(FLOW_ROWS))
def test_every_door_refuses_the_broken_flow_bundle_alike(flow_outcomes, row):
    assert_refused_alike(flow_outcomes[row], FLOW_ROWS[row][1])


def test_pristine_flow_bundle_passes_every_door(flow_outcomes):
    result = flow_outcomes["pristine"]
    assert [result[d][0] for d in ("c_check", "c_create", "py_load", "py_runtime")] == [0, 0, "ok", "ok"], result


def test_native_stream_refuses_guides_outside_the_manifest_range(guided):
    import numpy as np

    from vidgen_rt.errors import ConfigError
    from vidgen_rt.export import load_bundle
    from vidgen_rt.runtime.native import Runtime

    bundle = load_bundle(guided)
    lo, hi = bundle.manifest["conditions"]["guide"]["range"]
    context = bundle.context()
    assert lo <= context["guide"].min() and context["guide"].max() <= hi
    with Runtime(guided, intra_op_threads=1).open_stream(1) as stream:
        inside = np.full((1, 2, 32, 32), 0.5, np.float32)
        start = stream.snapshot()
        first = stream.step(1, guide=inside).copy()
        stream.restore(start)
        for bad in (1e30, float("nan"), float("inf"), hi + 0.5, lo - 0.5):
            with pytest.raises(ConfigError, match=r"guide\[0\] = .*outside the guide range"):
                stream.step(1, guide=np.full((1, 2, 32, 32), bad, np.float32))
        with pytest.raises(ConfigError, match="context.guide.*outside the guide range"):
            stream.reset(context["frames"], context["actions"], guide=np.full_like(context["guide"], 1e30))
        stream.restore(start)
        assert np.array_equal(stream.step(1, guide=inside), first), "a refused step changed the stream"


def test_pristine_bundle_passes_every_door(outcomes):
    result = outcomes["pristine"]
    assert [result[d][0] for d in ("c_check", "c_create", "py_load", "py_runtime")] == [0, 0, "ok", "ok"], result


@pytest.mark.parametrize("row", ["unverified_altered_sha256", "unverified_flipped_byte"])
def test_verify_checksums_false_skips_the_checksum_rule(outcomes, row):
    result = outcomes[row]
    assert [result[d][0] for d in ("c_check", "c_create", "py_load", "py_runtime")] == [0, 0, "ok", "ok"], result


def test_verify_checksums_false_skips_only_the_checksum_rule(outcomes):
    result = outcomes["unverified_still_refuses_duplicates"]
    for door in ("c_check", "c_create", "py_load", "py_runtime"):
        assert "duplicate action name" in result[door][1], result
