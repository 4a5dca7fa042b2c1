"""The native runtime (libvidgen_rt through vidgen_rt.Runtime) against the reference driver
OrtStepper on a tiny bundle: bit-identical frames for B=1 and a batched stream, snapshot/restore,
the asynchronous mode (order, actions applied from the step that took them, start/stop/close
races), post-processing, an mse head ignoring the sampling options, and bad input raising VidgenErrors
instead of crashing."""

import shutil
import threading
import time

import numpy as np
import pytest

import vidgen_rt
from vidgen_rt.errors import BundleError, ConfigError, VidgenError
from vidgen_rt.export import export_bundle, load_bundle
from vidgen_rt.runtime import OrtStepper

THREADS = 2  # the same intra-op thread count on both sides: ORT's kernels partition work by it


@pytest.fixture(scope="module")
def bundle(tiny_run, tmp_path_factory):
    return export_bundle(tiny_run, tmp_path_factory.mktemp("native") / "tiny.vgrt", batches=[1, 4], quiet=True)


@pytest.fixture(scope="module")
def runtime(bundle):
    return vidgen_rt.Runtime(bundle, intra_op_threads=THREADS)


def actions_for(n, batch, n_actions, seed=0):
    return np.random.default_rng(seed).integers(0, n_actions, size=(n, batch))


@pytest.mark.parametrize("batch", [1, 4])
def test_frames_are_bit_identical_to_the_reference_driver(runtime, bundle, batch):
    reference = OrtStepper(bundle, batch=batch, intra_op_threads=THREADS)
    with runtime.open_stream(batch) as stream:
        first = stream.reset()
        assert np.array_equal(first, reference.reset())
        n_actions = len(runtime.actions)
        for t, actions in enumerate(actions_for(256, batch, n_actions, seed=batch)):
            frames = stream.step(actions)
            expected = reference.step(actions)
            assert frames.shape == expected.shape == (batch, *first.shape[1:3], 4)
            assert frames.dtype == np.uint8
            assert np.array_equal(frames, expected), f"frame {t + 1} differs from OrtStepper"
        assert stream.stats()["frames"] == 256


def test_caller_context_per_player(runtime, bundle):
    context = load_bundle(bundle).context()
    frames, actions = context["frames"], context["actions"]
    players = np.stack([frames, frames[::-1], frames, frames[::-1]])  # (B, K, H, W, 3)
    player_actions = np.stack([actions, actions[::-1], actions, actions[::-1]])
    reference = OrtStepper(bundle, batch=4, intra_op_threads=THREADS)
    with runtime.open_stream(4, frames=players, actions=player_actions) as stream:
        reference.reset(players, player_actions)
        for t in range(20):
            assert np.array_equal(stream.step([t % 3, 1, 2, 0]), reference.step([t % 3, 1, 2, 0]))


def test_snapshot_restore_replays_identical_frames(runtime):
    n_actions = len(runtime.actions)
    with runtime.open_stream(1) as stream:
        for action in actions_for(10, 1, n_actions, seed=3):
            stream.step(action)
        snapshot = stream.snapshot()
        script = actions_for(50, 1, n_actions, seed=4)
        first = [stream.step(a) for a in script]
        stream.restore(snapshot)
        second = [stream.step(a) for a in script]
        assert all(np.array_equal(a, b) for a, b in zip(first, second))
        # a different branch from the same point really diverges
        stream.restore(snapshot)
        branch = [stream.step((a + 1) % n_actions) for a in script]
        assert any(not np.array_equal(a, b) for a, b in zip(first, branch))


def test_an_mse_head_accepts_the_sampling_options_and_ignores_them(runtime):
    assert runtime.head == "mse"
    script = actions_for(12, 1, len(runtime.actions), seed=5)
    with runtime.open_stream(1) as plain, runtime.open_stream(1, seed=5, temperature=3.0, sampling_steps=4) as other:
        assert other.sampling() == {"seed": 5, "temperature": 3.0, "sampling_steps": 4}
        expected = [plain.step(a) for a in script[:6]]
        got = [other.step(a) for a in script[:6]]
        other.set_sampling(seed=6, temperature=0.0)
        expected += [plain.step(a) for a in script[6:]]
        got += [other.step(a) for a in script[6:]]
    assert all(np.array_equal(a, b) for a, b in zip(expected, got))


def test_frames_are_zero_copy_and_outlive_the_stream(runtime):
    stream = runtime.open_stream(1)
    frame = stream.step(0)
    assert frame.base is not None and not frame.flags.owndata
    kept = frame.copy()
    stream.close()
    assert np.array_equal(frame, kept)
    with pytest.raises(VidgenError, match="closed"):
        stream.step(0)


