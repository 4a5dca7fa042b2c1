"""Benchmark a world's frame generation: backends side by side in one run, MLPerf LoadGen-style.

WORLD is a shipped world name (maze), a run or a checkpoint directory: it is exported to temporary
bundles as the backends need (fp32 for ort-python and native, int8 for native-int8). A BUNDLE runs
as it is; the PyTorch backends use its source checkpoint when that is here.

scenarios:
  single    one stream: per-frame latency p50/p90/p99 and fps (step, decode, end to end)
  multi     the most concurrent players (batched streams) that each hold --target-fps with p99
            within the frame budget (1000 / target ms)
  offline   the most frames per second with any batch size

backends: torch-eager (PyTorch fp32, the hand-written per-frame loop), torch-bf16 (the same under
bf16 autocast), ort-python (OrtStepper: numpy + ONNX Runtime), native (libvidgen_rt, fp32 bundle),
native-int8 (int8 bundle), native-async and native-int8-async (the runtime's asynchronous mode as a
game host plays it: decode of one frame overlaps the step to the next, each stage on half the cores;
fps is the rate frames reach the host, `latency` in the row is step start to frame handed over),
native-openvino and native-openvino-bf16 (libvidgen_rt's OpenVINO backend on the fp32 bundle,
computing in fp32 or bf16; -async variants as above; skipped with the reason where OpenVINO cannot
load), native-trt (TensorRT; reported as skipped where the runtime lacks it).
--no-cache adds torch-eager-nocache: the same model recomputing its whole window every frame.
A world with a flow head runs each backend once per --sampling-steps K (default: the world's K),
each a row with its K; --temperature scales the head's noise (default 1).
Every result has the FLOPs per frame and the fraction of this machine's measured matmul peak, and
its per-frame floor, max(FLOPs / peak, bytes a frame reads / measured read bandwidth), with the
fraction of it reached (docs/benchmarks.md). On a virtual machine the share of CPU time its host
took during the run (steal) is recorded too, with a warning above 5 %, and so is the machine's own
tail: one frame-sized unit of fixed work timed 500 times (p99 / p50 and stalls over 1 ms), the least
any row's p99 / p50 can be on this machine.

examples:
  vidgen bench maze
  vidgen bench maze --scenario single --backends torch-eager,native --json b.json
  vidgen bench maze --backends torch-eager,torch-bf16,ort-python,native,native-int8 --no-cache \\
      --json bench/results/bench-single-2026-11-24.json --plot bench/results/bench-single-2026-11-24.png
  vidgen bench maze --scenario multi --backends native,native-int8 --target-fps 30
  vidgen bench maze.vgrt --scenario offline --frames 200 --threads 2
  vidgen bench maze --backends torch-eager,native,native-openvino,native-openvino-bf16
  vidgen bench maze --backends torch-eager,native,native-async --sampling-steps 1,2,4
"""

import sys
from pathlib import Path

NOISY_STEAL = 0.05  # above this share of CPU time taken by a VM's host, a run's figures are noisy

HELP = "benchmark frames/s and latency of a world: backends side by side, scenarios, roofline"


def configure(parser) -> None:
    from vidgen_rt.bench.backends import BACKENDS, DEFAULT_BACKENDS
    from vidgen_rt.bench.scenarios import SCENARIOS

    parser.add_argument("source", metavar="WORLD|BUNDLE", help="shipped world, run, checkpoint, or bundle directory")
    parser.add_argument("--scenario", default="single", choices=SCENARIOS, help="what to measure (default: single)")
    parser.add_argument("--backends", default=",".join(DEFAULT_BACKENDS),
                        help=f"comma-separated, from {', '.join(BACKENDS)} (default: %(default)s)")
    parser.add_argument("--frames", type=int, default=300,
                        help="measured frames per backend and batch size, at least 10 (default: 300)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured frames per backend first (default: 20)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for PyTorch, ONNX Runtime and the peak (default: the usable cores)")
    parser.add_argument("--batches", default=None,
                        help="batch sizes for multi/offline, comma-separated with 1 (default: 1,2,4,8,16)")
    parser.add_argument("--target-fps", type=float, default=30.0, help="multi: fps every player must hold (default 30)")
    parser.add_argument("--no-cache", action="store_true",
                        help="add torch-eager-nocache: recompute the whole window every frame (what the KV ring buys)")
    parser.add_argument("--sampling-steps", default=None, metavar="K[,K...]",
                        help="a flow head's Euler steps per frame, each measured as its own row "
                             "(e.g. 1,2,4; default: the world's K; an mse world has none)")
    parser.add_argument("--temperature", type=float, default=1.0, help="a flow head's noise scale, 0..4 (default 1)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the report as JSON")
    parser.add_argument("--plot", type=Path, metavar="PATH.png", help="write latency distributions and fps as a PNG")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from vidgen_rt.bench.report import console_table, write_json, write_plot
    from vidgen_rt.bench.run import run_bench
    from vidgen_rt.errors import ConfigError
    from vidgen_rt.export.writer import parse_batches
    from vidgen_rt.preflight import output_file

    if args.target_fps <= 0:
        raise ConfigError(f"--target-fps {args.target_fps}: expected a positive number")
    if args.warmup < 0:
        raise ConfigError(f"--warmup {args.warmup}: expected 0 or more")
    if args.plot is not None and args.plot.suffix.lower() != ".png":
        raise ConfigError(f"--plot {args.plot}: expected a .png path")
    for flag, path in (("--json", args.json), ("--plot", args.plot)):
        if path is not None:
            output_file(path, flag)
    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    batches = None if args.batches is None else parse_batches(args.batches)
    sampling_steps = None if args.sampling_steps is None else parse_steps(args.sampling_steps)
    report, latencies = run_bench(args.source, args.scenario, backends, frames=args.frames, threads=args.threads,
                                  batches=batches, no_cache=args.no_cache, target_fps=args.target_fps,
                                  warmup=args.warmup, quiet=args.quiet, sampling_steps=sampling_steps,
                                  temperature=args.temperature)
    print(console_table(report))
    stolen = report["machine"].get("steal_fraction")
    if stolen is not None and stolen > NOISY_STEAL:
        print(f"warning: the host took {100 * stolen:.0f} % of this machine's CPU time during the run (steal); "
              "its figures are noisier than usual: compare rows of this run with each other, not with "
              "other runs", file=sys.stderr)
    if args.json:
        write_json(report, args.json)
        print(f"wrote {args.json}")
    if args.plot:
        write_plot(report, latencies, args.plot)
        print(f"wrote {args.plot}")
    return 0


def parse_steps(text: str) -> list[int]:
    """--sampling-steps "1,2,4" -> [1, 2, 4] (range checked by run_bench)."""
    from vidgen_rt.errors import ConfigError

    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--sampling-steps {text!r}: expected comma-separated integers, e.g. 1,2,4") from None
