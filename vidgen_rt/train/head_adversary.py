"""A patch critic on the dynamics' own samples (`train.head_adv_weight` > 0, flow heads only).

Why: from true context the flow head's K-step samples of the shipped maze are barely more detailed
than its deterministic output (teacher-forced sharpness 0.70 at temperature 1 against 0.71 at 0;
the tokenizer's reconstructions 0.93; docs/model.md): flow matching fitted little more than the
mean, and the decoder cannot add what the latents lack. So the stage also decodes one K-step sample
per clip (the clip's last frame, drawn with gradient through the K Euler steps) and a patch critic
learns to tell it from the decoded true latents of that frame; its generator term, scaled by the
adaptive weight at the head's last layer, asks the head and the transformer under it for the detail
real frames carry, while flow matching keeps the sample on the true frame. The decoder is frozen:
the term changes what is sampled, not how it is drawn.

The critic is the tokenizer stage's (`TokenizerCritic`, train/tokenizer_losses.py): it trains from
the stage's first step, and its term joins the loss after `train.head_adv_start` of the steps.

Where samples and real frames differ in a few pixels only (Pong's ball on a flat field), the critic
never tells them apart; its term is then noise that the adaptive weight scales up to the size of the
flow loss's gradient, and it made a Pong world worse on every figure (docs/ale-worlds.md). So the
critic's recent hinge loss is kept, reported with the stage's metrics, and named in a warning when it
ends the stage at chance.

Teacher forcing shows the head true context only; a player's stream runs on its own samples, and the
critic's sharper samples came with long rollouts that drift darker (docs/model.md). With
`train.head_adv_bank_weight` > 0 the critic also judges samples drawn from free-running context:
runs of the model's own latents from a bank of rollouts built at the stage's start
(train/rollout_bank.py), through the transformer and head with gradient. Those contexts have no
true next frame, so only the critic judges them, against the decoded true frames of the batch.
The bank is not rebuilt as the model trains: it holds the drift of the model the stage started from.

`train.head_adv_bank_critic=own` gives the free-running samples a critic of their own, so each term
is judged by a critic that learns that kind of sample only. Measured on the maze, it did not help:
the teacher-forced critic stays at chance for about its first 300 steps whoever judges the other
samples, and the free-running term brought speckle either way (docs/model.md).
"""

from __future__ import annotations

import numpy as np
import torch

from vidgen_rt.model.heads import sample
from vidgen_rt.train.rollout_bank import RolloutBank
from vidgen_rt.train.tokenizer_losses import TokenizerCritic

# A critic that cannot tell samples from real frames scores both near 0: hinge loss 1.0. The maze's
# critic fell to 0.74-0.84; Pong's stayed at 0.995-1.017 and its term harmed the world.
CHANCE_CRITIC_LOSS = 0.98
RECENT_DECAY = 0.95   # the recent loss: an exponential average over about the last 20 steps


