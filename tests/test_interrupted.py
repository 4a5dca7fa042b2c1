"""Commands killed outright leave nothing behind for long: a SIGKILLed `vidgen export` or `vidgen
record` cannot clean up its staging directory, so the next run of the same command removes it, and
never the staging output of a writer that is still alive (docs/architecture.md §9)."""

import os
import subprocess
import sys
import time

import pytest

from conftest import CLI, vidgen
from vidgen_rt.atomic import staging_path, write_json_atomic
from vidgen_rt.data.store import EpisodeStore

RECORD = ["record", "maze", "--episodes", "60", "--frames", "64", "--size", "16", "--policy", "random"]


def staging_of(target):
    return sorted(target.parent.glob(f".{target.name}.*"))


def kill_mid_way(args, target, ready, timeout=240):
    """Start `vidgen args`, SIGKILL it once its staging directory satisfies `ready`; return that
    staging directory, still there."""
    process = subprocess.Popen([*CLI, *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            staged = staging_of(target)
            if staged and ready(staged[0]):
                process.kill()
                process.wait()
                assert staging_of(target) == staged, "the kill should leave the staging directory"
                return staged[0]
            assert process.poll() is None, "the command finished before it could be killed"
            time.sleep(0.02)
        raise AssertionError(f"no staging directory for {target} within {timeout} s")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_killed_export_is_cleaned_up_by_the_next_export(tmp_path):
    from vidgen_rt.export import load_bundle

    target = tmp_path / "maze.vgrt"
    staged = kill_mid_way(["export", "maze", "-o", target], target, ready=lambda s: any(s.glob("*.onnx")))
    assert staged.name.startswith(".maze.vgrt.tmp-") and not target.exists()
    vidgen("export", "maze", "-o", target)
    assert staging_of(target) == []
    assert load_bundle(target).batches == [1]  # the bundle validator accepts it: complete


def test_a_killed_record_is_cleaned_up_by_the_next_record(tmp_path):
    target = tmp_path / "store"
    staged = kill_mid_way([*RECORD, "-o", target], target,
                          ready=lambda s: len(list(s.glob("episodes/*.npy"))) >= 4)
    assert staged.name.startswith(".store.tmp-") and not target.exists()
    vidgen(*RECORD, "-o", target)
    assert staging_of(target) == []
    store = EpisodeStore.open(target)
    assert len(store) == 60 and store.num_frames == 60 * 64


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_only_dead_writers_staging_is_removed(tmp_path):
    target = tmp_path / "store"
    live = staging_path(target)  # named for this test's own process: a live writer
    prefix, writer = live.name.split(".tmp-")
    host, boot, _, token = writer.split("-")
    dead = live.with_name(f"{prefix}.tmp-{host}-{boot}-{dead_pid()}-{token}")
    other_boot = "f" * 8 if boot != "f" * 8 else "0" * 8
    earlier_boot = live.with_name(f"{prefix}.tmp-{host}-{other_boot}-{os.getpid()}-{token}")  # pid reused since
    elsewhere = live.with_name(f"{prefix}.tmp-otherhost-{boot}-{dead_pid()}-{token}")
    other_target = tmp_path / f".other.tmp-{host}-{boot}-{dead_pid()}-{token}"
    for path in (live, dead, earlier_boot, elsewhere, other_target):
        (path / "episodes").mkdir(parents=True)
        (path / "episodes" / "chunk.npy").write_bytes(b"partial")
    vidgen("record", "maze", "--episodes", "1", "--frames", "4", "--size", "16", "-o", target)
    assert not dead.exists() and not earlier_boot.exists()
    assert live.exists() and elsewhere.exists(), "a live writer's or another host's staging must stay"
    assert other_target.exists(), "only the same target's staging is swept"
    assert EpisodeStore.open(target).num_frames == 4


def test_a_dead_writers_old_copy_is_kept_until_its_target_exists_again(tmp_path):
    from vidgen_rt.atomic import remove_stale_staging

    target = tmp_path / "bundle"
    live = staging_path(target, "old")
    _, writer = live.name.split(".old-")
    host, boot, _, token = writer.split("-")
    old = tmp_path / f".bundle.old-{host}-{boot}-{dead_pid()}-{token}"
    old.mkdir()
    assert remove_stale_staging(tmp_path, "bundle") == [] and old.exists()  # the only copy
    target.mkdir()
    assert remove_stale_staging(tmp_path, "bundle") == [old] and not old.exists()


def test_json_written_onto_a_directory_leaves_no_temporary_file(tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(IsADirectoryError):
        write_json_atomic(tmp_path / "taken", {"a": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_json_staging_of_a_dead_writer_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "metrics.json"
    _, writer = staging_path(target).name.split(".tmp-")
    host, boot, _, token = writer.split("-")
    stale = tmp_path / f".metrics.json.tmp-{host}-{boot}-{dead_pid()}-{token}"
    stale.write_text('{"half": ')
    write_json_atomic(target, {"a": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]
