"""The critic on the head's samples (train/head_adversary.py, `train.head_adv_weight`): its term moves the
head, the critic learns, the stage logs both and changes only the dynamics, and an mse head is refused."""

import json

import numpy as np
import pytest
import torch

from conftest import vidgen
from vidgen_rt.config import preset
from vidgen_rt.model.world_model import WorldModel
from vidgen_rt.train.checkpoint import load_checkpoint
from vidgen_rt.train.head_adversary import HeadAdversary
from vidgen_rt.train.objective import DynamicsObjective
from vidgen_rt.train.rollout_bank import RolloutBank
from vidgen_rt.train.tokenizer_losses import TokenizerCritic

STEPS, START = 12, 3


def _flow_model(head: str = "flow_mlp") -> WorldModel:
    config = preset("tiny")
    config.model.head = head
    torch.manual_seed(0)
    return WorldModel(config.model)


def _judged_batch(model: WorldModel, clips: int = 3, frames: int = 4):
    """inputs, actions, targets and flow draws of a small random batch; returns the objective's loss
    and samples, and the true last latents."""
    m = model.config
    generator = torch.Generator().manual_seed(1)
    latents = torch.randn(clips, frames + 1, m.latent_channels, m.latent_height, m.latent_width, generator=generator)
    actions = torch.randint(0, m.n_actions, (clips, frames), generator=generator)
    draws = clips * frames
    per_clip, samples = DynamicsObjective(model.dynamics)(
        latents[:, :-1], actions, latents[:, 1:], flow_t=torch.rand(draws, generator=generator),
        flow_noise=torch.randn(draws, *latents.shape[2:], generator=generator),
        sample_noise=torch.randn(clips, *latents.shape[2:], generator=generator))
    return per_clip.mean(), samples, latents[:, -1]


@pytest.mark.parametrize("head", ["flow_mlp", "flow_conv"])
def test_the_term_reaches_the_head_and_the_critic_learns(head):
    model = _flow_model(head)
    torch.nn.init.normal_(model.dynamics.sampler.output_weight, std=0.02)  # zero at init: no gradient path
    critic = TokenizerCritic(8, 1e-3, distributed=False)
    adversary = HeadAdversary(model.tokenizer, model.dynamics.sampler, critic, weight=1.0, start_step=2)
    supervised, samples, truth = _judged_batch(model)
    assert samples.shape == truth.shape
    before = [p.detach().clone() for p in critic.discriminator.parameters()]
    quiet, extras = adversary.add_term(supervised, samples, truth, lr=1e-3, step=1)
    assert quiet is supervised and set(extras) == {"critic_loss"}  # before start_step: the critic alone
    assert any(not torch.equal(a, b) for a, b in zip(before, critic.discriminator.parameters()))
    judged, extras = adversary.add_term(supervised, samples, truth, lr=1e-3, step=2)
    assert {"critic_loss", "adv_loss", "adv_weight"} <= set(extras) and extras["adv_weight"] > 0
    weight = model.dynamics.sampler.output_weight
    plain, = torch.autograd.grad(supervised, weight, retain_graph=True)
    with_term, = torch.autograd.grad(judged, weight, retain_graph=True)
    assert (with_term - plain).abs().max() > 1e-6 * plain.abs().max()
    assert all(p.grad is None for p in model.tokenizer.parameters())  # the decoder only passes it on


@pytest.fixture(scope="module")
def judged_run(tiny_store, tiny_flow_run, tmp_path_factory):
    run = tmp_path_factory.mktemp("head-adversary") / "judged"
    vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", run, "--quiet", "--stage", "dynamics",
           "--init-from", tiny_flow_run, "--set", "model.head=flow_conv", "--set", "model.sampling_steps=2",
           "--set", f"train.dynamics_steps={STEPS}", "--set", "train.head_adv_weight=1",
           "--set", f"train.head_adv_start={START / STEPS}", "--set", "train.log_every=1")
    return run


def test_the_stage_logs_the_critic_and_changes_only_the_dynamics(tiny_flow_run, judged_run):
    entries = [json.loads(line) for line in (judged_run / "log.jsonl").read_text().splitlines()]
    steps = [e for e in entries if e.get("stage") == "dynamics" and "loss" in e]
    assert len(steps) == STEPS and all(np.isfinite(e["critic_loss"]) for e in steps)
    assert [("adv_loss" in e) for e in steps] == [e["step"] >= START for e in steps]
    source, _, _ = load_checkpoint(tiny_flow_run)
    model, config, _ = load_checkpoint(judged_run)
    assert config.train.head_adv_weight == 1
    before, after = source.state_dict(), model.state_dict()
    changed = {name for name in after if not torch.equal(before[name], after[name])}
    assert any(name.startswith("dynamics.sampler.") for name in changed)
    assert not any(name.startswith("tokenizer.") for name in changed)