class HeadAdversary:
    def __init__(self, tokenizer: torch.nn.Module, head: torch.nn.Module, critic: TokenizerCritic, weight: float,
                 start_step: int, bank: RolloutBank | None = None, bank_weight: float = 0.0,
                 bank_critic: TokenizerCritic | None = None):
        """`bank_critic` judges the free-running samples; None shares `critic`."""
        self.tokenizer = tokenizer
        self.head = head
        self.critic = critic
        self.weight = weight
        self.start_step = start_step
        self.bank, self.bank_weight = bank, bank_weight
        self.bank_critic = bank_critic
        self.recent_critic_loss: float | None = None
        self.recent_bank_critic_loss: float | None = None

    @staticmethod
    def sample_noise(rng: np.random.Generator, clips: torch.Tensor) -> torch.Tensor:
        """The Gaussian the last frame of each clip (B, T, C, h, w) is sampled from, (B, C, h, w)."""
        return torch.from_numpy(rng.standard_normal((clips.shape[0], *clips.shape[2:]))).float()

    def add_term(self, supervised: torch.Tensor, samples: torch.Tensor, true_latents: torch.Tensor, lr: float,
                 step: int, bank_samples: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
        """One critic update on decoded `true_latents` against decoded `samples` (both (F, C, h, w)),
        then, from `start_step` on, `supervised` plus the weighted generator term; with `bank_samples`
        (from `sample_from_bank`) a second update and term on those, logged with a `bank_` prefix."""
        with torch.no_grad():
            real = self.tokenizer.decode(true_latents.float()).clamp(0.0, 1.0)
        loss, extras = self._judge(self.critic, supervised, real, samples, lr, self.weight, step)
        self.recent_critic_loss = _recent(self.recent_critic_loss, extras["critic_loss"])
        if bank_samples is not None:
            loss, from_bank = self._judge(self.bank_critic or self.critic, loss, real, bank_samples, lr,
                                          self.bank_weight, step)
            extras.update({f"bank_{key}": value for key, value in from_bank.items()})
            if self.bank_critic is not None:
                self.recent_bank_critic_loss = _recent(self.recent_bank_critic_loss, from_bank["critic_loss"])
        return loss, extras

    def _judge(self, critic, supervised, real, samples, lr, weight, step):
        fake = self.tokenizer.decode(samples.float()).clamp(0.0, 1.0)
        return critic.add_term(supervised, real, fake, lr, weight, self.head.output_weight,
                               active=step >= self.start_step)

    def state_dict(self) -> dict:
        """The critics' weights and optimizers, saved with the stage's optimizer state; a shared
        critic's state has the layout of the runs made before there could be two."""
        state = self.critic.state_dict()
        if self.bank_critic is not None:
            state["bank_critic"] = self.bank_critic.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        state = dict(state)
        bank_state = state.pop("bank_critic", None)
        if (bank_state is None) != (self.bank_critic is None):
            raise ValueError("the checkpoint's head critics do not match train.head_adv_bank_critic")
        self.critic.load_state_dict(state)
        if self.bank_critic is not None:
            self.bank_critic.load_state_dict(bank_state)

    def sample_from_bank(self, dynamics: torch.nn.Module, count: int, length: int, rng: np.random.Generator,
                         autocast) -> torch.Tensor:
        """Samples (count, C, h, w), with gradient, of the frame after `count` runs of `length` bank
        latents, drawn at the noise level 0 the step tells the model at inference."""
        windows, actions = self.bank.windows(rng, count, length)
        levels = torch.zeros(actions.shape) if dynamics.config.context_noise_embedding else None
        noise = torch.from_numpy(rng.standard_normal((count, *windows.shape[2:]))).float()
        with autocast():
            head_cond = dynamics(windows, actions, None, None, levels)[:, -1]
            return sample(dynamics.sampler, head_cond, noise.to(head_cond.dtype), dynamics.config.sampling_steps)

    def chance_warning(self) -> str | None:
        """What to tell the user when the critic ends the stage unable to tell samples from real frames."""
        if self.recent_critic_loss is None or self.recent_critic_loss < CHANCE_CRITIC_LOSS:
            return None
        shared_with_bank = self.bank is not None and self.bank_critic is None
        return (f"warning: the head's critic ended at chance (recent hinge loss {self.recent_critic_loss:.3f}, "
                f"1.0 is chance): it never told samples from real frames, so its term was noise. On worlds "
                f"whose frames differ in a few pixels (small objects on flat ground) train without it: "
                f"--set train.head_adv_weight=0"
                + ("; here the free-running samples (train.head_adv_bank_weight) may have taken the critic: "
                   "give them their own with --set train.head_adv_bank_critic=own" if shared_with_bank else ""))


def _recent(recent: float | None, latest: float) -> float:
    return latest if recent is None else RECENT_DECAY * recent + (1 - RECENT_DECAY) * latest
