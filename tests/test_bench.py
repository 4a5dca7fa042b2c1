"""`vidgen bench` on an untrained `tiny` world: the report schema, every backend producing numbers,
multi/offline batch figures, a flow head measured once per sampling-steps K, the no-cache path against
the cached step, TensorRT's absence reported cleanly, bad input refused, the per-frame floor (measured
bandwidth, every row's floor and fraction, the arithmetic on made-up numbers), and the README table
rendered from a results file. No speed assertions: the figures only have to exist and be finite."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import vidgen_rt
from vidgen_rt.bench.backends import BackendRun, StepperRun, WindowRecomputeRun
from vidgen_rt.bench.floor import CACHE_BYTES, WEIGHT_BYTES, floor, floor_fields, frame_work
from vidgen_rt.bench.report import console_table, markdown_table
from vidgen_rt.bench.run import run_bench
from vidgen_rt.cli import main
from vidgen_rt.config import preset
from vidgen_rt.errors import ConfigError
from vidgen_rt.export import export_bundle, load_bundle
from vidgen_rt.model.world_model import WorldModel
from vidgen_rt.train.checkpoint import load_checkpoint, save_checkpoint

ROOT = Path(__file__).resolve().parent.parent
FRAMES = 10
ROW_KEYS = {"backend", "precision", "fps", "p50_ms", "p90_ms", "p99_ms", "roofline_fraction", "floor_ms", "floor_fps",
            "floor_fraction", "floor_bound", "bytes_per_frame"}


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
    for key in ("fps", "p50_ms", "p90_ms", "p99_ms", "roofline_fraction", "floor_ms", "floor_fps", "floor_fraction",
                "bytes_per_frame"):
        assert math.isfinite(row[key]) and row[key] > 0, (key, row)
    assert row["p50_ms"] <= row["p90_ms"] <= row["p99_ms"]
    assert row["floor_bound"] in ("compute", "memory")
    assert row["floor_ms"] == max(row["floor_compute_ms"], row["floor_memory_ms"])
    assert row["floor_fraction"] == pytest.approx(row["floor_ms"] / row["mean_ms"], rel=1e-3)


def test_single_every_backend_and_schema(bundle):
    backends = ["torch-eager", "torch-bf16", "ort-python", "native", "native-int8", "native-async",
                "native-int8-async", "native-trt"]
    report, latencies = run_bench(bundle, "single", backends, frames=FRAMES, threads=2, no_cache=True,
                                  warmup=2, quiet=True)
    measured = backends[:-1]
    assert {"scenario", "machine", "model", "peak_gflops", "results"} <= set(report)
    assert report["scenario"] == "single"
    assert {"cpu", "cores", "flags", "load_average_before", "steal_fraction"} <= set(report["machine"])
    assert 0.0 <= report["machine"]["steal_fraction"] < 1.0  # Linux always has /proc/stat
    assert {"preset", "params", "gflops_per_frame"} <= set(report["model"])
    assert report["model"]["preset"] == "tiny" and report["model"]["gflops_per_frame"]["total"] > 0
    assert {"fp32", "bf16", "int8"} <= set(report["peak_gflops"])
    assert report["bandwidth_gbs"] > 0 and "MiB buffer" in report["bandwidth_method"]
    assert report["settings"]["turn_warmup"] == 4 and report["settings"]["chunk"] == 50
    tail = report["fixed_work_tail"]
    assert 0 < tail["p50_ms"] <= tail["p90_ms"] <= tail["p99_ms"] and 0 <= tail["long_unit_fraction"] <= 1
    assert tail["p99_over_p50"] == pytest.approx(tail["p99_ms"] / tail["p50_ms"], rel=1e-2)
    assert "units of" in report["fixed_work_method"]
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
    assert rows["native-trt"]["floor_fraction"] is None
    # One floor per precision: the bytes a frame reads follow from the precision, not the backend.
    assert rows["torch-eager"]["floor_ms"] == rows["native"]["floor_ms"] == rows["ort-python"]["floor_ms"]
    read = [rows[name]["bytes_per_frame"] for name in ("native-int8", "torch-bf16", "native")]
    assert read == sorted(read) and len(set(read)) == 3  # int8 < bf16 < fp32 weights
    assert "% floor" in console_table(report)
    assert report["settings"]["bundles"] == ["fp32", "int8"]  # the given bundle, and int8 from its source


@pytest.mark.parametrize("scenario", ["multi", "offline"])
def test_multi_and_offline_report_batches(bundle, scenario):
    report, _ = run_bench(bundle, scenario, ["torch-eager", "native"], frames=FRAMES, threads=2, batches=[1, 2],
                          target_fps=1.0, warmup=2, quiet=True)
    assert report["settings"]["batches"] == [1, 2]
    for row in report["results"]:
        assert_measured(row)
        assert [entry["batch"] for entry in row["sweep"]] == [1, 2]
        # a batch of two reads the weights once and two players' KV caches
        single = frame_work(report["model"], "fp32", 1, None)[1]
        assert row["bytes_per_frame"] == single + (row["batch"] - 1) * report["model"]["kv_cache_values"] * 4
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
    # each Euler step of the head adds its FLOPs and reads its weights again
    flops, weights = report["model"]["gflops_per_frame"], report["model"]["weights"]
    assert flops["sample"] > 0 and weights["sample"] > 0
    native = {row["sampling_steps"]: row for row in report["results"] if row["backend"] == "native"}
    one, two = native[1], native[2]
    assert two["gflops_per_frame"] - one["gflops_per_frame"] == pytest.approx(flops["sample"], rel=1e-4)
    assert two["bytes_per_frame"] - one["bytes_per_frame"] == weights["sample"] * 4
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


MODEL = {"gflops_per_frame": {"step": 1.0, "sample": 0.5, "decode": 2.0, "total": 3.0}, "gflops_per_frame_nocache": 9.0,
         "weights": {"step": 1000, "sample": 100, "decode": 500}, "kv_cache_values": 10_000}


def test_steal_fraction_from_proc_stat_readings(monkeypatch, tmp_path):
    # user nice system idle iowait irq softirq steal guest guest_nice: steal is the 8th number and
    # guest time (already inside user) does not count twice.
    readings = iter(["cpu  100 0 50 800 10 0 0 40 999 0\n", "cpu  300 0 100 1400 10 0 0 190 999 0\n"])
    real_open = open

    def fake_open(path, *args, **kwargs):
        if path == "/proc/stat":
            stat = tmp_path / "stat"
            stat.write_text(next(readings))
            return real_open(stat, *args, **kwargs)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", fake_open)
    from vidgen_rt.machine import cpu_ticks, steal_fraction

    before, after = cpu_ticks(), cpu_ticks()
    assert before == (40, 1000) and after == (190, 2000)
    assert steal_fraction(before, after) == pytest.approx(150 / 1000)
    assert steal_fraction(None, after) is None and steal_fraction(after, before) is None


@pytest.mark.parametrize("stolen, warned", [(0.2, True), (0.01, False), (None, False)])
def test_a_run_on_a_busy_host_warns(monkeypatch, capsys, stolen, warned):
    report = {"machine": {"steal_fraction": stolen}}
    monkeypatch.setattr("vidgen_rt.bench.run.run_bench", lambda *args, **kwargs: (report, {}))
    monkeypatch.setattr("vidgen_rt.bench.report.console_table", lambda report: "the table")
    assert main(["bench", "maze", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "the table" in out
    assert ("took 20 % of this machine's CPU time" in err) == warned, err


class _LoggedRun(BackendRun):
    """A run that notes, in `log` shared by all runs, which backend made each frame and whether it was timed."""

    def __init__(self, name: str, log: list):
        super().__init__(1)
        self.name, self.log = name, log

    def frame(self, actions, record: bool = True) -> None:
        self.log.append((self.name, record))
        super().frame(actions, record)

    def _frame(self, actions) -> None:
        pass

    def breakdown(self) -> dict:
        return {}


def test_every_turn_opens_with_untimed_frames():
    from tqdm import tqdm

    from vidgen_rt.bench.backends import Backend
    from vidgen_rt.bench.scenarios import Scenario, Settings

    log = []
    backends = [Backend(name, "fp32", open=lambda batch, name=name: _LoggedRun(name, log)) for name in "ab"]
    settings = Settings(frames=20, warmup=3, chunk=10, turn_warmup=4, quiet=True)
    scenario = Scenario("single", backends, [1], 4, {}, {}, 1.0, settings)
    scenario.bar = tqdm(total=0, disable=True)
    runs = scenario._measure(scenario.backends, 1)
    assert [len(run.samples["total"]) for _, run in runs] == [20, 20]
    interleaved = log[2 * settings.warmup:]   # after each backend's own warm-up: 2 rounds of 2 turns
    turns = [interleaved[start:start + 14] for start in range(0, len(interleaved), 14)]
    assert [turn[0][0] for turn in turns] == ["a", "b", "b", "a"]   # the first backend changes every round
    for turn in turns:
        assert len({name for name, _ in turn}) == 1 and [timed for _, timed in turn] == [False] * 4 + [True] * 10
    with pytest.raises(ConfigError, match="at least one untimed frame"):
        run_bench("maze", "single", ["native"], turn_warmup=0)


def test_fixed_work_tail_counts_stalls():
    from vidgen_rt.bench.peak import tail_figures

    even = np.full(1000, 2.0)
    stalled = even.copy()
    stalled[::50] += 2.5   # one unit in fifty 2.5 ms late, as the stepping stage's tail
    assert tail_figures(even)["long_unit_fraction"] == 0 and tail_figures(even)["p99_over_p50"] == 1.0
    figures = tail_figures(stalled)
    assert figures["long_unit_fraction"] == pytest.approx(0.02) and figures["p99_over_p50"] > 2.0


def test_floor_arithmetic_on_made_up_numbers():
    # K = 2 sample steps, batch 3: FLOPs per player 1 + 2·0.5 + 2 GFLOP; weights read once, caches per player
    flops, read = frame_work(MODEL, "bf16", 3, 2)
    assert flops == pytest.approx(3 * 4.0e9)
    assert read == (1000 + 2 * 100 + 500) * 2 + 3 * 10_000 * 2
    assert frame_work(MODEL, "int8", 1, None)[1] == 1500 * 1 + 10_000 * 4  # int8 weights, float32 cache
    assert frame_work(MODEL, "fp32", 2, None, nocache=True) == (pytest.approx(2 * 9.0e9), 1500 * 4)
    assert (WEIGHT_BYTES["fp32"], CACHE_BYTES["int8"]) == (4, 4)

    compute = floor(flops=4e9, read_bytes=1e6, peak_gflops=100.0, bandwidth_gbs=10.0)  # 40 ms vs 0.1 ms
    assert compute["floor_bound"] == "compute" and compute["floor_ms"] == pytest.approx(40.0)
    memory = floor(flops=1e6, read_bytes=2e9, peak_gflops=100.0, bandwidth_gbs=10.0)  # 0.01 ms vs 200 ms
    assert memory["floor_bound"] == "memory" and memory["floor_ms"] == pytest.approx(200.0)
    with pytest.raises(ValueError, match="must be positive"):
        floor(1e9, 1e6, 0.0, 10.0)

    # fp32, batch 1, mse: 3 GFLOP at 300 GFLOP/s = 10 ms; 46,000 bytes at 1 GB/s = 0.046 ms; measured 40 ms
    row = floor_fields(MODEL, "fp32", 1, None, False, 300.0, 1.0, mean_ms=40.0)
    assert row["floor_ms"] == pytest.approx(10.0) and row["floor_fps"] == pytest.approx(100.0)
    assert row["floor_fraction"] == pytest.approx(0.25) and row["floor_bound"] == "compute"
    # batch 4 at 1 MB/s: 6,000 weight bytes + 4 players' 40,000 cache bytes take 166 ms; the floor fps counts
    # every player
    row = floor_fields(MODEL, "fp32", 4, None, False, 1e6, 0.001, mean_ms=200.0)
    assert row["floor_bound"] == "memory" and row["floor_ms"] == pytest.approx(166.0)
    assert row["floor_fraction"] == pytest.approx(0.83)
    assert row["floor_fps"] == pytest.approx(4 * 1000.0 / 166.0, abs=0.01)
    assert floor_fields(MODEL, "fp16", 1, None, False, None, 1.0, 40.0)["floor_fraction"] is None
    # a microsecond floor (3 GFLOP at 1.2 PFLOP/s = 0.0025 ms) keeps its figures: fraction 0.0025 / 0.83 ms
    row = floor_fields(MODEL, "fp32", 1, None, False, 1.2e6, 1000.0, mean_ms=0.83)
    assert row["floor_ms"] == pytest.approx(0.0025, rel=1e-5)
    assert row["floor_fraction"] == pytest.approx(0.0025 / 0.83, rel=1e-5)


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
    assert "| % of floor |" in text and "read bandwidth" in text
    row = next(line for line in text.splitlines() if line.startswith("| native | fp32 |"))
    assert row.count("—") == 0 and ("(compute)" in row or "(memory)" in row)
    # a report from before the floor was measured renders it as "—"
    for row in report["results"]:
        for key in ("floor_ms", "floor_fps", "floor_fraction", "floor_bound"):
            del row[key]
    del report["bandwidth_gbs"]
    old = markdown_table(report)
    assert "| — | — |" in old and "read bandwidth not measured" in old
