"""Every bad command line is answered the same way: exit status 2, one line on stderr naming the
problem, no traceback, and nothing written (docs/architecture.md §9). Each case runs the real
`vidgen` command in a subprocess and compares the test's folder before and after."""

import os
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import CLI, vidgen
from vidgen_rt import cli
from vidgen_rt.data.record import record_world


def tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def refused(root, *args) -> str:
    """Run vidgen; assert the one-line refusal and that nothing under `root` changed."""
    before = tree(root)
    result = vidgen(*args, check=False, timeout=300)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"vidgen {args[0]}: error: "), result.stderr
    assert tree(root) == before
    return lines[0]


@pytest.fixture
def clip_root(tmp_path):
    """An ingest source: one clip folder of two 20x30 images."""
    clip = tmp_path / "frames" / "clip"
    clip.mkdir(parents=True)
    for i in range(2):
        Image.fromarray(np.full((20, 30, 3), 40 * i, np.uint8)).save(clip / f"frame{i}.png")
    return tmp_path / "frames"


# One row per command and output flag; "{out}" is replaced by the path under test.
OUTPUTS = {
    "generate": ["generate", "maze", "--frames", "2", "-o", "{out}/v.mp4"],
    "eval": ["eval", "maze", "--episodes", "1", "--stability-frames", "100", "--json", "{out}/m.json"],
    "export": ["export", "maze", "-o", "{out}/m.vgrt"],
    "record": ["record", "maze", "--episodes", "1", "--frames", "4", "--size", "16", "-o", "{out}/store"],
    "ingest": ["ingest", "{clips}", "-o", "{out}/store"],
    "train": ["train", "--preset", "tiny", "--data", "{clips}", "--out", "{out}/run"],
    "bench": ["bench", "maze", "--json", "{out}/b.json"],
}


def fill(template, **paths):
    return [part.format(**paths) for part in template]


@pytest.mark.parametrize("command", OUTPUTS)
def test_an_output_under_a_regular_file_is_refused_before_any_work(tmp_path, clip_root, command):
    (tmp_path / "plain").write_text("a file, not a folder")
    line = refused(tmp_path, *fill(OUTPUTS[command], out=tmp_path / "plain", clips=clip_root))
    assert f"{tmp_path / 'plain'} is not a directory" in line


