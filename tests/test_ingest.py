"""Ingest: real videos and frame folders written here, decoded into stores, damaged input refused."""

import argparse
import logging
import os
import subprocess
import sys
import wave
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from vidgen_rt.commands import ingest as ingest_command
from vidgen_rt.data.ingest import ingest_image_folders, ingest_videos
from vidgen_rt.data.preprocess import (Preprocess, denoise_frames, resize_frames, to_float,
                                       to_uint8)
from vidgen_rt.data.store import EpisodeStore
from vidgen_rt.errors import DataError

REPO = Path(__file__).resolve().parents[1]
CODEC = "libx264" if "libx264" in av.codecs_available else "mpeg4"


def moving_square(n=20, height=48, width=64):
    frames = np.full((n, height, width, 3), (30, 40, 60), np.uint8)
    for t in range(n):
        frames[t, 12:28, 2 * t:2 * t + 16] = (230, 70, 40)
    return frames


def write_video(path, frames, codec=CODEC, container_options=None):
    with av.open(str(path), "w", options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "10"}
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255 ** 2 / max(mse, 1e-10))


def assert_nothing_written(folder):
    assert sorted(p.name for p in folder.iterdir() if p.name != "in") == []


def test_video_round_trip(tmp_path):
    frames = moving_square()
    video = write_video(tmp_path / "square.mp4", frames)
    store = ingest_videos([video], tmp_path / "store", 32, 32)
    assert len(store) == 1 and store.num_frames == 20 and store.action_names is None
    episode = store.episode(0)
    assert episode.frames.shape == (20, 32, 32, 3) and episode.frames.dtype == np.uint8
    assert psnr(episode.frames, resize_frames(frames, 32, 32)) > 25
    assert episode.info == {"source": str(video), "start": 0}
    assert store.meta["preprocess"]["height"] == 32


def test_video_clips_and_formats(tmp_path):
    frames = moving_square()
    mp4 = write_video(tmp_path / "a.mp4", frames)
    webm = write_video(tmp_path / "b.webm", frames[:9], codec="libvpx")
    store = ingest_videos([mp4, webm], tmp_path / "store", 24, 32, clip_frames=8, crop=True)
    assert store.episode_lengths() == [8, 8, 4, 8]  # webm's 9th frame alone is too short a tail
    assert [store.episode(i).info["start"] for i in range(4)] == [0, 8, 16, 0]
    assert store.episode(3).frames.shape == (8, 24, 32, 3)


def write_clip(folder, values, name="frame{}.png"):
    folder.mkdir(parents=True)
    for i, value in values:
        Image.fromarray(np.full((20, 30, 3), value, np.uint8)).save(folder / name.format(i))


def test_image_folder_round_trip_in_natural_order(tmp_path, caplog):
    root = tmp_path / "in"
    write_clip(root / "clip10", [(i, 10 * i) for i in (10, 2, 1, 11, 3)])
    write_clip(root / "clip2", [(i, 100 + i) for i in (1, 2)], name="f{}.jpg")
    write_clip(root / "lonely", [(1, 50)])
    with caplog.at_level(logging.WARNING):
        store = ingest_image_folders(root, tmp_path / "store", 16, 16)
    assert "lonely" in caplog.text and "at least 2 images" in caplog.text
    assert store.episode_lengths() == [2, 5]  # clip2 before clip10
    assert store.episode(1).frames[:, 0, 0, 0].tolist() == [10, 20, 30, 100, 110]
    assert store.episode(0).info["source"].endswith("clip2")


def test_image_folder_errors(tmp_path):
    root = tmp_path / "in"
    write_clip(root / "clip", [(1, 0), (2, 0)])
    (root / "clip" / "frame3.png").write_bytes(b"not a png at all")
    with pytest.raises(DataError, match=r"frame3\.png: unreadable image"):
        ingest_image_folders(root, tmp_path / "store", 16, 16)
    assert_nothing_written(tmp_path)

    flat = tmp_path / "in" / "flat"
    flat.mkdir()
    Image.new("RGB", (8, 8)).save(flat / "a.png")
    with pytest.raises(DataError, match="no clip folders"):
        ingest_image_folders(flat, tmp_path / "store", 16, 16)


