"""Train a world model on an episode store: the tokenizer first, then the dynamics transformer, then
(with train.decoder_steps > 0) the decoder tuned on the dynamics' own samples (docs/model.md).

The run directory gets config.json, log.jsonl (losses, frames/s, validation) and checkpoints/ with
latest.json pointing at the newest complete checkpoint. Override any config field with
--set section.key=value. Scale out with DDP: torchrun --nproc_per_node=2 -m vidgen_rt.cli train ...

examples:
  vidgen train --preset small --data data/maze --out runs/maze-small
  vidgen train --preset tiny --data /tmp/tiny --out /tmp/run --set train.dynamics_steps=50
  vidgen train --preset small --data data/maze --out runs/maze-small --resume
  vidgen train --preset small --data data/maze --out runs/ft --stage dynamics --init-from runs/maze-small
  vidgen train --preset small --data data/maze --out runs/sharp --stage decoder --init-from runs/maze-small \
      --set train.decoder_steps=1000
"""

from pathlib import Path

HELP = "train a world model (tokenizer, then dynamics, optionally the decoder) on an episode store"


def configure(parser) -> None:
    parser.add_argument("--preset", default="small", help="config preset: tiny, small or medium (default: small)")
    parser.add_argument("--data", required=True, type=Path, help="episode store directory (vidgen record / ingest)")
    parser.add_argument("--out", required=True, type=Path, help="run directory for logs and checkpoints")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a config field, e.g. train.batch_size=8 (repeatable)")
    parser.add_argument("--stage", choices=["all", "tokenizer", "dynamics", "decoder"], default="all",
                        help="train one stage only (dynamics needs a trained tokenizer, decoder a trained world, "
                             "via --init-from or --resume; decoder also train.decoder_steps > 0)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")
    parser.add_argument("--init-from", metavar="CKPT", help="start from the weights of another checkpoint or run")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from vidgen_rt.config import apply_overrides, preset
    from vidgen_rt.errors import ConfigError
    from vidgen_rt.preflight import output_dir
    from vidgen_rt.train.checkpoint import resolve_checkpoint
    from vidgen_rt.train.trainer import STAGES, Trainer

    config = apply_overrides(preset(args.preset), args.overrides)
    output_dir(args.out, "--out", inside=True)
    stages = STAGES if args.stage == "all" else (args.stage,)
    if args.resume and args.init_from:
        raise ConfigError("--resume and --init-from exclude each other")
    if not args.resume and (args.out / "latest.json").exists():
        raise ConfigError(f"{args.out} already holds a run; pass --resume to continue it or choose another --out")
    if args.resume:
        resolve_checkpoint(args.out)
    if stages in (("dynamics",), ("decoder",)) and not (args.resume or args.init_from):
        needed = "tokenizer" if stages == ("dynamics",) else "world (tokenizer and dynamics)"
        raise ConfigError(f"--stage {stages[0]} needs a trained {needed}: pass --init-from CKPT or --resume")
    if stages == ("decoder",) and config.train.decoder_steps == 0:
        raise ConfigError("--stage decoder trains nothing with train.decoder_steps=0: pass --set train.decoder_steps=N")
    trainer = Trainer(config, args.data, args.out, stages=stages, resume=args.resume,
                      init_from=args.init_from, quiet=args.quiet)
    state = trainer.run()
    if trainer.rank == 0:
        minutes = state["train_seconds"] / 60
        print(f"trained {', '.join(stages)} in {minutes:.1f} min; metrics {state['metrics']}; run in {args.out}")
    return 0
