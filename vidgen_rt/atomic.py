"""Writing files and directories so that readers never see half of them, and nothing is left behind.

A file is written to a staging sibling and renamed over its target; a directory (a checkpoint, a
bundle, an episode store) is filled in a staging sibling directory and renamed into place, and
removed if anything fails on the way. Both get the permissions a plain open()/mkdir() would give.

A process killed outright (SIGKILL, power loss) cannot clean up, so every staging name says who
wrote it: `.<target>.tmp-<host>-<boot>-<pid>-<token>` (`.old-` for a replaced target on its way
out). The next writer of the same target removes staging output whose writer is dead: same host
and boot but the pid has exited, or same host and an earlier boot. A live writer's staging, or one
from another host sharing the filesystem, is never touched (docs/architecture.md §9).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import socket
from pathlib import Path

log = logging.getLogger(__name__)

_STAGING = re.compile(r"\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<host>[A-Za-z0-9]+)-(?P<boot>[0-9a-f]{8})"
                      r"-(?P<pid>\d+)-[0-9a-f]{8}")


def default_mode(directory: bool) -> int:
    """The mode a plain open()/mkdir() would give under the current umask (mkstemp/mkdtemp make
    private files, which would leave checkpoints unreadable to other users of a shared machine)."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname()) or "host"


def _boot_id() -> str:
    """Eight hex digits that change at every boot (Linux); a pid is only unique within one boot."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")[:8]
    except OSError:
        return "0" * 8


def staging_path(target: Path, kind: str = "tmp") -> Path:
    """A fresh sibling name for `target` that names this process as its writer."""
    target = Path(target)
    writer = f"{_host()}-{_boot_id()}-{os.getpid()}-{secrets.token_hex(4)}"
    return target.with_name(f".{target.name}.{kind}-{writer}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    except (OverflowError, ValueError):
        return False
    try:  # a killed child its parent has not reaped yet is a zombie: dead for our purpose
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _writer_dead(match: re.Match) -> bool:
    if match["host"] != _host():
        return False  # a writer on another machine sharing this filesystem: cannot tell
    if match["boot"] != _boot_id():
        return True
    return not _pid_alive(int(match["pid"]))


def remove_stale_staging(directory: Path, name: str | None = None) -> list[Path]:
    """Remove staging output in `directory` (of target `name`, or of any target) whose writer is
    dead. A dead writer's `.old-` copy is removed only once its target exists again, since until
    then it is the only copy. Returns what was removed."""
    directory = Path(directory)
    removed = []
    try:
        entries = list(directory.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _STAGING.fullmatch(entry.name)
        if not match or (name is not None and match["name"] != name) or not _writer_dead(match):
            continue
        if match["kind"] == "old" and not (directory / match["name"]).exists():
            continue
        _remove(entry)
        log.info("removed %s, left by writer pid %s, which has exited", entry, match["pid"])
        removed.append(entry)
    return removed


@contextlib.contextmanager
def atomic_file(path: Path):
    """Yield a staging path beside `path` (created empty, with umask permissions, its folder made
    if missing); move it onto `path` when the block succeeds, delete it when anything fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(path.parent, path.name)
    staging = staging_path(path)
    os.close(os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield staging
        os.replace(staging, path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: dict) -> None:
    with atomic_file(path) as staging:
        with open(staging, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())


def replace_directory(staging: Path, target: Path) -> None:
    """Rename the complete `staging` directory onto `target`. An existing target is first renamed
    aside (not deleted in place, which a kill could interrupt half-way) and removed afterwards."""
    if not (target.exists() or target.is_symlink()):
        os.rename(staging, target)
    else:
        old = staging_path(target, "old")
        os.rename(target, old)
        try:
            os.rename(staging, target)
        except BaseException:
            os.rename(old, target)
            raise
        _remove(old)
    fsync_dir(target.parent)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def fsync_dir(path: Path) -> None:
    """Make a rename durable; platforms that cannot open a directory (Windows) skip it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_directory(target: Path):
    """Yield an empty staging directory beside `target`; when the block succeeds it replaces
    `target`, when it raises the staging directory is deleted."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(target.parent, target.name)
    staging = staging_path(target)
    staging.mkdir()
    try:
        yield staging
        replace_directory(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
