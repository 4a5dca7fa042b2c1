"""Tests of video writing and reading: real .mp4 and .gif files are written, decoded back and
compared; odd sizes, streaming input, bad input and interrupted writes are exercised."""

import os
import stat

import av
import numpy as np
import pytest
from PIL import Image

from vidgen_rt.errors import DataError, VidgenError
from vidgen_rt.media import read_video, write_video
from vidgen_rt.metrics.image import psnr


def smooth_frames(count=12, height=64, width=64):
    """Slowly drifting colour gradients: content a video codec should reproduce closely."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    frames = [np.stack([128 + 90 * np.sin(x / 13 + t / 4),
                        128 + 90 * np.cos(y / 11 - t / 5),
                        128 + 60 * np.sin((x + y) / 17 + t / 6)], axis=-1)
              for t in range(count)]
    return np.stack(frames).astype(np.uint8)  # (T, H, W, 3)


def leftovers(directory):
    return sorted(path.name for path in directory.iterdir())


def test_mp4_round_trip(tmp_path):
    frames = smooth_frames()
    path = write_video(frames, tmp_path / "clip.mp4", fps=24)
    decoded = read_video(path)
    assert decoded.shape == frames.shape and decoded.dtype == np.uint8
    assert psnr(frames, decoded).min() > 30.0
    with av.open(str(path)) as container:
        assert container.streams.video[0].average_rate == 24


def test_mp4_from_a_generator_streams(tmp_path):
    frames = smooth_frames(8)
    path = write_video((frame for frame in frames), tmp_path / "stream.mp4")
    assert read_video(path).shape == frames.shape


def test_mpeg4_fallback_round_trip(tmp_path):
    frames = smooth_frames(6)
    decoded = read_video(write_video(frames, tmp_path / "clip.mp4", codec="mpeg4"))
    assert decoded.shape == frames.shape
    assert psnr(frames, decoded).min() > 30.0


@pytest.mark.parametrize("codec", ["libx264", "mpeg4"])
def test_odd_frame_size_keeps_its_size(tmp_path, codec):
    frames = smooth_frames(5, height=47, width=63)
    decoded = read_video(write_video(frames, tmp_path / "odd.mp4", codec=codec))
    assert decoded.shape == frames.shape
    assert psnr(frames, decoded).min() > 30.0


def test_upscale_and_rgba_input(tmp_path):
    frames = smooth_frames(4, height=16, width=16)
    rgba = np.concatenate([frames, np.full(frames.shape[:3] + (1,), 255, np.uint8)], axis=-1)
    decoded = read_video(write_video(rgba, tmp_path / "big.mp4", upscale=4))
    assert decoded.shape == (4, 64, 64, 3)
    assert psnr(frames.repeat(4, axis=1).repeat(4, axis=2), decoded).min() > 30.0


def test_gif_round_trip_loops(tmp_path):
    frames = smooth_frames(6)
    path = write_video(frames, tmp_path / "clip.gif", fps=20)
    decoded = read_video(path)
    assert decoded.shape == frames.shape
    assert psnr(frames, decoded).min() > 25.0  # at most 256 colours per frame
    with Image.open(path) as image:
        assert image.info["loop"] == 0
        assert image.info["duration"] == 50


def test_parent_directories_are_created_and_mode_is_ordinary(tmp_path):
    path = write_video(smooth_frames(2), tmp_path / "a" / "b" / "clip.mp4")
    assert path.is_file()
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


@pytest.mark.parametrize("name", ["clip.png", "clip.avi", "frames"])
def test_unknown_extension_names_the_supported_ones(tmp_path, name):
    with pytest.raises(VidgenError, match=r"\.mp4, \.gif"):
        write_video(smooth_frames(2), tmp_path / name)
    assert leftovers(tmp_path) == []


def test_failing_frame_source_leaves_nothing_behind(tmp_path):
    def frames_then_crash():
        yield from smooth_frames(3)
        raise RuntimeError("renderer died")

    for name in ("clip.mp4", "clip.gif"):
        with pytest.raises(RuntimeError, match="renderer died"):
            write_video(frames_then_crash(), tmp_path / name)
    assert leftovers(tmp_path) == []


def test_failed_write_keeps_the_previous_file(tmp_path):
    path = write_video(smooth_frames(3), tmp_path / "clip.mp4")
    before = path.read_bytes()
    bad = list(smooth_frames(3)) + [np.zeros((32, 32, 3), np.uint8)]
    with pytest.raises(DataError, match="frame 3"):
        write_video(bad, path)
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == ["clip.mp4"]


def test_bad_frames_are_refused(tmp_path):
    with pytest.raises(DataError, match="no frames"):
        write_video([], tmp_path / "empty.mp4")
    with pytest.raises(DataError, match="uint8"):
        write_video(smooth_frames(2).astype(np.float32), tmp_path / "float.mp4")
    with pytest.raises(DataError, match=r"\(T, H, W, 3\)"):
        write_video(np.zeros((8, 8, 3), np.uint8), tmp_path / "one_frame.mp4")
    with pytest.raises(DataError, match="frame 0 has shape"):
        write_video([np.zeros((8, 8), np.uint8)], tmp_path / "gray.mp4")
    with pytest.raises(VidgenError, match="fps"):
        write_video(smooth_frames(2), tmp_path / "clip.mp4", fps=0)
    with pytest.raises(VidgenError, match="upscale"):
        write_video(smooth_frames(2), tmp_path / "clip.mp4", upscale=0)
    with pytest.raises(VidgenError, match="codec"):
        write_video(smooth_frames(2), tmp_path / "clip.mp4", codec="vp9")
    assert leftovers(tmp_path) == []


def test_unreadable_videos_raise_data_error(tmp_path):
    with pytest.raises(DataError, match="no such"):
        read_video(tmp_path / "missing.mp4")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"this is not a video" * 100)
    with pytest.raises(DataError, match="garbage.mp4"):
        read_video(garbage)
    whole = write_video(smooth_frames(), tmp_path / "whole.mp4").read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match="truncated.mp4"):
        read_video(truncated)