def test_an_mse_head_is_refused(tiny_store, tmp_path):
    result = vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", tmp_path / "run",
                    "--set", "train.head_adv_weight=0.5", check=False)
    assert result.returncode != 0
    assert "train.head_adv_weight > 0 judges a sampling head's samples" in result.stderr
    assert not (tmp_path / "run").exists()


class _ScriptedCritic:
    """Stands in for TokenizerCritic: returns the supervised loss and a given sequence of critic losses."""

    def __init__(self, losses):
        self.losses = iter(losses)

    def add_term(self, supervised, real, fake, lr, weight, last_layer, active):
        return supervised, {"critic_loss": next(self.losses)}


@pytest.mark.parametrize("losses, warned", [([1.0] * 30, True), ([1.0] * 5 + [0.7] * 40, False),
                                            ([0.8] * 20 + [1.01] * 60, True)])
def test_a_critic_at_chance_is_named(losses, warned):
    model = _flow_model()
    adversary = HeadAdversary(model.tokenizer, model.dynamics.sampler, _ScriptedCritic(losses), weight=1.0,
                              start_step=0)
    supervised, samples, truth = _judged_batch(model)
    for step in range(len(losses)):
        adversary.add_term(supervised, samples, truth, lr=1e-3, step=step)
    warning = adversary.chance_warning()
    assert (warning is not None) == warned
    if warned:
        assert "train.head_adv_weight=0" in warning


def test_the_run_reports_the_critics_recent_loss(judged_run):
    entries = [json.loads(line) for line in (judged_run / "log.jsonl").read_text().splitlines()]
    recent = None
    for entry in (e for e in entries if e.get("stage") == "dynamics" and "critic_loss" in e):
        recent = entry["critic_loss"] if recent is None else 0.95 * recent + 0.05 * entry["critic_loss"]
    _, _, state = load_checkpoint(judged_run)
    assert state["metrics"]["head_critic_loss"] == pytest.approx(recent, abs=1e-4)


def test_bank_windows_are_consecutive_latents_with_their_actions():
    rollouts, frames = 3, 10
    latents = torch.arange(rollouts * frames, dtype=torch.float32).reshape(-1, 1, 1, 1)  # value = rollout·F + step
    actions = torch.arange(rollouts * frames).reshape(rollouts, frames) + 1000            # produced latent's id + 1000
    bank = RolloutBank(latents, np.tile(np.arange(1, frames + 1), rollouts), np.zeros((0, 1, 1, 3)), actions)
    windows, window_actions = bank.windows(np.random.default_rng(0), count=64, length=4)
    assert windows.shape == (64, 4, 1, 1, 1) and window_actions.shape == (64, 4)
    ids = windows.flatten(1).long()
    assert torch.all(ids[:, 1:] - ids[:, :-1] == 1) and torch.all(ids // frames == ids[:, :1] // frames)  # one rollout
    assert torch.equal(window_actions - 1000, ids + 1)   # action i led from latent i to latent i + 1
    with pytest.raises(ValueError, match="longer than the bank"):
        bank.windows(np.random.default_rng(0), count=1, length=frames)


def _critic_weights(critic: TokenizerCritic) -> list[torch.Tensor]:
    return [p.detach().clone() for p in critic.discriminator.parameters()]


def test_an_own_bank_critic_learns_the_free_running_samples_alone():
    model = _flow_model()
    supervised, samples, truth = _judged_batch(model)
    bank_samples = samples.detach() + 0.5 * torch.randn_like(samples)

    def adversary(own: bool) -> HeadAdversary:
        torch.manual_seed(2)   # the same initial critics in both arms
        critic = TokenizerCritic(8, 1e-3, distributed=False)
        bank_critic = TokenizerCritic(8, 1e-3, distributed=False) if own else None
        return HeadAdversary(model.tokenizer, model.dynamics.sampler, critic, weight=1.0, start_step=10,
                             bank=object(), bank_weight=0.5, bank_critic=bank_critic)   # the critics alone

    shared, own = adversary(False), adversary(True)
    bank_before = _critic_weights(own.bank_critic)
    for judge in (shared, own):
        judge.add_term(supervised, samples, truth, lr=1e-3, step=0, bank_samples=bank_samples)
    after_tf_only = adversary(False)
    after_tf_only.add_term(supervised, samples, truth, lr=1e-3, step=0)
    # the own arm's first critic saw the teacher-forced samples only; the shared one saw both
    assert all(torch.equal(a, b) for a, b in zip(_critic_weights(own.critic), _critic_weights(after_tf_only.critic)))
    assert any(not torch.equal(a, b) for a, b in zip(_critic_weights(shared.critic),
                                                     _critic_weights(after_tf_only.critic)))
    assert any(not torch.equal(a, b) for a, b in zip(bank_before, _critic_weights(own.bank_critic)))
    assert own.recent_bank_critic_loss is not None and shared.recent_bank_critic_loss is None

    restored = adversary(True)
    restored.load_state_dict(own.state_dict())
    restored_weights, own_weights = _critic_weights(restored.bank_critic), _critic_weights(own.bank_critic)
    assert all(torch.equal(a, b) for a, b in zip(restored_weights, own_weights))
    with pytest.raises(ValueError, match="head_adv_bank_critic"):
        adversary(False).load_state_dict(own.state_dict())


@pytest.mark.parametrize("bank_critic", ["shared", "own"])
def test_the_bank_term_judges_free_running_samples(tiny_store, tiny_flow_run, tmp_path, bank_critic):
    run = tmp_path / "bank"
    vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", run, "--quiet", "--stage", "dynamics",
           "--init-from", tiny_flow_run, "--set", "model.head=flow_conv", "--set", "model.sampling_steps=2",
           "--set", "train.dynamics_steps=6", "--set", "train.head_adv_weight=1", "--set", "train.head_adv_start=0.5",
           "--set", "train.head_adv_bank_weight=1", "--set", "train.head_adv_bank_frames=16",
           "--set", f"train.head_adv_bank_critic={bank_critic}", "--set", "train.log_every=1")
    steps = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    steps = [e for e in steps if e.get("stage") == "dynamics" and "loss" in e]
    assert all(np.isfinite(e["bank_critic_loss"]) for e in steps)
    assert [("bank_adv_loss" in e) for e in steps] == [e["step"] >= 3 for e in steps]
    _, _, state = load_checkpoint(run)
    assert ("head_bank_critic_loss" in state["metrics"]) == (bank_critic == "own")