def collect_async(stream, switch_after, action, limit=60, timeout=60.0):
    """Run async, push `action` after `switch_after` frames; returns (frames, last index before the push)."""
    frames, pushed_after = [], None
    deadline = time.monotonic() + timeout
    stream.start()
    try:
        while len(frames) < limit and time.monotonic() < deadline:
            frame = stream.latest_frame()
            if frame is None:
                time.sleep(0.0005)
                continue
            if frame.index > 0:
                frames.append(frame)
            if pushed_after is None and len(frames) >= switch_after:
                pushed_after = frame.index
                stream.push_action(action)
    finally:
        stream.stop()
    return frames, pushed_after


def test_async_frames_in_order_with_actions_from_the_right_step(runtime):
    switch_to = 2
    with runtime.open_stream(1) as stream:
        stream.latest()  # the context frame
        stream.push_action(0)
        frames, pushed_after = collect_async(stream, switch_after=8, action=switch_to)
        assert len(frames) >= 20
        indices = [f.index for f in frames]
        assert indices == sorted(set(indices)), "async frames out of order or repeated"
        acts = [f.actions[0] for f in frames]
        first_new = acts.index(switch_to)
        assert set(acts[:first_new]) == {0} and set(acts[first_new:]) == {switch_to}
        assert frames[first_new].index > pushed_after  # never before it was pushed
        assert stream.stats()["dropped_frames"] >= 0

        # Replay synchronously: exactly one switch step between the last frame with the old action
        # and the first with the new one reproduces the first new frame; the rest must match too.
        before, after = frames[first_new - 1].index, frames[first_new].index
        replay = runtime.open_stream(1)
        for _ in range(before):
            replay.step(0)
        base = replay.snapshot()
        matches = []
        for switch in range(before + 1, after + 1):
            replay.restore(base)
            for index in range(before + 1, after + 1):
                out = replay.step(switch_to if index >= switch else 0)
            if np.array_equal(out, frames[first_new].rgba):
                matches.append(switch)
        assert len(matches) == 1, f"switch step candidates {matches}"
        replay.restore(base)
        by_index = {f.index: f.rgba for f in frames}
        for index in range(before + 1, frames[-1].index + 1):
            out = replay.step(switch_to if index >= matches[0] else 0)
            if index in by_index:
                assert np.array_equal(out, by_index[index]), f"async frame {index} differs from the sync replay"
        replay.close()


def test_async_replays_the_sync_frames_before_the_switch(runtime):
    with runtime.open_stream(1) as stream:
        frames, _ = collect_async(stream, switch_after=1000, action=0, limit=15)
    with runtime.open_stream(1) as replay:
        by_index = {f.index: f.rgba for f in frames}
        for index in range(1, max(by_index) + 1):
            out = replay.step(0)
            if index in by_index:
                assert np.array_equal(out, by_index[index])


def test_wait_frame_hands_over_every_pipelined_frame_in_order(runtime):
    # Decode of frame f overlaps the step to f+1 in async mode. A host waiting on each frame gets
    # them in order, every frame it misses (a busy machine) counted as dropped, and each identical
    # to the synchronous frame of the same index.
    with runtime.open_stream(1) as stream:
        assert stream.wait_frame(0.0).index == 0  # the context frame waits already
        assert stream.wait_frame(0.0) is None     # not running: nothing will come
        stream.push_action(3)
        stream.start(fps=60)
        frames = [stream.wait_frame(5.0) for _ in range(30)]
        snapshot = stream.snapshot()
        stream.restore(snapshot)                  # while the decode stage may be busy
        after_restore = stream.wait_frame(5.0)
        stream.stop()
        dropped = stream.stats()["dropped_frames"]
    assert all(f is not None for f in frames) and after_restore is not None
    indices = [f.index for f in frames]
    assert indices == sorted(set(indices)) and indices[0] >= 1
    assert indices[-1] <= len(indices) + dropped
    by_index = {f.index: f.rgba for f in frames}
    with runtime.open_stream(1) as replay:
        for index in range(1, indices[-1] + 1):
            out = replay.step(3)
            if index in by_index:
                assert np.array_equal(out, by_index[index]), f"frame {index} differs from the sync frame"
    with pytest.raises(ValueError, match="timeout"):
        stream.wait_frame(-1)


