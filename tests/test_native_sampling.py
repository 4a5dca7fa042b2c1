"""A flow head in the native runtime (docs/architecture.md §4): the C++ Philox4x32-10 against the
published known answer and against numpy's, frames bit-identical to OrtStepper over 256 frames for
the same seed (B = 1 and 4, sampling options changed mid-run), determinism, seeds that matter and a
temperature 0 that makes them not matter, snapshot/restore replaying the noise, the asynchronous
stream sampling, and bad seed / temperature / sampling_steps refused through Python and the C ABI."""

import ctypes
import math
from pathlib import Path

import numpy as np
import pytest

import vidgen_rt
from vidgen_rt.errors import ConfigError
from vidgen_rt.runtime import OrtStepper
from vidgen_rt.runtime.native import library_path, ort_search_dir
from vidgen_rt.runtime.noise import noise_bits

THREADS = 2  # the same intra-op thread count on both sides: ORT's kernels partition work by it
# Random123's known answer for philox4x32-10 with counter = key = 0, each word >> 8.
PHILOX_ZERO = [0x6627E8D5 >> 8, 0xE169C58D >> 8, 0xBC57AC4C >> 8, 0x9B00DBD8 >> 8]


@pytest.fixture(scope="module")
def runtime(tiny_flow_bundle):
    return vidgen_rt.Runtime(tiny_flow_bundle, intra_op_threads=THREADS)


@pytest.fixture(scope="module")
def lib():
    lib = ctypes.CDLL(str(library_path()))
    lib.vgrt_noise_bits.argtypes = [ctypes.c_uint64, ctypes.c_uint64, ctypes.POINTER(ctypes.c_int32), ctypes.c_size_t]
    lib.vgrt_stream_set_sampling.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_float, ctypes.c_int32]
    lib.vgrt_stream_get_sampling.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint64),
                                             ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_int32)]
    lib.vgrt_last_error.restype = ctypes.c_char_p
    lib.vgrt_model_create.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.vgrt_stream_open.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.vgrt_stream_close.argtypes = [ctypes.c_void_p]
    lib.vgrt_model_destroy.argtypes = [ctypes.c_void_p]
    return lib


class StreamOptions(ctypes.Structure):
    """vgrt_stream_options of vidgen_rt.h (ABI 5)."""
    _fields_ = [("struct_size", ctypes.c_uint32), ("abi_version", ctypes.c_uint32), ("batch", ctypes.c_int32),
                ("context", ctypes.c_void_p), ("seed", ctypes.c_uint64), ("temperature", ctypes.c_float),
                ("sampling_steps", ctypes.c_int32)]


def stream_options(lib) -> StreamOptions:
    """The library's defaults in this declaration, stamped with its ABI and size (vidgen_rt.h, "ABI rule")."""
    options = StreamOptions()
    assert lib.vgrt_stream_options_init(ctypes.byref(options), 5, ctypes.sizeof(StreamOptions)) == 0, \
        lib.vgrt_last_error()
    return options


def native_bits(lib, seed, draw, count):
    out = (ctypes.c_int32 * count)()
    assert lib.vgrt_noise_bits(seed, draw, out, count) == 0
    return np.frombuffer(out, np.int32).copy()


def actions_for(n, batch, n_actions, seed=0):
    return np.random.default_rng(seed).integers(0, n_actions, size=(n, batch))


def play(stream, script):
    return [stream.step(a) for a in script]


def test_philox_known_answer_and_numpy_agree(lib):
    assert native_bits(lib, 0, 0, 4).tolist() == PHILOX_ZERO
    assert noise_bits(0, 0, (4,)).tolist() == PHILOX_ZERO
    for seed, draw in ((0, 1), (7, 0), (2**64 - 1, 2**33 + 5), (123456789012345, 41)):
        shape = (4, 2, 3, 5, 7)  # not a multiple of 4 values per player: the last block is cut
        expected = noise_bits(seed, draw, shape).ravel()
        got = native_bits(lib, seed, draw, expected.size)
        assert np.array_equal(got, expected), f"seed {seed} draw {draw}"
        assert got.min() >= 0 and got.max() < 2**24


def test_model_info_reports_the_head(runtime):
    assert runtime.head == "flow_conv"
    assert runtime.info["sampling_steps"] == 2 and runtime.info["max_sampling_steps"] == 8
    with runtime.open_stream(1) as stream:
        assert stream.sampling() == {"seed": 0, "temperature": 1.0, "sampling_steps": 2}


@pytest.mark.parametrize("batch", [1, 4])
def test_frames_bit_identical_to_ort_stepper_over_256_frames(runtime, tiny_flow_bundle, batch):
    reference = OrtStepper(tiny_flow_bundle, batch=batch, intra_op_threads=THREADS, seed=11, temperature=0.8)
    with runtime.open_stream(batch, seed=11, temperature=0.8) as stream:
        assert np.array_equal(stream.reset(), reference.reset())
        for t, actions in enumerate(actions_for(256, batch, len(runtime.actions), seed=batch)):
            if t == 100:  # options changed between steps apply to the next frame on both sides
                stream.set_sampling(seed=12, sampling_steps=3)
                reference.set_sampling(seed=12, sampling_steps=3)
            if t == 180:
                stream.set_sampling(temperature=1.5, sampling_steps=1)
                reference.set_sampling(temperature=1.5, sampling_steps=1)
            assert np.array_equal(stream.step(actions), reference.step(actions)), f"frame {t + 1} differs"


def test_same_seed_same_frames_other_seed_other_frames(runtime):
    script = actions_for(24, 1, len(runtime.actions), seed=5)
    with runtime.open_stream(1, seed=3) as a, runtime.open_stream(1, seed=3) as b, \
            runtime.open_stream(1, seed=4) as c:
        first, second, other = play(a, script), play(b, script), play(c, script)
    assert all(np.array_equal(x, y) for x, y in zip(first, second))
    assert sum(not np.array_equal(x, y) for x, y in zip(first, other)) > len(script) // 2


def test_temperature_zero_does_not_depend_on_the_seed(runtime):
    script = actions_for(24, 1, len(runtime.actions), seed=6)
    with runtime.open_stream(1, seed=1, temperature=0.0) as a, runtime.open_stream(1, seed=2, temperature=0.0) as b, \
            runtime.open_stream(1, seed=1) as c:
        cold, cold_other, warm = play(a, script), play(b, script), play(c, script)
    assert all(np.array_equal(x, y) for x, y in zip(cold, cold_other))
    assert any(not np.array_equal(x, y) for x, y in zip(cold, warm))


def test_sampling_steps_change_the_frames(runtime):
    script = actions_for(12, 1, len(runtime.actions), seed=7)
    with runtime.open_stream(1, sampling_steps=1) as a, runtime.open_stream(1, sampling_steps=4) as b:
        assert b.sampling()["sampling_steps"] == 4
        assert any(not np.array_equal(x, y) for x, y in zip(play(a, script), play(b, script)))


def test_snapshot_restore_replays_the_noise_and_the_options(runtime):
    n_actions = len(runtime.actions)
    with runtime.open_stream(1, seed=9) as stream:
        play(stream, actions_for(10, 1, n_actions, seed=8))
        snapshot = stream.snapshot()
        script = actions_for(30, 1, n_actions, seed=9)
        first = play(stream, script)
        stream.set_sampling(seed=10, temperature=2.0, sampling_steps=1)
        stream.restore(snapshot)
        assert stream.sampling() == {"seed": 9, "temperature": 1.0, "sampling_steps": 2}
        assert all(np.array_equal(a, b) for a, b in zip(first, play(stream, script)))
        # the same actions from the same state with the draw index rewound but another seed diverge
        stream.restore(snapshot)
        stream.set_sampling(seed=10)
        assert any(not np.array_equal(a, b) for a, b in zip(first, play(stream, script)))


def test_async_stream_samples_and_takes_new_options_while_running(runtime):
    with runtime.open_stream(1, seed=5) as stream:
        stream.start()
        frames = []
        try:
            for i in range(40):
                frame = stream.wait_frame(timeout=10.0)
                assert frame is not None, "the asynchronous flow stream stopped producing frames"
                frames.append(frame)
                if i == 10:
                    stream.set_sampling(temperature=0.5, sampling_steps=3)
        finally:
            stream.stop()
        assert stream.sampling() == {"seed": 5, "temperature": 0.5, "sampling_steps": 3}
    indices = [f.index for f in frames]
    assert indices == sorted(indices) and len(set(indices)) == len(indices)
    assert frames[-1].rgba.shape[0] == 1 and frames[-1].rgba.dtype == np.uint8


@pytest.mark.parametrize("options, message", [
    ({"seed": -1}, "seed -1"), ({"seed": 2**64}, "seed"), ({"seed": 1.5}, "seed"), ({"seed": True}, "seed"),
    ({"temperature": math.nan}, "temperature nan"), ({"temperature": -0.1}, "temperature"),
    ({"temperature": 4.5}, "temperature"), ({"temperature": "hot"}, "temperature"),
    ({"sampling_steps": 0}, "sampling_steps 0"), ({"sampling_steps": 9}, "sampling_steps 9"),
    ({"sampling_steps": 2.0}, "sampling_steps"),
])
def test_bad_options_are_one_line_config_errors(runtime, options, message):
    with pytest.raises(ConfigError, match=message) as opened:
        runtime.open_stream(1, **options)
    assert "\n" not in str(opened.value)
    with runtime.open_stream(1) as stream:
        with pytest.raises(ConfigError, match=message):
            stream.set_sampling(**options)
        assert stream.sampling() == {"seed": 0, "temperature": 1.0, "sampling_steps": 2}


def test_bad_options_through_the_c_abi(lib, tiny_flow_bundle, monkeypatch):
    monkeypatch.setenv("VGRT_ORT_LIBRARY", str(sorted(Path(ort_search_dir()).glob("libonnxruntime.so*"))[0]))
    model, stream = ctypes.c_void_p(), ctypes.c_void_p()
    assert lib.vgrt_model_create(str(tiny_flow_bundle).encode(), None, ctypes.byref(model)) == 0, lib.vgrt_last_error()
    try:
        options = stream_options(lib)
        assert (options.seed, options.temperature, options.sampling_steps) == (0, 1.0, 0)
        for field, value, words in (("temperature", math.inf, b"temperature = inf"),
                                    ("temperature", 4.01, b"expected a finite number in [0, 4]"),
                                    ("sampling_steps", 9, b"sampling_steps = 9: expected 1..8"),
                                    ("sampling_steps", -1, b"sampling_steps = -1")):
            bad = stream_options(lib)
            setattr(bad, field, value)
            assert lib.vgrt_stream_open(model, ctypes.byref(bad), ctypes.byref(stream)) == -1
            assert words in lib.vgrt_last_error() and not stream.value
        options.seed, options.temperature, options.sampling_steps = 2**64 - 1, 0.25, 3
        assert lib.vgrt_stream_open(model, ctypes.byref(options), ctypes.byref(stream)) == 0, lib.vgrt_last_error()
        for temperature, steps in ((math.nan, 2), (-1.0, 2), (1.0, -5), (1.0, 99)):
            assert lib.vgrt_stream_set_sampling(stream, 1, temperature, steps) == -1
            assert b"expected" in lib.vgrt_last_error()
        seed, temperature, steps = ctypes.c_uint64(), ctypes.c_float(), ctypes.c_int32()
        assert lib.vgrt_stream_get_sampling(stream, ctypes.byref(seed), ctypes.byref(temperature),
                                            ctypes.byref(steps)) == 0
        assert (seed.value, temperature.value, steps.value) == (2**64 - 1, 0.25, 3)  # kept after refusals
        assert lib.vgrt_stream_set_sampling(stream, 4, 0.0, 0) == 0  # 0: the bundle's K
        assert lib.vgrt_stream_get_sampling(stream, None, None, ctypes.byref(steps)) == 0 and steps.value == 2
        assert lib.vgrt_stream_set_sampling(None, 4, 1.0, 0) == -2  # VGRT_ERROR_INVALID_HANDLE
    finally:
        if stream.value:
            lib.vgrt_stream_close(stream)
        lib.vgrt_model_destroy(model)
