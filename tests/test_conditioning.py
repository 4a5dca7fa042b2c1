"""Conditioning on `tiny`: a store's guide maps and cond vectors reach training (self-rollout
included), generation and evaluation; the guide changes what the model paints; a config that
disagrees with its store fails with a message naming the field."""

import json

import numpy as np
import pytest
import torch

from conftest import vidgen
from vidgen_rt.config import preset
from vidgen_rt.data.record import GUIDE_NAMES, play_episode, record_world
from vidgen_rt.data.store import EpisodeStore
from vidgen_rt.errors import ConfigError
from vidgen_rt.generate import generate
from vidgen_rt.model.world_model import GUIDE_SCALES, guide_to_tensor
from vidgen_rt.train.checkpoint import load_checkpoint
from vidgen_rt.runtime.factory import open_stepper
from vidgen_rt.train.trainer import Trainer
from vidgen_rt.worlds import HELD_OUT_SEED

# dynamics_steps=20 puts steps 12..19 after rollout_start (0.6): with one pass asked for (the default
# is none), the self-rollout passes run with guides too.
QUICK = ["--set", "train.tokenizer_steps=20", "--set", "train.dynamics_steps=20", "--set", "train.eval_every=1000",
         "--set", "train.rollout_passes=1"]


@pytest.fixture(scope="module")
def guided_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "maze-guided"
    record_world("maze", path, policy="explore,random", episodes=4, frames=32, height=32, width=32,
                 guides=True, quiet=True)
    return path


@pytest.fixture(scope="module")
def guided_run(guided_store, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "guided"
    vidgen("train", "--preset", "tiny", "--data", guided_store, "--out", run, "--quiet", *QUICK)
    return run


def test_guide_normalisation_maps_the_maze_guides_into_unit_range():
    played = play_episode("maze", "explore", 3, 8, 32, 32, guides=True)
    guide = guide_to_tensor(played["guide"], GUIDE_NAMES)  # (T, 2, H, W)
    assert guide.dtype == torch.float32 and guide.shape == (8, 2, 32, 32)
    assert 0 <= guide.min() and guide.max() <= 1
    depth, wall_id = played["guide"][:, 0], played["guide"][:, 1]
    assert torch.allclose(guide[:, 0], torch.from_numpy(depth / GUIDE_SCALES["depth"]).clamp(0, 1))
    assert torch.allclose(guide[:, 1], torch.from_numpy(wall_id / GUIDE_SCALES["wall_id"]))
    assert set(np.unique(wall_id)) <= set(range(int(GUIDE_SCALES["wall_id"]) + 1))


def test_guided_training_takes_the_guide_channels_from_the_store(guided_run):
    config = json.loads((guided_run / "config.json").read_text())
    assert config["model"]["guide_channels"] == 2 and config["model"]["cond_dim"] == 0
    model, _, state = load_checkpoint(guided_run)
    assert state["guide_names"] == GUIDE_NAMES and state["completed"] == ["tokenizer", "dynamics"]
    log = [json.loads(line) for line in (guided_run / "log.jsonl").read_text().splitlines()]
    assert any("rollout_loss" in entry for entry in log), "the self-rollout passes never ran"
    assert model.dynamics.guide_proj.weight.shape[1] == 2


def test_the_guide_changes_the_generated_frames(guided_run):
    stepper = open_stepper(guided_run, "torch")
    m = stepper.model.config
    played = play_episode("maze", "explore", HELD_OUT_SEED, m.window + 8, m.frame_height, m.frame_width, guides=True)
    other = play_episode("maze", "explore", 1_000_001, m.window + 8, m.frame_height, m.frame_width, guides=True)
    context, actions = played["frames"][:m.window], played["actions"]
    own = guide_to_tensor(played["guide"][1:], GUIDE_NAMES)  # frames 1..K-1+T, one per step
    swapped = torch.cat([own[:m.window - 1], guide_to_tensor(other["guide"][m.window:], GUIDE_NAMES)])

    def roll(guide):
        return stepper.rollout(context, actions[:m.window - 1], actions[m.window - 1:m.window + 7], guide=guide)

    first, again, changed = roll(own), roll(own), roll(swapped)
    assert first.shape == (8, m.frame_height, m.frame_width, 3)
    assert np.array_equal(first, again)  # deterministic: any difference below comes from the guide
    assert np.abs(first.astype(int) - changed.astype(int)).mean() > 0.5
    with pytest.raises(ConfigError, match="needs a guide"):
        roll(None)


def test_generate_paints_the_guide_maps_of_another_maze(guided_run, tmp_path):
    model, config, state = load_checkpoint(guided_run)
    own = generate(model, config, state, 6, seed=HELD_OUT_SEED)
    other = generate(model, config, state, 6, seed=HELD_OUT_SEED, guide_seed=2_000_000)
    assert own["frames"].shape == other["frames"].shape == (6, 32, 32, 3)
    assert not np.array_equal(own["truth"], other["truth"])  # the truth follows the guide's maze
    assert not np.array_equal(own["frames"], other["frames"])
    video = tmp_path / "guided.gif"
    vidgen("generate", guided_run, "--frames", "6", "--guides-from-seed", "7", "--compare", "--upscale", "1",
           "-o", video)
    assert video.stat().st_size > 0
    scripted = vidgen("generate", guided_run, "--actions", "forward*3", "-o", tmp_path / "x.gif", check=False)
    assert scripted.returncode != 0 and "--policy" in scripted.stderr


def test_guided_world_evaluates_on_its_guides(guided_run, tmp_path):
    out = tmp_path / "eval.json"
    vidgen("eval", guided_run, "--episodes", "1", "--stability-frames", "100", "--json", out, "--quiet")
    metrics = json.loads(out.read_text())
    assert len(metrics["ar_ssim_curve"]) == 64 and metrics["stability"]["nan_count"] == 0


def test_store_and_config_must_agree_on_the_guides(guided_store, tiny_store, tmp_path):
    config = preset("tiny")
    config.model.guide_channels = 3
    with pytest.raises(ConfigError, match=r"model\.guide_channels is 3 .*2 guide channels"):
        Trainer(config, guided_store, tmp_path / "a", quiet=True)
    config.model.guide_channels = 2
    with pytest.raises(ConfigError, match=r"model\.guide_channels is 2 but the store holds no guide maps"):
        Trainer(config, tiny_store, tmp_path / "b", quiet=True)
    result = vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", tmp_path / "c",
                    "--set", "model.cond_dim=4", check=False)
    assert result.returncode != 0 and "model.cond_dim is 4 but the store holds no cond vectors" in result.stderr
    assert not (tmp_path / "c" / "latest.json").exists()


