"""Where a bench row's slow frames come from: the untimed frames that open each round-robin turn.

`vidgen bench` interleaves its backends in turns of `chunk` frames (vidgen_rt/bench/scenarios.py), and
each turn opens with `turn_warmup` untimed frames because the first frames after another backend's
turn run on cold caches, idle thread pools and an empty pipeline. This script runs the `single`
scenario with several `turn_warmup` values, alternating them for `--rounds` rounds in one process,
and reports per backend and value: frames/s, p99 / p50 of the frame interval, how many frames ran
more than 1 ms over the median, and how many of those opened a turn's timed frames (the index of a
timed frame modulo the chunk is 0). With the machine's fixed-work tail of each run beside them.

    .venv/bin/python bench/turn_warmup_ab.py /tmp/maze.vgrt --warmups 1,2,4 --rounds 2

Writes bench/results/turn-warmup-ab-DATE.json (--json to choose).
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

import numpy as np

from vidgen_rt.atomic import write_json_atomic
from vidgen_rt.bench.report import row_label
from vidgen_rt.bench.run import run_bench

RESULTS = Path(__file__).resolve().parent / "results"
BACKENDS = "native,native-openvino-bf16,native-async,native-openvino-bf16-async"
SLOW_MS = 1.0


def slow_frames(latencies_ms, chunk: int) -> dict:
    """Frames more than SLOW_MS over the median, and how many of them open a turn's timed frames."""
    values = np.asarray(latencies_ms)
    slow = np.nonzero(values > np.median(values) + SLOW_MS)[0]
    return {"slow_frames": int(len(slow)), "slow_at_turn_start": int(np.sum(slow % chunk == 0))}


def measure(source: str, backends: list[str], warmup: int, frames: int) -> dict:
    """One `single` bench run with `turn_warmup = warmup`: {label: figures}, and the run's fixed-work tail."""
    report, latencies = run_bench(source, "single", backends, frames=frames, quiet=True, turn_warmup=warmup)
    chunk = report["settings"]["chunk"]
    rows = {}
    for row in report["results"]:
        if row.get("skipped"):
            continue
        rows[row_label(row)] = {"fps": row["fps"], "p50_ms": row["p50_ms"], "p99_ms": row["p99_ms"],
                                "p99_over_p50": round(row["p99_ms"] / row["p50_ms"], 3),
                                **slow_frames(latencies[row_label(row)], chunk)}
    return {"rows": rows, "fixed_work_tail": report["fixed_work_tail"], "machine": report["machine"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="a world name or an exported bundle (.vgrt)")
    parser.add_argument("--backends", default=BACKENDS, help=f"comma-separated (default {BACKENDS})")
    parser.add_argument("--warmups", default="1,2,4", help="turn_warmup values to compare (default 1,2,4)")
    parser.add_argument("--rounds", type=int, default=2, help="times every value runs, alternating (default 2)")
    parser.add_argument("--frames", type=int, default=1000, help="timed frames per backend and run (default 1000)")
    parser.add_argument("--json", type=Path, default=None,
                        help="output (default bench/results/turn-warmup-ab-DATE.json)")
    args = parser.parse_args()
    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    warmups = [int(value) for value in args.warmups.split(",")]
    if min(warmups) < 1 or args.rounds < 1:
        parser.error("--warmups values and --rounds must be at least 1")
    runs = []
    for round_index in range(args.rounds):
        for warmup in warmups:
            result = measure(args.source, backends, warmup, args.frames)
            runs.append({"round": round_index + 1, "turn_warmup": warmup, **result})
            for label, figures in result["rows"].items():
                print(f"round {round_index + 1} turn_warmup {warmup} {label}: {figures}", flush=True)
            print(f"  fixed work: {result['fixed_work_tail']}", flush=True)
    date = datetime.date.today().isoformat()
    path = args.json or RESULTS / f"turn-warmup-ab-{date}.json"
    write_json_atomic(path, {"date": date, "source": str(args.source), "backends": backends,
                             "frames": args.frames, "slow_ms": SLOW_MS, "runs": runs})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
