"""`vidgen bench` on an untrained `tiny` world: the report schema, every backend producing numbers,
multi/offline batch figures, a flow head measured once per sampling-steps K, the no-cache path against
the cached step, TensorRT's absence reported cleanly, bad input refused, and the README table rendered from a results file. No speed assertions:
the figures only have to exist and be finite."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import vidgen_rt
from vidgen_rt.bench.backends import StepperRun, WindowRecomputeRun
from vidgen_rt.bench.report import console_table
from vidgen_rt.bench.run import run_bench
from vidgen_rt.cli import main
from vidgen_rt.config import preset
from vidgen_rt.export import export_bundle, load_bundle
from vidgen_rt.model.world_model import WorldModel
from vidgen_rt.train.checkpoint import load_checkpoint, save_checkpoint

ROOT = Path(__file__).resolve().parent.parent
FRAMES = 10
ROW_KEYS = {"backend", "precision", "fps", "p50_ms", "p90_ms", "p99_ms", "roofline_fraction"}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny world with its initial weights: the bench measures cost, not quality."""
    torch.manual_seed(0)
    config = preset("tiny")
    return save_checkpoint(tmp_path_factory.mktemp("bench") / "tiny", WorldModel(config.model), config,
                           {"world": "maze", "stage": "dynamics", "step": 0})


@pytest.fixture(scope="module")
def bundle(checkpoint, tmp_path_factory):
    return export_bundle(checkpoint, tmp_path_factory.mktemp("bench") / "tiny.vgrt", batches=[1, 2], quiet=True)


def assert_measured(row):
    assert ROW_KEYS <= set(row), row
    assert not row.get("skipped"), row
    for key in ("fps", "p50_ms", "p90_ms", "p99_ms", "roofline_fraction"):
        assert math.isfinite(row[key]) and row[key] > 0, (key, row)
    assert row["p50_ms"] <= row["p90_ms"] <= row["p99_ms"]


def test_single_every_backend_and_schema(bundle):
    backends = ["torch-eager", "torch-bf16", "ort-python", "native", "native-int8", "native-async",
                "native-int8-async", "native-trt"]
    report, latencies = run_bench(bundle, "single", backends, frames=FRAMES, threads=2, no_cache=True,
                                  warmup=2, quiet=True)
    measured = backends[:-1]
    assert {"scenario", "machine", "model", "peak_gflops", "results"} <= set(report)
    assert report["scenario"] == "single"
    assert {"cpu", "cores", "flags", "load_average_before"} <= set(report["machine"])
    assert {"preset", "params", "gflops_per_frame"} <= set(report["model"])
    assert report["model"]["preset"] == "tiny" and report["model"]["gflops_per_frame"]["total"] > 0
    assert {"fp32", "bf16", "int8"} <= set(report["peak_gflops"])
    rows = {row["backend"]: row for row in report["results"]}
    assert list(rows) == [*measured, "torch-eager-nocache", "native-trt"]
    for name in [*measured, "torch-eager-nocache"]:
        assert_measured(rows[name])
        assert rows[name]["frames"] == FRAMES and len(latencies[name]) == FRAMES
        assert rows[name]["step"]["p50_ms"] > 0 and rows[name]["decode"]["p50_ms"] > 0
    assert [rows[n]["precision"] for n in measured] == ["fp32", "bf16", "fp32", "fp32", "int8", "fp32", "int8"]
    for name in ("native-async", "native-int8-async"):  # pipelined: a frame's latency spans both stages
        assert rows[name]["latency"]["p50_ms"] > 0 and rows[name]["intra_op_threads"] == 1
    assert "TensorRT not available" in rows["native-trt"]["skipped"] and rows["native-trt"]["fps"] is None
    assert report["settings"]["bundles"] == ["fp32", "int8"]  # the given bundle, and int8 from its source


@pytest.mark.parametrize("scenario", ["multi", "offline"])
def test_multi_and_offline_report_batches(bundle, scenario):
    report, _ = run_bench(bundle, scenario, ["torch-eager", "native"], frames=FRAMES, threads=2, batches=[1, 2],
                          target_fps=1.0, warmup=2, quiet=True)
    assert report["settings"]["batches"] == [1, 2]
    for row in report["results"]:
        assert_measured(row)
        assert [entry["batch"] for entry in row["sweep"]] == [1, 2]
        if scenario == "multi":
            assert row["players"] == 2  # 1 fps is held by anything that runs at all
            assert row["batch"] == 2 and all(entry["holds"] for entry in row["sweep"])
        else:
            assert row["batch"] in (1, 2)
            assert row["fps"] == max(entry["fps"] for entry in row["sweep"])


