"""Writing files and directories so that readers never see half of them.

A file is written to a temporary sibling and renamed over its target; a directory (a checkpoint, a
bundle) is filled in a temporary sibling directory and renamed into place, and removed if anything
fails on the way. Both get the permissions a plain open()/mkdir() would give.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path


def default_mode(directory: bool) -> int:
    """The mode a plain open()/mkdir() would give under the current umask (mkstemp/mkdtemp make
    private files, which would leave checkpoints unreadable to other users of a shared machine)."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


def write_json_atomic(path: Path, data: dict) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.chmod(tmp, default_mode(directory=False))
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_directory(target: Path):
    """Yield an empty staging directory beside `target`; when the block succeeds it replaces
    `target` (removed first if present), when it raises the staging directory is deleted."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    os.chmod(staging, default_mode(directory=True))
    try:
        yield staging
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