def test_a_clip_of_mixed_image_sizes_is_refused_unless_asked_to_resize(tmp_path):
    root = tmp_path / "in"
    write_clip(root / "clip", [(1, 0), (2, 40)])
    Image.fromarray(np.full((10, 12, 3), 80, np.uint8)).save(root / "clip" / "frame3.png")
    with pytest.raises(DataError, match=r"frame1\.png is 30x20 and frame3\.png is 12x10; pass --resize-mixed"):
        ingest_image_folders(root, tmp_path / "store", 16, 16)
    assert_nothing_written(tmp_path)
    store = ingest_image_folders(root, tmp_path / "store", 16, 16, resize_mixed=True)
    assert store.episode(0).frames.shape == (3, 16, 16, 3)
    assert store.episode(0).frames[:, 0, 0, 0].tolist() == [0, 40, 80]


def test_unreadable_and_streamless_files(tmp_path):
    (tmp_path / "in").mkdir()
    noise = tmp_path / "in" / "noise.mp4"
    noise.write_bytes(np.random.default_rng(0).bytes(4000))
    with pytest.raises(DataError, match=r"noise\.mp4: not a readable video"):
        ingest_videos([noise], tmp_path / "store", 32, 32)
    sound = tmp_path / "in" / "sound.wav"
    with wave.open(str(sound), "wb") as wav:
        wav.setparams((1, 2, 8000, 0, "NONE", "not compressed"))
        wav.writeframes(bytes(1600))
    with pytest.raises(DataError, match=r"sound\.wav: has no video stream"):
        ingest_videos([sound], tmp_path / "store", 32, 32)
    with pytest.raises(DataError, match="missing.mp4: no such video file"):
        ingest_videos([tmp_path / "missing.mp4"], tmp_path / "store", 32, 32)
    assert_nothing_written(tmp_path)


def truncate(path, fraction):
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * fraction)])
    return path


def test_truncated_videos_fail_whole_unless_skip_bad(tmp_path):
    (tmp_path / "in").mkdir()
    frames = moving_square(24)
    good = write_video(tmp_path / "in" / "good.mp4", frames)
    # moov at the end: the first half has no index at all
    no_index = truncate(write_video(tmp_path / "in" / "half.mp4", frames), 0.5)
    # moov first: FFmpeg reads the index, then fails on the cut packet
    cut = truncate(write_video(tmp_path / "in" / "cut.mp4", frames,
                               container_options={"movflags": "faststart"}), 0.6)
    # Matroska cut short decodes silently; the declared duration gives it away
    silent = truncate(write_video(tmp_path / "in" / "short.mkv", frames), 0.9)
    for bad, message in ((no_index, "not a readable video"), (cut, "corrupt or truncated video"),
                         (silent, "truncated video, decoded 1[0-9] frames")):
        with pytest.raises(DataError, match=f"{bad.name}: {message}"):
            ingest_videos([good, bad], tmp_path / "store", 32, 32)
        assert_nothing_written(tmp_path)

    store = ingest_videos([good, no_index, cut, silent], tmp_path / "store", 32, 32,
                          skip_bad=True)
    lengths = store.episode_lengths()  # unreadable ones skipped, the Matroska keeps its start
    assert lengths[0] == 24 and len(lengths) >= 2 and all(2 <= n < 24 for n in lengths[1:])
    assert store.episode(len(lengths) - 1).info["source"].endswith("short.mkv")


def test_preprocess_helpers():
    frames = moving_square(3)
    assert resize_frames(frames, 24, 24, crop=True).shape == (3, 24, 24, 3)
    assert resize_frames(frames, 96, 128, mode="nearest").shape == (3, 96, 128, 3)
    x = to_float(frames)
    assert x.dtype == np.float32 and x.max() <= 1.0
    np.testing.assert_array_equal(to_uint8(x), frames)
    np.testing.assert_array_equal(to_uint8(np.array([np.nan, -1.0, 2.0, 0.5])), [0, 0, 255, 128])
    noisy = np.clip(frames + np.random.default_rng(0).normal(0, 12, frames.shape), 0, 255)
    clean = denoise_frames(noisy.astype(np.uint8), 10)
    assert psnr(clean, frames) > psnr(noisy.astype(np.uint8), frames)
    with pytest.raises(DataError, match="height should be an integer in 1..4096"):
        Preprocess(100000, 64)


def test_preprocess_helpers_accept_torch():
    import torch

    frames = torch.from_numpy(moving_square(2))
    x = to_float(frames)
    assert x.dtype == torch.float32
    assert torch.equal(to_uint8(x), frames)


def run_command(argv):
    parser = argparse.ArgumentParser()
    ingest_command.configure(parser)
    return ingest_command.run(parser.parse_args(argv))