def test_bank_settings_are_checked(tiny_store, tmp_path):
    without_critic = vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", tmp_path / "a",
                            "--set", "model.head=flow_mlp", "--set", "train.head_adv_bank_weight=1", check=False)
    assert without_critic.returncode != 0 and "set train.head_adv_weight > 0 too" in without_critic.stderr
    too_long = vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", tmp_path / "b",
                      "--set", "model.head=flow_mlp", "--set", "train.head_adv_weight=1",
                      "--set", "train.head_adv_bank_weight=1", "--set", "train.head_adv_bank_frames=400", check=False)
    assert too_long.returncode != 0 and "lower train.head_adv_bank_frames" in too_long.stderr
    unknown = vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", tmp_path / "c",
                     "--set", "train.head_adv_bank_critic=both", check=False)
    assert unknown.returncode != 0 and "expected one of shared, own" in unknown.stderr
    assert not any((tmp_path / name).exists() for name in "abc")


def test_a_critic_starts_from_a_runs_trained_one(tiny_store, tiny_flow_run, tmp_path):
    from types import SimpleNamespace

    from vidgen_rt.train.checkpoint import load_optimizer_state
    from vidgen_rt.train.critics import head_adversary

    source = tmp_path / "source"
    vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", source, "--quiet", "--stage", "dynamics",
           "--init-from", tiny_flow_run, "--set", "model.head=flow_conv", "--set", "model.sampling_steps=2",
           "--set", "train.dynamics_steps=6", "--set", "train.checkpoint_every=4", "--set", "train.head_adv_weight=1")
    saved = load_optimizer_state(source / "checkpoints" / "dynamics-0000004")["companion"]["weights"]
    config = preset("tiny")
    config.model.head, config.model.sampling_steps = "flow_conv", 2
    config.train.head_adv_weight, config.train.head_critic_from = 1.0, str(source)
    trainer = SimpleNamespace(config=config, model=WorldModel(config.model), world_size=1, state={"step": 0},
                              quiet=True)
    started = head_adversary(trainer).critic.discriminator.state_dict()
    assert set(started) == set(saved) and all(torch.equal(started[k], saved[k]) for k in saved)
    config.train.head_critic_from = ""
    fresh = head_adversary(trainer).critic.discriminator.state_dict()
    assert any(not torch.equal(fresh[k], saved[k]) for k in saved)


def test_a_critic_source_without_a_critic_is_refused(tiny_store, tiny_flow_run, tmp_path):
    refused = vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", tmp_path / "run", "--stage",
                     "dynamics", "--init-from", tiny_flow_run, "--set", "model.head=flow_conv",
                     "--set", "model.sampling_steps=2", "--set", "train.head_adv_weight=1",
                     "--set", f"train.head_critic_from={tiny_flow_run}", check=False)
    assert refused.returncode != 0 and "hold a head critic" in refused.stderr
    assert not (tmp_path / "run").exists()
    without_term = vidgen("train", "--preset", "tiny", "--data", tiny_store, "--out", tmp_path / "run",
                          "--set", f"train.head_critic_from={tiny_flow_run}", check=False)
    assert without_term.returncode != 0 and "set train.head_adv_weight > 0 too" in without_term.stderr