def test_multi_holds_no_players_when_the_target_is_out_of_reach(bundle):
    report, _ = run_bench(bundle, "multi", ["native"], frames=FRAMES, threads=2, batches=[1, 2],
                          target_fps=1e9, warmup=2, quiet=True)
    row = report["results"][0]
    assert row["players"] == 0 and [entry["batch"] for entry in row["sweep"]] == [1]


def test_nocache_first_frame_matches_the_cached_step(checkpoint, bundle):
    loaded = load_checkpoint(checkpoint)
    context = load_bundle(bundle).context()
    actions = np.array([3, 5], dtype=np.int64)
    cached = StepperRun(lambda batch: vidgen_rt.open_stepper(loaded, "torch", batch), 2, context, loaded[1].model)
    recomputed = WindowRecomputeRun(loaded[0], context, batch=2)
    # the same last context frame (encoded in batches of another size, so equal to rounding)
    assert (cached.stepper.latents - recomputed.current).abs().max().item() <= 1e-5
    cached.frame(actions)
    recomputed.frame(actions)
    assert cached.stepper.latents.shape == recomputed.current.shape == (2, 8, 4, 4)
    assert (cached.stepper.latents - recomputed.current).abs().max().item() <= 1e-4
    assert cached.breakdown()["step"]["p50_ms"] > 0 and recomputed.breakdown()["decode"]["p50_ms"] > 0


def test_cli_world_writes_json_and_plot(checkpoint, tmp_path):
    out, plot = tmp_path / "b.json", tmp_path / "b.png"
    assert main(["bench", str(checkpoint), "--backends", "torch-eager,native", "--frames", str(FRAMES),
                 "--warmup", "2", "--quiet", "--json", str(out), "--plot", str(plot)]) == 0
    report = json.loads(out.read_text())
    assert [row["backend"] for row in report["results"]] == ["torch-eager", "native"]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_flow_head_rows_per_sampling_steps(tiny_flow_bundle):
    report, latencies = run_bench(tiny_flow_bundle, "single", ["torch-eager", "native"], frames=FRAMES, threads=2,
                                  warmup=2, quiet=True, sampling_steps=[1, 2], temperature=0.5)
    rows = [(row["backend"], row["sampling_steps"]) for row in report["results"]]
    assert rows == [("torch-eager", 1), ("torch-eager", 2), ("native", 1), ("native", 2)]
    assert set(latencies) == {"torch-eager K=1", "torch-eager K=2", "native K=1", "native K=2"}
    for row in report["results"]:
        assert_measured(row)
    assert report["settings"]["head"] == "flow_conv" and report["settings"]["temperature"] == 0.5
    assert "native K=2" in console_table(report)


@pytest.mark.parametrize("args, message", [
    (["--backends", "torch-eager,warp-drive"], "unknown backend warp-drive"),
    (["--sampling-steps", "1,9"], "sampling_steps 9: expected an integer 1..8"),
    (["--sampling-steps", "1,x"], "--sampling-steps '1,x': expected comma-separated integers"),
    (["--temperature", "-1"], "temperature -1.0: expected a finite number"),
    (["--frames", "5"], "at least 10 frames"),
    (["--source", "no-such-world"], "no such checkpoint"),
])
def test_bad_input_is_one_line_and_exit_2(checkpoint, capsys, args, message):
    source = args[1] if args[0] == "--source" else str(checkpoint)
    extra = [] if args[0] == "--source" else args
    assert main(["bench", source, "--quiet", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def test_perf_table_renders_readme_section(bundle, tmp_path):
    report, _ = run_bench(bundle, "single", ["native"], frames=FRAMES, threads=2, warmup=2, quiet=True)
    results = tmp_path / "results"
    results.mkdir()
    (results / "bench-single-2026-01-01.json").write_text(json.dumps(report))
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n## Performance\n<!-- perf-table:start -->\nold\n<!-- perf-table:end -->\n\nafter\n")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "perf_table.py"), "--results", str(results),
                    "--readme", str(readme)], check=True, capture_output=True, text=True)
    text = readme.read_text()
    assert "old" not in text and text.endswith("<!-- perf-table:end -->\n\nafter\n")
    assert "| native | fp32 |" in text and "bench-single-2026-01-01.json" in text
