"""The tokenizer's detail losses (vidgen_rt/train/tokenizer_losses.py): the patch critic learns and
its term reaches the decoder only, the edge and detail terms add gradients (the detail term charges
blur, not a shifted edge), weights 0 give plain pixel MSE
through the real trainer, a resumed adversarial run continues the critic exactly, and the new config
fields are range-checked."""

import json
import shutil

import pytest
import torch
from torch.nn import functional as F

from vidgen_rt.config import apply_overrides, preset
from vidgen_rt.data.store import EpisodeStore
from vidgen_rt.errors import ConfigError
from vidgen_rt.model.tokenizer import FrameTokenizer
from vidgen_rt.model.world_model import WorldModel, frames_to_tensor
from vidgen_rt.train.batches import EpisodeSplit, FrameSampler, batch_rng
from vidgen_rt.train.tokenizer_losses import TokenizerCritic, adaptive_weight, detail_loss, reconstruction_loss
from vidgen_rt.train.trainer import Trainer


def _striped_frames(count: int = 8, size: int = 32) -> torch.Tensor:
    """Frames with one-pixel stripes: detail a blur removes entirely."""
    generator = torch.Generator().manual_seed(0)
    colours = torch.rand(count, 3, 1, 1, generator=generator)
    stripes = (torch.arange(size) % 2).float().view(1, 1, 1, size)
    return (colours * 0.5 + 0.5 * stripes).expand(count, 3, size, size).contiguous()   # (B, 3, H, W)