def read_only(folder: Path) -> list[str]:
    """A command prefix under which `folder` cannot be written. Permissions do not stop root (CI runs
    as root), so as root the command runs in a private mount namespace where `folder` is bind-mounted
    read-only; otherwise the folder's mode is enough."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return []
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"'
    return ["unshare", "--mount", "sh", "-c", script, str(folder)]


@pytest.mark.parametrize("command", OUTPUTS)
def test_an_output_in_a_read_only_folder_is_refused_before_any_work(tmp_path, clip_root, command):
    locked = tmp_path / "locked"
    locked.mkdir()
    prefix = read_only(locked)
    before = tree(tmp_path)
    args = [*prefix, *CLI, *fill(OUTPUTS[command], out=locked, clips=clip_root)]
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=300)
    finally:
        locked.chmod(0o755)
    lines = result.stderr.splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"cannot create anything in {locked}" in lines[0] and tree(tmp_path) == before


@pytest.mark.parametrize("args, flag", [
    (["generate", "maze", "--frames", "2", "-o", "{dir}"], "-o"),
    (["eval", "maze", "--episodes", "1", "--stability-frames", "100", "--json", "{dir}"], "--json"),
    (["eval", "maze", "--episodes", "1", "--stability-frames", "100", "--md", "{dir}"], "--md"),
    (["export", "maze", "-o", "{tmp}/m.vgrt", "--verify", "--json", "{dir}"], "--json"),
    (["bench", "maze", "--plot", "{dir}"], "--plot"),
])
def test_an_existing_directory_where_a_file_is_expected_is_refused(tmp_path, args, flag):
    folder = tmp_path / "taken.png"  # a name the flag would accept for a file
    folder.mkdir()
    line = refused(tmp_path, *[a.format(dir=folder, tmp=tmp_path) for a in args])
    assert f"{flag} {folder}: is a directory; expected a file name" in line


def test_export_overwrite_replaces_only_a_bundle(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    line = refused(tmp_path, "export", "maze", "-o", tmp_path / "mine", "--overwrite")
    assert "refusing to overwrite a directory that is not a bundle" in line


def test_an_empty_action_script_is_refused(tmp_path):
    assert "action script holds no actions" in refused(tmp_path, "generate", "maze", "--actions", "", "--frames",
                                                       "3", "-o", tmp_path / "v.mp4")


def test_an_absurd_upscale_is_refused_with_its_bound(tmp_path):
    line = refused(tmp_path, "generate", "maze", "--frames", "2", "--upscale", "100000", "-o", tmp_path / "v.mp4")
    assert "--upscale 100000: expected 1..16" in line


def test_frames_that_do_not_fit_in_memory_are_refused(tmp_path):
    # A million frames upscaled 16x (1024x1024) need terabytes: more than any machine has.
    line = refused(tmp_path, "generate", "maze", "--frames", "1000000", "--upscale", "16", "-o", tmp_path / "v.mp4")
    assert "--frames 1000000 of 64x64" in line and "the limit is half of the" in line


def test_a_recording_that_does_not_fit_in_memory_is_refused(tmp_path):
    line = refused(tmp_path, "record", "maze", "--episodes", "1", "--frames", "1000000", "--size", "1024",
                   "-o", tmp_path / "store")
    assert "--frames 1000000 of 1024x1024 per episode needs 5859.4 GiB of memory" in line


def test_a_clip_of_mixed_image_sizes_is_refused_naming_two_images(tmp_path, clip_root):
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(clip_root / "clip" / "frame2.png")
    line = refused(tmp_path, "ingest", clip_root, "-o", tmp_path / "store")
    assert "frame0.png is 30x20 and frame2.png is 12x10; pass --resize-mixed" in line


@pytest.mark.parametrize("override, message", [
    ("train.dynamics_lr=nan", "train.dynamics_lr = nan: expected a finite number > 0"),
    ("train.tokenizer_lr=inf", "train.tokenizer_lr = inf: expected a finite number > 0"),
    ("train.dynamics_lr=-1e-3", "train.dynamics_lr = -0.001: expected a finite number > 0"),
    ("train.batch_size=0", "train.batch_size = 0: expected an integer > 0"),
    ("train.dynamics_steps=-5", "train.dynamics_steps = -5: expected an integer > 0"),
    ("model.d_model=0", "model.d_model = 0: expected an integer > 0"),
])
def test_numeric_settings_are_validated_before_any_stage(tmp_path, tiny_store, override, message):
    line = refused(tmp_path, "train", "--preset", "tiny", "--data", tiny_store, "--out", tmp_path / "run",
                   "--set", override)
    assert line.endswith(message)


def corrupt_store(path, declare_length=None, truncate_at=None):
    """A one-episode store whose frames chunk declares another shape, or is cut short."""
    record_world("maze", path, policy="random", episodes=1, frames=4, height=16, width=16, quiet=True)
    index = (path / "index.json").read_text()
    chunk = next((path / "episodes").glob("*.frames.npy"))
    if truncate_at is not None:
        chunk.write_bytes(chunk.read_bytes()[:truncate_at])
        return
    header = f"{{'descr': '|u1', 'fortran_order': False, 'shape': ({declare_length}, 16, 16, 3), }}"
    header = header.ljust(118) + "\n"
    chunk.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + bytes(64))
    (path / "index.json").write_text(index.replace('"length": 4', f'"length": {declare_length}'))


@pytest.mark.parametrize("damage, message", [
    ({"declare_length": 2**40 // 768 * 11}, "truncated chunk"),       # 11 TiB declared, 64 bytes stored
    ({"truncate_at": 40}, "not a readable .npy chunk"),
])
@pytest.mark.parametrize("command", ["train", "export"])
def test_a_store_chunk_declaring_terabytes_or_cut_short_is_refused(tmp_path, damage, message, command):
    store = tmp_path / "store"
    corrupt_store(store, **damage)
    if command == "train":
        line = refused(tmp_path, "train", "--preset", "tiny", "--data", store, "--out", tmp_path / "run")
    else:
        line = refused(tmp_path, "export", "maze", "--context", store, "-o", tmp_path / "m.vgrt")
    assert message in line


def test_an_os_error_that_escapes_a_command_is_one_line(monkeypatch, capsys):
    from vidgen_rt.commands import record

    def fails(args):
        raise PermissionError(13, "Permission denied", "/data/store")

    monkeypatch.setattr(record, "run", fails)
    assert cli.main(["record", "maze", "-o", "/data/store"]) == 2
    assert capsys.readouterr().err.splitlines() == ["vidgen record: error: /data/store: Permission denied"]
