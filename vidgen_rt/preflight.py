"""Checks a command makes before any work starts: can its outputs be written, does it fit in memory.

A command that fails after minutes of generation or training because `-o` names a directory, or a
path under a regular file, or a folder it may not write, has wasted those minutes; one that fills
the machine's memory takes other programs down with it. So every command checks its output paths
and the memory its request needs first, and refuses with one line naming the flag, the value and
what was expected (docs/architecture.md §9). Nothing here creates anything.
"""

from __future__ import annotations

import os
from pathlib import Path

from vidgen_rt.errors import ConfigError

MEMORY_FRACTION = 0.5  # of the memory available when the command starts; the rest stays for others


def _writable_ancestor(path: Path, flag: str) -> None:
    """The nearest existing ancestor of `path` must be a directory this process may create in."""
    ancestor = path.parent
    while not (ancestor.exists() or ancestor.is_symlink()) and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ConfigError(f"{flag} {path}: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {path}: cannot create anything in {ancestor} (permission denied)")


def output_file(path, flag: str) -> Path:
    """Refuse a file output that names a directory or a device, or lies where nothing can be created.
    The file is written beside itself and renamed into place, so its folder must be writable."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{flag} {path}: is a directory; expected a file name")
    if path.exists() and not path.is_file():
        raise ConfigError(f"{flag} {path}: exists and is not a regular file")
    _writable_ancestor(path, flag)
    return path


def output_dir(path, flag: str, inside: bool = False) -> Path:
    """Refuse a directory output that names an existing file or lies where nothing can be created.
    By default the directory is built beside itself and renamed into place (its parent must be
    writable); `inside` is for one written in place, like a run directory (it must be writable)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {path}: exists and is not a directory")
    if inside and path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise ConfigError(f"{flag} {path}: cannot write in it (permission denied)")
        return path
    _writable_ancestor(path, flag)
    return path


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (MemAvailable), None where it cannot be read."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def require_memory(needed: int, request: str) -> None:
    """Refuse a request that needs more than MEMORY_FRACTION of the memory available now."""
    available = available_memory()
    if available is None:
        return
    limit = int(available * MEMORY_FRACTION)
    if needed > limit:
        raise ConfigError(f"{request} needs {_gib(needed)} of memory; the limit is half of the {_gib(available)} "
                          f"available now ({_gib(limit)}): ask for less")


def _gib(size: int) -> str:
    return f"{size / 2**30:.1f} GiB"
