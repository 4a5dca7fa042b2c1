"""bench/precision_world_quality.py: the sampled world's figures per backend and seed, judged against
the spread of fp32's own seeds."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "precision_world_quality.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("precision_world_quality", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_mean_is_judged_against_the_range_of_fp32s_seeds(script):
    reference = [{"sharpness_h1": 0.80}, {"sharpness_h1": 0.84}]
    inside = script.within_spread([{"sharpness_h1": 0.81}, {"sharpness_h1": 0.85}], reference)["sharpness_h1"]
    assert inside == {"mean": 0.83, "fp32_range": [0.80, 0.84], "within": True}
    outside = script.within_spread([{"sharpness_h1": 0.86}, {"sharpness_h1": 0.88}], reference)["sharpness_h1"]
    assert outside["within"] is False and outside["mean"] == pytest.approx(0.87)


def test_every_backend_and_seed_is_scored(script, tiny_flow_run, tmp_path):
    out = tmp_path / "quality.json"
    script.main([str(tiny_flow_run), "--backends", "native,native-openvino-bf16", "--seeds", "0,1",
                 "--episodes", "1", "--stride", "16", "--json", str(out)])
    result = json.loads(out.read_text())
    assert list(result["results"]) == ["native", "native-openvino-bf16"]
    for row in result["results"].values():
        assert len(row["per_seed"]) == 2
        for key, verdict in row["against_fp32"].items():
            low, high = verdict["fp32_range"]
            assert verdict["within"] == (low <= verdict["mean"] <= high), key
    seeds = result["results"]["native"]["per_seed"]
    assert {"sharpness_h1", "sharpness_h64", "sharpness_1-16", "ar_psnr_h16", "action_faithfulness"} <= set(seeds[0])
    assert seeds[0] != seeds[1]   # another seed draws other frames
    assert 0.0 <= seeds[0]["action_faithfulness"] <= 1.0


def test_an_unknown_backend_or_one_seed_is_refused(script, capsys):
    for argv in (["maze", "--backends", "native,warp-drive"], ["maze", "--seeds", "3"]):
        with pytest.raises(SystemExit):
            script.parse_args(argv)
    assert "--seeds: at least two" in capsys.readouterr().err
