"""Stage `dynamics`: the frame-causal transformer and its head on latent clips (docs/architecture.md §3).

The tokenizer is frozen by now; each step draws clips of latents and fits the next latents with the
seed's MSE objective or flow matching for a sampling head (train/objective.py), with two drift
controls: Gaussian noise on the context latents (its level told to the model when
`context_noise_embedding` is on), and, after `rollout_start` of the steps, self-rollout passes whose
inputs are the model's own detached predictions, so it learns to correct its errors. With
`head_adv_weight` > 0 a patch critic also judges decoded K-step samples of a flow head
(train/head_adversary.py).

Every random draw comes from the step's generator, so a resumed run repeats its batches.
"""

from __future__ import annotations

import torch

from vidgen_rt.model.world_model import WorldModel
from vidgen_rt.train.batches import ClipSampler, target_conditions
from vidgen_rt.train.head_adversary import HeadAdversary


def dynamics_loss_fn(model: WorldModel, sampler: ClipSampler, config, autocast,
                     adversary: HeadAdversary | None, progress):
    """The stage's loss function for Trainer._loop. `progress()` gives the step about to run and the
    critic's learning rate for it; self-rollout passes start at `train.rollout_start` of the steps."""
    train, context_noise_embedding = config.train, config.model.context_noise_embedding
    rollout_from = int(train.rollout_start * train.dynamics_steps)

    def loss_fn(wrapped, rng):
        step, critic_lr = progress()
        batch = sampler.sample(rng, train.batch_size)
        clips = batch.latents  # (B, T, C, h, w)
        sigma = torch.from_numpy(rng.uniform(0, train.context_noise, size=clips.shape[:2])).float()
        noise = torch.from_numpy(rng.standard_normal(clips.shape)).float()
        inputs = (clips + sigma[..., None, None, None] * noise)[:, :-1]
        levels = sigma[:, :-1] if context_noise_embedding else None
        targets, acts = clips[:, 1:], batch.actions[:, :-1]
        passes = train.rollout_passes if step >= rollout_from else 0
        inputs = self_rollout_inputs(model, inputs, acts, levels, target_conditions(batch), passes, rng, autocast)
        repeat = inputs.shape[0] // clips.shape[0]  # inputs: ((1+passes)B, T-1, C, h, w)
        flow = flow_draws(rng, train.flow_repeats, inputs.shape) if model.dynamics.is_flow else {}
        if adversary is not None:
            flow["sample_noise"] = adversary.sample_noise(rng, clips)
        with autocast():
            result = wrapped(inputs, acts.repeat(repeat, 1), targets.repeat(repeat, 1, 1, 1, 1),
                             None if levels is None else levels.repeat(repeat, 1),
                             **target_conditions(batch, repeat), **flow)
        per_clip, samples = result if adversary is not None else (result, None)
        per_pass = per_clip.float().reshape(repeat, -1).mean(dim=1)
        extras = {"tf_loss": per_pass[0].item()}  # comparable across the switch to self-rollout
        if passes:
            extras["rollout_loss"] = per_pass[-1].item()
        if adversary is None:
            return per_pass.mean(), extras
        bank_samples = None if adversary.bank is None else adversary.sample_from_bank(
            model.dynamics, len(clips), inputs.shape[1], rng, autocast)
        loss, judged = adversary.add_term(per_pass.mean(), samples, targets[:, -1], critic_lr, step, bank_samples)
        return loss, {**extras, **judged}

    return loss_fn


@torch.no_grad()
def self_rollout_inputs(model: WorldModel, inputs, actions, levels, conditions: dict, passes: int, rng,
                        autocast) -> torch.Tensor:
    """Stack the clip's inputs with `passes` variants where each frame's input is the model's own
    prediction of it from the previous variant (errors compounding one step deeper per pass; a flow
    head samples it at temperature 1). One batched forward with gradients then covers all
    variants, which DDP requires."""
    variants = [inputs]
    for _ in range(passes):
        noise = torch.from_numpy(rng.standard_normal(inputs.shape)).float()
        with autocast():
            predicted = model.dynamics.predict(variants[-1], actions, noise_level=levels, noise=noise,
                                               **conditions).float()
        variants.append(torch.cat([inputs[:, :1], predicted[:, :-1]], dim=1))
    return torch.cat(variants)


def flow_draws(rng, repeats: int, shape) -> dict:
    """Flow-matching draws for clips of `shape` (B, T, C, h, w): `repeats` (t, ε) per frame, drawn
    from the step's generator."""
    B, T, C, h, w = shape
    count = repeats * B * T
    return {"flow_t": torch.from_numpy(rng.uniform(0.0, 1.0, size=count)).float(),
            "flow_noise": torch.from_numpy(rng.standard_normal((count, C, h, w))).float()}
