"""Episode store: round trips through disk, atomic create/append, and clear errors on bad input."""

import json

import numpy as np
import pytest

from vidgen_rt.data.store import EpisodeStore
from vidgen_rt.errors import DataError

H, W = 12, 10
ACTIONS = ["noop", "left", "right"]


def make_episode(length, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "frames": rng.integers(0, 256, (length, H, W, 3), dtype=np.uint8),
        "actions": rng.integers(0, len(ACTIONS), length),
        "cond": rng.normal(size=(length, 2)).astype(np.float32),
        "guide": rng.random((length, 1, H, W), dtype=np.float32),
    }


def create_full(path, **kwargs):
    return EpisodeStore.create(path, H, W, action_names=ACTIONS, cond_dim=2,
                               guide_names=["depth"], **kwargs)


def write_store(path, lengths=(5, 7, 2)):
    episodes = [make_episode(n, seed) for seed, n in enumerate(lengths)]
    with create_full(path, meta={"source": "test", "world": "none"}) as writer:
        for episode in episodes:
            writer.add_episode(**episode, info={"n": len(episode["frames"])})
    return episodes


def test_round_trip_with_actions_cond_and_guide(tmp_path):
    episodes = write_store(tmp_path / "store")
    store = EpisodeStore.open(tmp_path / "store")
    assert len(store) == 3
    assert store.episode_lengths() == [5, 7, 2]
    assert store.num_frames == 14
    assert (store.height, store.width, store.cond_dim) == (H, W, 2)
    assert store.action_names == ACTIONS and store.guide_names == ["depth"]
    assert store.guide_channels == 1
    assert store.meta == {"source": "test", "world": "none"}
    for i, expected in enumerate(episodes):
        episode = store.episode(i)
        assert isinstance(episode.frames, np.memmap) and len(episode) == len(expected["frames"])
        assert episode.actions.dtype == np.int64 and episode.cond.dtype == np.float32
        for name in ("frames", "actions", "cond", "guide"):
            np.testing.assert_array_equal(getattr(episode, name), expected[name])
        assert episode.info == {"n": len(expected["frames"])}


def test_unconditional_and_empty_stores(tmp_path):
    frames = make_episode(4)["frames"]
    with EpisodeStore.create(tmp_path / "plain", H, W) as writer:
        writer.add_episode(frames)
    episode = EpisodeStore.open(tmp_path / "plain").require_nonempty().episode(0)
    assert episode.actions is None and episode.cond is None and episode.guide is None
    np.testing.assert_array_equal(episode.frames, frames)

    with EpisodeStore.create(tmp_path / "empty", H, W):
        pass
    empty = EpisodeStore.open(tmp_path / "empty")
    assert len(empty) == 0 and empty.num_frames == 0
    with pytest.raises(DataError, match="contains no episodes"):
        empty.require_nonempty()


def test_exception_inside_writer_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with create_full(tmp_path / "store") as writer:
            writer.add_episode(**make_episode(3))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_failed_append_keeps_old_index(tmp_path):
    path = tmp_path / "store"
    write_store(path)
    index_before = (path / "index.json").read_bytes()
    chunks_before = sorted((path / "episodes").iterdir())
    with pytest.raises(DataError, match="actions"):
        with EpisodeStore.append(path) as writer:
            writer.add_episode(**make_episode(4, seed=9))
            writer.add_episode(make_episode(4)["frames"])  # no actions: rejected, append rolls back
    assert (path / "index.json").read_bytes() == index_before
    assert sorted((path / "episodes").iterdir()) == chunks_before
    assert EpisodeStore.open(path).episode_lengths() == [5, 7, 2]


def test_append_adds_episodes(tmp_path):
    path = tmp_path / "store"
    old = write_store(path)
    new = make_episode(6, seed=5)
    with EpisodeStore.append(path) as writer:
        writer.add_episode(**new)
    store = EpisodeStore.open(path)
    assert store.episode_lengths() == [5, 7, 2, 6]
    np.testing.assert_array_equal(store.episode(0).frames, old[0]["frames"])
    np.testing.assert_array_equal(store.episode(3).cond, new["cond"])