def _blurred(frames: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(frames, 3, stride=1, padding=1, count_include_pad=False)


def test_weights_zero_is_plain_mse():
    predicted, target = torch.rand(4, 3, 16, 16), torch.rand(4, 3, 16, 16)
    assert torch.equal(reconstruction_loss(predicted, target, 0.0, 0.0), F.mse_loss(predicted, target))


def test_detail_term_charges_blur_but_not_a_shifted_edge():
    target = _striped_frames(2)
    blurred = _blurred(target).requires_grad_()
    shifted = target.roll(1, dims=-1)   # the same stripes one pixel over: as sharp, all misplaced
    assert detail_loss(blurred, target) > 20 * detail_loss(shifted, target)
    assert F.mse_loss(shifted, target) > F.mse_loss(blurred, target)   # pixel MSE prefers the blur
    gradient, = torch.autograd.grad(reconstruction_loss(blurred, target, 0.0, 1.0), blurred)
    assert torch.isfinite(gradient).all() and gradient.abs().sum() > 0


def test_edge_term_adds_a_gradient_on_edges():
    target = _striped_frames(2)
    predicted = _blurred(target).requires_grad_()
    plain, = torch.autograd.grad(reconstruction_loss(predicted, target, 0.0), predicted)
    with_edges, = torch.autograd.grad(reconstruction_loss(predicted, target, 2.0), predicted)
    edge_part = with_edges - plain
    assert torch.isfinite(edge_part).all() and edge_part.abs().sum() > 0.1 * plain.abs().sum()


def test_critic_learns_to_tell_blur_from_detail():
    torch.manual_seed(0)
    critic = TokenizerCritic(width=8, lr=2e-3, distributed=False)
    real = _striped_frames()
    losses = [critic.step(real, _blurred(real), lr=2e-3) for _ in range(60)]
    assert all(torch.isfinite(torch.tensor(losses)))
    # 1.0 is the hinge loss of a critic that scores everything alike
    assert losses[0] > 0.9 and sum(losses[-5:]) / 5 < 0.5


def test_generator_term_reaches_the_decoder_and_never_the_critic():
    torch.manual_seed(0)
    tokenizer = FrameTokenizer(preset("tiny").model)
    critic = TokenizerCritic(width=8, lr=2e-3, distributed=False)
    frames = _striped_frames()
    reconstruction = tokenizer(frames)
    critic.step(frames, reconstruction, lr=2e-3)
    critic.optimizer.zero_grad(set_to_none=True)
    rec_loss = reconstruction_loss(reconstruction, frames, 0.5)
    adversarial = critic.generator_loss(reconstruction)
    weight = adaptive_weight(rec_loss, adversarial, tokenizer.last_layer)
    assert torch.isfinite(weight) and weight > 0 and not weight.requires_grad
    (rec_loss + weight * adversarial).backward()
    assert tokenizer.last_layer.grad.abs().sum() > 0
    assert all(p.grad is None for p in critic.discriminator.parameters())


def _tokenizer_run(store, run, *overrides):
    config = apply_overrides(preset("tiny"), ["train.bf16=false", "train.log_every=1", "train.eval_every=1000",
                                              *overrides])
    trainer = Trainer(config, store, run, stages=("tokenizer",), quiet=True)
    trainer.run()
    return trainer, [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def test_trainer_with_weights_zero_logs_plain_mse(tiny_store, tmp_path):
    _, log = _tokenizer_run(tiny_store, tmp_path / "run", "train.tokenizer_steps=2",
                            "train.tokenizer_edge_weight=0", "train.tokenizer_detail_weight=0",
                            "train.tokenizer_adv_weight=0")
    config = apply_overrides(preset("tiny"), ["train.bf16=false"])
    torch.manual_seed(config.train.seed)   # the trainer's initialisation, before any step
    model = WorldModel(config.model)
    store = EpisodeStore.open(tiny_store)
    sampler = FrameSampler(store, EpisodeSplit(store, config.train.sequence_frames).train)
    images = frames_to_tensor(sampler.sample(batch_rng(config.train.seed, "tokenizer", 0),
                                             config.train.tokenizer_batch_size))
    expected = F.mse_loss(model.tokenizer(images), images).item()
    first = next(e for e in log if e["step"] == 0 and "loss" in e)
    assert first["loss"] == pytest.approx(expected, rel=1e-6)
    assert "critic_loss" not in first


def test_adversarial_run_resumes_with_its_critic(tiny_store, tmp_path):
    """A run resumed from a mid-stage checkpoint logs the uninterrupted run's losses, critic included."""
    settings = ["train.tokenizer_steps=8", "train.checkpoint_every=4", "train.tokenizer_adv_weight=0.5",
                "train.tokenizer_adv_start=0.25"]
    _, full = _tokenizer_run(tiny_store, tmp_path / "full", *settings)
    assert all(torch.isfinite(torch.tensor(e["loss"])) for e in full if "loss" in e)
    assert any("adv_weight" in e for e in full) and any("critic_loss" in e and e["step"] == 0 for e in full)

    resumed = tmp_path / "resumed"
    shutil.copytree(tmp_path / "full", resumed)
    for checkpoint in (resumed / "checkpoints").iterdir():
        if checkpoint.name != "tokenizer-0000004":
            shutil.rmtree(checkpoint)
    (resumed / "latest.json").write_text(json.dumps({"checkpoint": "checkpoints/tokenizer-0000004"}))
    config = apply_overrides(preset("tiny"), ["train.bf16=false", "train.log_every=1", "train.eval_every=1000",
                                              *settings])
    Trainer(config, tiny_store, resumed, stages=("tokenizer",), resume=True, quiet=True).run()
    again = [json.loads(line) for line in (resumed / "log.jsonl").read_text().splitlines()]

    def losses(log):
        return [(e["step"], e["loss"], e.get("critic_loss")) for e in log if "loss" in e]

    assert losses(again) == losses(full)


@pytest.mark.parametrize("override, message", [
    ("train.tokenizer_adv_weight=-0.1", "train.tokenizer_adv_weight = -0.1: expected a finite number >= 0"),
    ("train.tokenizer_adv_weight=nan", "train.tokenizer_adv_weight = nan: expected a finite number >= 0"),
    ("train.tokenizer_detail_weight=-1", "train.tokenizer_detail_weight = -1.0: expected a finite number >= 0"),
    ("train.tokenizer_adv_start=1.5", "train.tokenizer_adv_start = 1.5: expected a finite number within 0..1"),
    ("train.tokenizer_adv_start=abc", "train.tokenizer_adv_start: expected float"),
])
def test_new_fields_are_validated(override, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        apply_overrides(preset("tiny"), [override])
