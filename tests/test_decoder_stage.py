"""Stage `decoder` (train/decoder_stage.py): the decoder tuned on the dynamics' own samples changes the
decoder alone, renders those samples closer to the real next frames, and refuses to run without a
trained world or without steps. With `train.decoder_adv_weight`, a critic judges the decodes of a bank of
free-running latents (train/rollout_bank.py)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import vidgen
from vidgen_rt.data.store import EpisodeStore
from vidgen_rt.train.batches import ClipSampler, episode_actions
from vidgen_rt.train.checkpoint import load_checkpoint, read_state, resolve_checkpoint
from vidgen_rt.train.rollout_bank import RolloutBank


def _log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def tuned(tiny_store, tiny_run, tmp_path_factory):
    run = tmp_path_factory.mktemp("decoder") / "tuned"
    vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", run, "--quiet", "--stage", "decoder",
           "--init-from", tiny_run, "--set", "train.decoder_steps=40", "--set", "train.decoder_lr=2e-3",
           # the detail term off: on a decoder this untrained it trades PSNR for sharpness, and the test
           # is about the stage fitting the samples' frames
           "--set", "train.decoder_detail_weight=0", "--set", "train.log_every=1")
    return run


def test_only_the_decoder_changes(tiny_run, tuned):
    source, _, _ = load_checkpoint(tiny_run)
    model, _, state = load_checkpoint(tuned)
    assert state["completed"] == ["tokenizer", "dynamics", "decoder"]
    before, after = source.state_dict(), model.state_dict()
    changed = {name for name in after if not torch.equal(before[name], after[name])}
    assert changed and all(name.startswith("tokenizer.decoder.") for name in changed), sorted(changed)[:5]
    assert len(changed) == len(list(model.tokenizer.decoder.state_dict()))


def test_decoded_samples_come_closer_to_the_real_frames(tuned):
    entries = _log(tuned)
    before = next(e for e in entries if e["stage"] == "decoder" and e.get("before"))
    losses = [e for e in entries if e["stage"] == "decoder" and "sample_loss" in e]
    assert len(losses) == 40 and all("truth_loss" in e for e in losses)
    metrics = read_state(resolve_checkpoint(tuned))["metrics"]
    assert metrics["decoded_sample_psnr"] > before["decoded_sample_psnr"] + 0.5, (before, metrics)
    assert {"tokenizer_psnr", "tokenizer_sharpness", "decoded_sample_sharpness"} <= set(metrics)


def test_the_decoder_stage_needs_a_world_and_steps(tiny_store, tiny_run, tmp_path):
    no_world = vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", tmp_path / "a", "--stage",
                      "decoder", "--set", "train.decoder_steps=5", check=False)
    assert no_world.returncode != 0 and "needs a trained world" in no_world.stderr
    no_steps = vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", tmp_path / "b", "--stage",
                      "decoder", "--init-from", tiny_run, check=False)
    assert no_steps.returncode != 0 and "train.decoder_steps=0" in no_steps.stderr


@pytest.fixture(scope="module")
def adversarial(tiny_store, tiny_run, tmp_path_factory):
    run = tmp_path_factory.mktemp("decoder") / "adversarial"
    vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", run, "--quiet", "--stage", "decoder",
           "--init-from", tiny_run, "--set", "train.decoder_steps=12", "--set", "train.decoder_adv_weight=0.5",
           "--set", "train.decoder_adv_start=0.25", "--set", "train.decoder_rollout_frames=16",
           "--set", "train.log_every=1")
    return run


def test_the_critic_judges_free_running_decodes(tiny_run, adversarial):
    entries = [e for e in _log(adversarial) if e["stage"] == "decoder"]
    before = next(e for e in entries if e.get("before"))
    steps = [e for e in entries if "loss" in e]
    assert len(steps) == 12 and all("critic_loss" in e for e in steps)
    # The critic trains alone for the first quarter (3 steps), then its term reaches the decoder.
    assert [e["step"] for e in steps if "adv_weight" in e] == list(range(3, 12))
    assert all(e["adv_weight"] > 0 for e in steps if "adv_weight" in e)
    metrics = read_state(resolve_checkpoint(adversarial))["metrics"]
    assert "decoded_rollout_sharpness" in before and metrics["decoded_rollout_sharpness"] > 0
    source, _, _ = load_checkpoint(tiny_run)
    model, _, _ = load_checkpoint(adversarial)
    before_weights, after_weights = source.state_dict(), model.state_dict()
    changed = {name for name in after_weights if not torch.equal(before_weights[name], after_weights[name])}
    assert changed and all(name.startswith("tokenizer.decoder.") for name in changed), sorted(changed)[:5]


def test_the_free_running_bank_repeats_from_its_seed(tiny_store, tiny_run):
    model, config, _ = load_checkpoint(tiny_run)
    store = EpisodeStore.open(tiny_store)
    indices = list(range(len(store.episode_lengths())))
    length = config.model.window + 8
    sampler = ClipSampler(None, [episode_actions(store, i, config.model.n_actions) for i in indices], length,
                          frames=[store.episode(i).frames for i in indices])
    banks = [RolloutBank.generate(model, sampler, np.random.default_rng(7), 8, rollouts=4) for _ in range(2)]
    other = RolloutBank.generate(model, sampler, np.random.default_rng(8), 8, rollouts=4)
    assert banks[0].latents.shape == (32, config.model.latent_channels, *banks[0].latents.shape[2:])
    assert torch.equal(banks[0].latents, banks[1].latents) and not torch.equal(banks[0].latents, other.latents)
    assert list(banks[0].horizons[:9]) == [1, 2, 3, 4, 5, 6, 7, 8, 1]
    assert banks[0].real.shape == (32, *store.episode(0).frames.shape[1:])


def test_the_bank_needs_episodes_long_enough(tiny_store, tiny_run, tmp_path):
    too_long = vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", tmp_path / "c", "--stage",
                      "decoder", "--init-from", tiny_run, "--set", "train.decoder_steps=5",
                      "--set", "train.decoder_adv_weight=0.5", "--set", "train.decoder_rollout_frames=500",
                      check=False)
    assert too_long.returncode != 0 and "decoder_rollout_frames" in too_long.stderr
    assert "the longest has 48" in too_long.stderr and not (tmp_path / "c").exists()
