"""`vidgen info BUNDLE`: the summary of a good bundle (frame size, actions with ids and keys,
batch sizes, graph files, precision, format version, head, conditions) as text and JSON, and one
line naming the file and the reason for a bundle the native validator refuses."""

import json
import shutil

import pytest

from conftest import vidgen
from vidgen_rt.commands.info import format_summary, summarise
from vidgen_rt.export.manifest import FORMAT_VERSION
from vidgen_rt.export.bundle import load_bundle
from vidgen_rt.export.writer import write_pack


@pytest.fixture(scope="module")
def bundle(tiny_bundle):
    return tiny_bundle


def test_summary_of_a_good_bundle(bundle, tmp_path):
    text = vidgen("info", bundle).stdout
    assert "frame       32x32: RGB uint8 in, RGBA uint8 out, rows top-down" in text
    assert f"(vidgen_rt.bundle format {FORMAT_VERSION}, vidgen_rt " in text
    assert "precision   fp32" in text and "head        mse: deterministic" in text
    assert "batch sizes 1, 2 (players per stream)" in text and "conditions  none (actions only)" in text
    assert "batch 2: encode encode_b2.onnx (" in text and ", step step_b2.onnx (" in text
    assert "    0  noop          -  (default: no key held)" in text
    assert "    3  turn_left     Q, LEFT" in text and "    6  strafe_right  D" in text

    vidgen("info", bundle, "--json", tmp_path / "info.json")
    summary = json.loads((tmp_path / "info.json").read_text())
    assert summary["actions"][1] == {"id": 1, "name": "forward", "keys": ["W", "UP"], "default": False}
    assert summary["batch_sizes"] == [1, 2] and summary["window"] == summary["cache"]["cache_slots"] + 1
    assert summary["graphs"]["1"]["step"]["bytes"] == (bundle / "step.onnx").stat().st_size
    assert json.loads(vidgen("info", bundle, "--json", "-").stdout) == summary


def test_a_packed_bundle_is_summarised_from_its_index(bundle, tmp_path):
    pack = write_pack(bundle, tmp_path / "tiny.vgrtpack")
    text = vidgen("info", pack).stdout
    assert text.startswith(f"bundle      {pack} (packed)\n")
    assert f"step step.onnx ({(bundle / 'step.onnx').stat().st_size / 1e6:.1f} MB)" in text
    assert text.split("\n", 1)[1] == vidgen("info", bundle).stdout.split("\n", 1)[1]


def test_flow_head_and_conditions_are_described(bundle):
    loaded = load_bundle(bundle)
    loaded.manifest["conditions"] = {"cond": {"dim": 2, "names": ["speed", "heading"]},
                                     "guide": {"channels": 1, "names": ["depth"], "range": [-4.0, 4.0]}}
    summary = summarise(loaded)
    summary["head"].update(kind="flow_conv", sampling_steps=2, fused_sampling_steps=[1, 2, 4])
    described = format_summary(summary)
    assert ("head        flow_conv: flow head, 2 Euler steps per frame by default (1..8; one fused graph for "
            "K = 1, 2, 4)") in described
    assert ("conditions  cond vector of 2 per step (speed, heading); guide map of 1 channels per step (depth), "
            "values in [-4.0, 4.0]") in described


@pytest.mark.parametrize("damage", ["flipped byte", "missing manifest", "not a bundle"])
def test_a_bad_bundle_is_one_line(bundle, tmp_path, damage):
    broken = tmp_path / "broken.vgrt"
    shutil.copytree(bundle, broken)
    if damage == "flipped byte":
        data = bytearray((broken / "decode.onnx").read_bytes())
        data[len(data) // 2] ^= 0xFF
        (broken / "decode.onnx").write_bytes(bytes(data))
        expected = "decode.onnx"
    elif damage == "missing manifest":
        (broken / "manifest.json").unlink()
        expected = "manifest.json"
    else:
        broken = tmp_path / "nothing.vgrt"
        expected = "no such bundle directory"
    result = vidgen("info", broken, check=False)
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vidgen info: error: ") and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr
