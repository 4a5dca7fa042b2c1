"""The three implementations of the step, opened through the one factory (`vidgen_rt.open_stepper`) on
a tiny trained world: the native runtime frames are bit-identical to the ONNX Runtime oracle's,
PyTorch's are within one grey level of them; snapshot/restore replays; stats are reported; batch 2
runs each player with its own actions; every bad action or condition gets the same one-line
ConfigError on every backend."""

import numpy as np
import pytest

import vidgen_rt
from vidgen_rt.errors import ConfigError
from vidgen_rt.runtime.stats import latency_summary
from vidgen_rt.runtime.stepper import DEFAULT_GUIDE_RANGE, Stepper, check_condition

ACTIONS = [1, 1, 3, 3, 0, 4, 2, 5, 6, 1, 2, 2]
BACKENDS = ("native", "ort-python", "torch")
BAD_ACTIONS = [1.9, float("nan"), "forward", 2**64, True, -1, 7, [0, 1, 2], None]


@pytest.fixture(scope="module")
def bundle(tiny_bundle):
    return tiny_bundle


def open_seeded(backend, bundle, tiny_run, batch=1):
    """A stepper of `backend` reset to the bundle's context (the torch one from the same frames)."""
    stepper = vidgen_rt.open_stepper(tiny_run if backend == "torch" else bundle, backend, batch, intra_op_threads=1)
    context = vidgen_rt.open_stepper(bundle, "ort-python").bundle.context() if backend == "torch" else {}
    first = stepper.reset(context.get("frames"), context.get("actions"))
    assert isinstance(stepper, Stepper) and first.shape == (batch, 32, 32, 4) and first.dtype == np.uint8
    return stepper


def test_the_three_backends_give_the_same_frames(bundle, tiny_run):
    frames = {}
    for backend in BACKENDS:
        with open_seeded(backend, bundle, tiny_run) as stepper:
            frames[backend] = np.stack([np.array(stepper.step(a)) for a in ACTIONS])
            assert stepper.info.action_names == tuple(vidgen_rt.open_stepper(bundle, "ort-python").info.action_names)
    assert np.array_equal(frames["native"], frames["ort-python"]), "native differs from the ORT oracle"
    # PyTorch fp32 against the fp32 ONNX graphs: rounding to uint8 may differ by one grey level.
    assert np.abs(frames["torch"].astype(int) - frames["ort-python"].astype(int)).max() <= 1
    assert (frames["torch"][..., 3] == 255).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_snapshot_restore_replays_and_stats_count_frames(bundle, tiny_run, backend):
    with open_seeded(backend, bundle, tiny_run) as stepper:
        for action in ACTIONS[:4]:
            stepper.step(action)
        saved = stepper.snapshot()
        branch = [np.array(stepper.step(a)) for a in ACTIONS[4:]]
        stepper.restore(saved)
        again = [np.array(stepper.step(a)) for a in ACTIONS[4:]]
        assert all(np.array_equal(a, b) for a, b in zip(branch, again))
        stats = stepper.stats()
        assert stats["frames"] == 4 + 2 * len(ACTIONS[4:])
        for part in ("step", "decode", "total"):
            assert stats[part]["p50_ms"] > 0 and stats[part]["p99_ms"] >= stats[part]["p50_ms"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_two_steps_each_player_with_its_own_action(bundle, tiny_run, backend):
    with open_seeded(backend, bundle, tiny_run, batch=2) as pair, open_seeded(backend, bundle, tiny_run) as one:
        for t, action in enumerate(ACTIONS):
            both = np.array(pair.step([action, (action + 3) % 7]))
            alone = np.array(one.step(action))
        assert np.abs(both[0].astype(int) - alone[0].astype(int)).max() <= 2
        assert not np.array_equal(both[0], both[1])


@pytest.fixture(scope="module")
def steppers(bundle, tiny_run):
    opened = {backend: open_seeded(backend, bundle, tiny_run) for backend in BACKENDS}
    yield opened
    for stepper in opened.values():
        stepper.close()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("action", BAD_ACTIONS, ids=repr)
def test_bad_actions_get_one_line_config_errors(steppers, backend, action):
    stepper = steppers[backend]
    with pytest.raises(ConfigError) as error:
        stepper.step(action)
    message = str(error.value)
    assert len(message.splitlines()) == 1, message
    assert "0..6 (" in message or "one per player" in message, message  # names the valid actions
    stepper.step(0)  # the refusal changed nothing: the stepper still steps


@pytest.mark.parametrize("backend", BACKENDS)
def test_unconditioned_worlds_refuse_conditions(steppers, backend):
    with pytest.raises(ConfigError, match="takes no guide"):
        steppers[backend].step(0, guide=np.zeros((1, 2, 32, 32), np.float32))


def test_guide_maps_are_checked_for_shape_finiteness_and_range():
    shape = (2, 2, 4, 4)
    assert check_condition("guide", np.full(shape[1:], 0.5), shape, DEFAULT_GUIDE_RANGE).shape == shape
    for value, message in ((np.full(shape, 1e30), "within -4..4"), (np.full(shape, np.nan), "NaN"),
                           (np.zeros((3, 4)), "expected"), (None, "needs a guide"), ("deep", "expected numbers")):
        with pytest.raises(ConfigError, match=message):
            check_condition("guide", value, shape, DEFAULT_GUIDE_RANGE)


def test_the_factory_names_what_it_expected(bundle, tiny_run):
    with pytest.raises(ConfigError, match="backend 'gpu'"):
        vidgen_rt.open_stepper(bundle, "gpu")
    with pytest.raises(ConfigError, match="runs a bundle"):
        vidgen_rt.open_stepper(tiny_run, "ort-python")
    with pytest.raises(ConfigError, match="runs a checkpoint"):
        vidgen_rt.open_stepper(bundle, "torch")


def test_latency_summary_ranks_like_the_native_runtime():
    summary = latency_summary(np.arange(1, 101, dtype=float))  # sorted index floor(q * n)
    assert summary == {"mean_ms": 50.5, "p50_ms": 51.0, "p90_ms": 91.0, "p99_ms": 100.0, "max_ms": 100.0}
    assert latency_summary([])["p99_ms"] == 0.0