@pytest.mark.timeout(240)
def test_start_stop_close_races_neither_hang_nor_crash(runtime):
    stream = runtime.open_stream(1)
    stop = threading.Event()

    def consumer():
        while not stop.is_set():
            try:
                stream.push_action(1)
            except VidgenError:
                pass  # queue full while stopped
            stream.latest()
            time.sleep(0.0002)

    worker = threading.Thread(target=consumer)
    worker.start()
    try:
        for cycle in range(300):
            stream.start(None if cycle % 2 else 1000.0)
            if cycle % 3 == 0:
                time.sleep(0.001)
            stream.stop()
    finally:
        stop.set()
        worker.join()
    assert not stream.running
    stream.step(1)  # still usable synchronously
    for cycle in range(100):
        other = runtime.open_stream(1)
        other.start()
        if cycle % 2:
            other.stop()
        other.close()  # stops it first when still running
    stream.close()
    stream.close()  # closing twice is harmless in Python


def test_postprocess_applies_and_defaults_are_identity(runtime):
    with runtime.open_stream(1) as plain, runtime.open_stream(1) as graded:
        assert graded.postprocess() == {"brightness": 0.0, "contrast": 1.0, "gamma": 1.0, "sharpen": 0.0}
        graded.set_postprocess(brightness=0.1, contrast=1.2, gamma=1.5)
        a, b = plain.step(1), graded.step(1)
        x = a[..., :3].astype(np.float64) / 255
        lut = np.clip((np.arange(256) / 255 - 0.5) * np.float32(1.2) + np.float32(0.1) + 0.5, 0, 1) ** (1 / 1.5)
        expected = np.round(lut * 255).astype(np.uint8)[a[..., :3]]
        assert np.abs(expected.astype(int) - b[..., :3]).max() <= 1
        assert np.array_equal(a[..., 3], b[..., 3])
        assert x.shape == expected.shape
        graded.set_postprocess(brightness=0, contrast=1, gamma=1, sharpen=1.0)
        a, b = plain.step(2), graded.step(2)
        assert not np.array_equal(a, b)
        assert np.abs(a.astype(int) - b).mean() < 40
        graded.set_postprocess(sharpen=0)
        assert np.array_equal(plain.step(3), graded.step(3))
        for bad in ({"gamma": 0}, {"brightness": 2}, {"sharpen": float("nan")}, {"contrast": -1}):
            with pytest.raises(ConfigError, match="postprocess"):
                graded.set_postprocess(**bad)


def test_bad_input_raises_named_errors(runtime, bundle, tmp_path):
    with pytest.raises(BundleError):
        vidgen_rt.Runtime(tmp_path / "missing.vgrt")
    with pytest.raises(BundleError, match="no such bundle"):
        vidgen_rt.Runtime(tmp_path / "missing.vgrt", verify_checksums=False)
    broken = tmp_path / "broken.vgrt"  # every bundle rule: tests/test_bundle_rules.py
    shutil.copytree(bundle, broken)
    (broken / "step.onnx").write_bytes((bundle / "step.onnx").read_bytes()[:1000])
    with pytest.raises(BundleError, match="step.onnx: checksum mismatch"):
        vidgen_rt.Runtime(broken)
    with pytest.raises(BundleError, match="step.onnx: not a valid ONNX model"):
        vidgen_rt.Runtime(broken, verify_checksums=False)
    with pytest.raises(VidgenError, match="provider"):
        vidgen_rt.Runtime(bundle, provider="warp-drive")
    with pytest.raises(VidgenError, match="without TensorRT|TensorRT"):
        vidgen_rt.Runtime(bundle, backend="tensorrt")
    with pytest.raises(VidgenError, match="no graphs for batch 3"):
        runtime.open_stream(3)

    with runtime.open_stream(1) as stream:
        n = len(runtime.actions)
        with pytest.raises(ConfigError, match="out of range"):
            stream.step(n)
        with pytest.raises(ConfigError, match="out of range"):
            stream.step(-1)
        with pytest.raises(ConfigError):
            stream.step([0, 1])
        with pytest.raises(ConfigError, match="no cond"):
            stream.step(0, cond=[0.0])
        with pytest.raises(ConfigError, match="no guide"):
            stream.step(0, guide=np.full((1, 1, 32, 32), np.nan))
        frames = load_bundle(bundle).context()["frames"]
        with pytest.raises(ConfigError, match="context.frames"):
            stream.reset(frames[:, :10])
        with pytest.raises(ConfigError, match="context.actions"):
            stream.reset(frames, np.zeros(3, np.int64))
        with pytest.raises(ConfigError, match="out of range"):
            stream.reset(frames, np.full(len(frames) - 1, 99))
        with pytest.raises(ConfigError, match="fps"):
            stream.start(float("inf"))
        stream.step(0)  # the stream survived all of it
