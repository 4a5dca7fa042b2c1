"""Subcommands of `vidgen`, one module each.

Every module defines `HELP` (one line), `configure(parser)` to add its arguments and `run(args) -> int`.
Modules keep heavy imports (torch, av, cv2) inside `run` so that `vidgen --help` stays fast.
"""