def test_command_in_process(tmp_path, capsys):
    videos = tmp_path / "in"
    videos.mkdir()
    write_video(videos / "a.mp4", moving_square())
    write_clip(videos / "clip", [(1, 0), (2, 9), (3, 18)])
    out = tmp_path / "store"
    assert run_command([str(videos), "-o", str(out), "--size-wh", "32x16", "--height", "24"]) == 0
    assert "wrote 2 episode(s), 23 frames of 32x24" in capsys.readouterr().out
    store = EpisodeStore.open(out)
    assert (store.height, store.width) == (24, 32)
    with pytest.raises(DataError, match="already exists"):
        run_command([str(videos), "-o", str(out)])
    assert run_command([str(videos), "-o", str(out), "--size", "16", "--overwrite",
                        "--clip-frames", "10", "--denoise", "3"]) == 0
    assert EpisodeStore.open(out).episode_lengths() == [10, 10, 3]
    with pytest.raises(DataError, match="resize mode should be one of"):
        run_command([str(videos), "-o", str(out), "--resize-mode", "cubic"])


def test_command_through_cli(tmp_path):
    video = write_video(tmp_path / "a.mp4", moving_square())
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def vidgen(*argv):
        return subprocess.run([sys.executable, "-m", "vidgen_rt.cli", "ingest", *argv],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=120)

    good = vidgen(str(video), "-o", str(tmp_path / "store"), "--size", "32")
    assert good.returncode == 0, good.stderr
    assert EpisodeStore.open(tmp_path / "store").num_frames == 20
    bad = vidgen(str(tmp_path / "nothing.mp4"), "-o", str(tmp_path / "other"))
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        f"vidgen ingest: error: {tmp_path / 'nothing.mp4'}: no such video file or folder"]


def _log(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_input_logs_per_frame_per_timestamp_and_with_key_bindings(tmp_path):
    from vidgen_rt.data.action_log import action_names, read_action_log

    per_frame = read_action_log(_log(tmp_path, "f.csv", "# actions: noop, left, right\nframe,action\n0,left\n1,2\n2,noop\n"))
    assert per_frame.track(per_frame.names, {}, None).slice(0, 3).tolist() == [1, 2, 0]
    timed = read_action_log(_log(tmp_path, "t.csv", "# bind: a=left, d=right\ntime,key\n0.25,a\n0.5,d\n"))
    names = action_names([timed], ["noop", "left", "right"])
    # at 4 frames/s: frames 0..4 are at 0, .25, .5, .75, 1.0 s; before the first event, action 0
    assert timed.track(names, {}, 4.0).slice(0, 5).tolist() == [0, 1, 2, 2, 2]
    lines = '{"actions": ["noop", "jump"], "bindings": {"space": "jump"}}\n{"frame": 0, "key": "space"}\n' \
            '{"frame": 1, "action": "noop"}\n'
    jsonl = read_action_log(_log(tmp_path, "k.jsonl", lines))
    assert jsonl.track(action_names([jsonl]), {}, None).slice(0, 2).tolist() == [1, 0]
    undeclared = read_action_log(_log(tmp_path, "u.csv", "frame,action\n0,up\n1,down\n2,up\n"))
    assert action_names([undeclared]) == ["up", "down"]  # in order of first appearance


@pytest.mark.parametrize("text, frames, message", [
    ("frame,action\n0,a\n1,a\n2,a\n", 2, "longer than its video: 3 frame rows for 2 frames"),
    ("frame,action\n0,a\n", 2, "shorter than its video"),
    ("time,action\n0,a\n1.2,a\n", 2, r"log.csv:3: the log is longer than its video: an event at 1.2 s"),
    ("# actions: a, b\nframe,action\n0,a\n1,c\n", 2, r"log.csv:4: unknown action 'c'"),
    ("frame,action\n0,a\n2,a\n", 2, "frame 2 where frame 1 was expected"),
    ("time,action\n1,a\n0.5,a\n", 2, "comes before the previous row"),
    ("when,action\n0,a\n", 2, "should name a 'frame' or 'time' column"),
])
def test_input_log_errors_name_the_file_and_line(tmp_path, text, frames, message):
    from vidgen_rt.data.action_log import action_names, read_action_log

    with pytest.raises(DataError, match=message):
        log = read_action_log(_log(tmp_path, "log.csv", text))
        log.track(action_names([log]), {}, 2.0).check(frames)