def test_cond_vectors_reach_the_model(tiny_store, tmp_path):
    """A store with a per-frame cond vector (here the frame's mean colour, which the model can use)
    trains a cond-conditioned model, and the cond changes its rollout."""
    source = EpisodeStore.open(tiny_store)
    with EpisodeStore.create(tmp_path / "cond", source.height, source.width, source.action_names, cond_dim=3) as out:
        for episode in source:
            cond = np.asarray(episode.frames, dtype=np.float32).mean(axis=(1, 2)) / 255.0  # (T, 3)
            out.add_episode(episode.frames, episode.actions, cond=cond)
    config = preset("tiny")
    config.train.tokenizer_steps, config.train.dynamics_steps = 10, 10
    trainer = Trainer(config, tmp_path / "cond", tmp_path / "run", quiet=True)
    assert trainer.config.model.cond_dim == 3 and config.model.cond_dim == 0  # the caller's config is untouched
    trainer.run()
    model, config, _ = load_checkpoint(tmp_path / "run")
    episode = source.episode(0)
    K = config.model.window
    steps = K - 1 + 4
    cond = torch.rand(steps, 3, generator=torch.Generator().manual_seed(0))
    stepper = open_stepper((model, config), "torch")
    roll = [stepper.rollout(episode.frames[:K], episode.actions[:K - 1], episode.actions[K - 1:K + 3], cond=c)
            for c in (cond, 1 - cond)]
    assert model.dynamics.cond_proj.weight.shape == (config.model.d_model, 3)
    assert not np.array_equal(roll[0], roll[1])


def test_guided_world_survives_export_with_ort_parity(guided_run, tmp_path):
    from vidgen_rt.export import export_bundle, load_bundle
    from vidgen_rt.export.parity import THRESHOLDS, verify_bundle

    bundle = load_bundle(export_bundle(guided_run, tmp_path / "guided.vgrt", quiet=True))
    guide_spec = bundle.manifest["conditions"]["guide"]
    assert guide_spec["names"] == GUIDE_NAMES and guide_spec["channels"] == 2
    past = [f"past_{kind}_{layer}" for layer in range(bundle.config.model.n_layers) for kind in ("key", "value")]
    assert [io["name"] for io in bundle.graph("step")["inputs"]] == ["latents", "action", "guide", *past, "lags"]
    assert bundle.context()["guide"].shape == (5, 2, 32, 32)  # frames 1..K-1 of a window-6 context
    report = verify_bundle(bundle, checkpoint=guided_run, steps=64, quiet=True)
    assert report["teacher_forced_max_abs"] <= THRESHOLDS["teacher_forced_max_abs"]
    assert report["rollout_psnr"] >= THRESHOLDS["rollout_psnr"]
    stepper = open_stepper(bundle, "ort-python")
    stepper.reset()
    with pytest.raises(ConfigError, match="needs a guide"):
        stepper.step(1)
    near, far = np.zeros((1, 2, 32, 32), np.float32), np.ones((1, 2, 32, 32), np.float32)
    saved = stepper.snapshot()
    first = stepper.step(1, guide=near)
    stepper.restore(saved)
    assert not np.array_equal(first, stepper.step(1, guide=far)), "the guide input changed nothing"