def test_concurrent_append_is_refused_not_lost(tmp_path):
    path = tmp_path / "store"
    write_store(path)
    first, second = EpisodeStore.append(path), EpisodeStore.append(path)
    first.add_episode(**make_episode(3, seed=1))
    second.add_episode(**make_episode(4, seed=2))
    first.commit()
    with pytest.raises(DataError, match="changed by another writer"):
        second.commit()
    assert EpisodeStore.open(path).episode_lengths() == [5, 7, 2, 3]
    assert len(list((path / "episodes").iterdir())) == 4 * 4


def test_overwrite_rules(tmp_path):
    path = tmp_path / "store"
    write_store(path)
    with pytest.raises(DataError, match="already exists"):
        create_full(path)
    with create_full(path, overwrite=True) as writer:
        writer.add_episode(**make_episode(3))
    assert EpisodeStore.open(path).episode_lengths() == [3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]

    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="not an episode store"):
        EpisodeStore.create(precious, H, W, overwrite=True)
    assert (precious / "notes.txt").read_text() == "keep me"


def corrupt_index(path, edit):
    index = json.loads((path / "index.json").read_text())
    edit(index)
    (path / "index.json").write_text(json.dumps(index))


def test_open_errors_name_the_problem(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        EpisodeStore.open(tmp_path / "missing")
    (tmp_path / "bare").mkdir()
    with pytest.raises(DataError, match="index.json is missing"):
        EpisodeStore.open(tmp_path / "bare")

    path = tmp_path / "store"
    write_store(path)
    (path / "index.json").write_text('{"format": "vidgen_rt.episode_store", "version"')
    with pytest.raises(DataError, match="index.json: unreadable or corrupt JSON"):
        EpisodeStore.open(path)


@pytest.mark.parametrize("edit, message", [
    (lambda i: i.update(height=-3), "field 'height' should be a positive integer"),
    (lambda i: i.update(version=99), "unsupported version 99"),
    (lambda i: i["episodes"][1].update(length=1), r"episodes\[1\] should be an object"),
    (lambda i: i["episodes"][0].update(frames="../../etc/passwd"), "relative path inside"),
    (lambda i: i["episodes"][0].update(length=6), r"expected shape \(6, 12, 10, 3\) uint8"),
])
def test_open_rejects_bad_index_fields(tmp_path, edit, message):
    path = tmp_path / "store"
    write_store(path)
    corrupt_index(path, edit)
    with pytest.raises(DataError, match=message):
        EpisodeStore.open(path)


def test_open_rejects_missing_wrong_or_truncated_chunks(tmp_path):
    path = tmp_path / "store"
    write_store(path)
    index = json.loads((path / "index.json").read_text())
    actions, cond, frames = (path / index["episodes"][i][name] for i, name in
                             ((0, "actions"), (1, "cond"), (2, "frames")))
    actions.unlink()
    with pytest.raises(DataError, match=r"episodes\[0\]\.actions: chunk file .* is missing"):
        EpisodeStore.open(path)
    np.save(actions, np.zeros(5, np.float64))
    with pytest.raises(DataError, match="expected shape .*int64, got .*float64"):
        EpisodeStore.open(path)
    np.save(actions, np.zeros(5, np.int64))
    np.save(cond, np.zeros((7, 3), np.float32))
    with pytest.raises(DataError, match=r"got \(7, 3\) float32"):
        EpisodeStore.open(path)
    np.save(cond, np.zeros((7, 2), np.float32))
    frames.write_bytes(frames.read_bytes()[:-10])
    with pytest.raises(DataError, match="truncated chunk"):
        EpisodeStore.open(path)


@pytest.mark.parametrize("change, message", [
    (dict(frames=np.zeros((4, H, W, 3), np.float32)), "frames must be uint8"),
    (dict(frames=np.zeros((4, H, W + 1, 3), np.uint8)), r"frames should be uint8 of shape \(4, 12"),
    (dict(actions=np.array([0, 1, 5, 2])), r"actions\[2\] = 5 is outside 0..2"),
    (dict(actions=np.array([0.0, 1.0, 1.0, 2.0])), "actions must be integers"),
    (dict(actions=None), "actions missing; the store has action_names"),
    (dict(cond=np.full((4, 2), np.nan)), "cond has NaN or inf at frame 0"),
    (dict(cond=np.zeros((4, 3))), r"cond should be float32 of shape \(4, 2\)"),
    (dict(guide=np.zeros((4, 1, H, W), np.int64)), "guide should be float32/uint8"),
])
def test_add_episode_rejects_bad_arrays(tmp_path, change, message):
    episode = {**make_episode(4), **change}
    with create_full(tmp_path / "store") as writer:
        with pytest.raises(DataError, match=message) as error:
            writer.add_episode(**episode)
        assert "episode 0" in str(error.value)
        writer.add_episode(**make_episode(4))  # a rejected episode leaves the writer usable
    assert EpisodeStore.open(tmp_path / "store").episode_lengths() == [4]


def test_single_frame_episode_is_rejected(tmp_path):
    with create_full(tmp_path / "store") as writer:
        with pytest.raises(DataError, match="needs at least 2 frames, got 1"):
            writer.add_episode(**{k: v[:1] for k, v in make_episode(4).items()})


def test_unconditional_store_rejects_actions(tmp_path):
    with EpisodeStore.create(tmp_path / "store", H, W) as writer:
        with pytest.raises(DataError, match="actions given; the store has no action_names"):
            episode = make_episode(3)
            writer.add_episode(episode["frames"], actions=episode["actions"])
    with pytest.raises(DataError, match="meta must be JSON-serializable"):
        EpisodeStore.create(tmp_path / "other", H, W, meta={"bad": object()})


def test_held_out_split_is_the_last_episodes_and_validated(tmp_path):
    from vidgen_rt.data.store import HELD_OUT_AUTO

    for count, held, expected in ((12, HELD_OUT_AUTO, [11]), (25, HELD_OUT_AUTO, [23, 24]), (5, 2, [3, 4]),
                                  (1, HELD_OUT_AUTO, [])):
        path = tmp_path / f"s{count}-{held}"
        with EpisodeStore.create(path, 4, 4, held_out=held) as writer:
            for _ in range(count):
                writer.add_episode(np.zeros((2, 4, 4, 3), np.uint8))
        store = EpisodeStore.open(path)
        assert store.held_out == expected
        assert store.training_indices() == [i for i in range(count) if i not in expected]
    write_store(tmp_path / "plain")
    assert EpisodeStore.open(tmp_path / "plain").held_out is None  # no split asked: none


@pytest.mark.parametrize("held_out, message", [(0, "--held-out 0: expected 1 or more"),
                                               (3, "holding out 3 of 3 episode.s. leaves none to train on")])
def test_a_held_out_split_without_evaluation_or_training_data_is_refused(tmp_path, held_out, message):
    with pytest.raises(DataError, match=message):
        with EpisodeStore.create(tmp_path / "s", 4, 4, held_out=held_out) as writer:
            for _ in range(3):
                writer.add_episode(np.zeros((2, 4, 4, 3), np.uint8))
    assert not (tmp_path / "s").exists()


def test_open_rejects_a_held_out_list_outside_the_episodes(tmp_path):
    path = tmp_path / "s"
    write_store(path)
    corrupt_index(path, lambda index: index["meta"].update(held_out=[7]))
    with pytest.raises(DataError, match="meta.held_out"):
        EpisodeStore.open(path)
