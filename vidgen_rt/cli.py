"""The `vidgen` command: one console script with a subcommand per job.

Each subcommand lives in `vidgen_rt.commands.<name>`; this file only builds the parser, dispatches,
and turns user-fixable errors (`VidgenError`) into a one-line message and exit status 2. Commands
check their output paths before any work (vidgen_rt.preflight); an OSError that still escapes (a
disk that fills, a folder removed mid-run) is reported the same way, as the path and the system's
reason, never as a traceback.
"""

import argparse
import importlib
import sys

from vidgen_rt import __version__
from vidgen_rt.errors import VidgenError

COMMANDS = ("record", "ingest", "train", "generate", "eval", "export", "info", "sdk", "play", "bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vidgen",
        description="Train, run and evaluate frame-causal world models (a neural game engine).",
    )
    parser.add_argument("--version", action="version", version=f"vidgen_rt {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"vidgen_rt.commands.{name}")
        sub = subparsers.add_parser(
            name, help=module.HELP, description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.configure(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except VidgenError as error:
        print(f"vidgen {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        print(f"vidgen {args.command}: error: {where}{error.strerror or error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vidgen {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
