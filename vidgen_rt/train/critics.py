"""The critics a training stage may add, built from the trainer's model, store and settings: the
head's critic on the dynamics' samples (train/head_adversary.py) and the decoder stage's critic on
free-running rollouts (train/rollout_bank.py), with the bank of the model's own rollouts both use.

Each takes the `Trainer` (train/trainer.py) whose stage it serves.
"""

from __future__ import annotations

from vidgen_rt.errors import ConfigError, DataError
from vidgen_rt.machine import cpu_has_bf16
from vidgen_rt.train.batches import batch_rng
from vidgen_rt.train.head_adversary import HeadAdversary
from vidgen_rt.train.rollout_bank import BankAdversary, RolloutBank
from vidgen_rt.train.tokenizer_losses import TokenizerCritic


def head_adversary(trainer) -> HeadAdversary | None:
    """The critic on the head's samples (train/head_adversary.py); None when train.head_adv_weight is 0.
    With train.head_adv_bank_weight > 0 it also judges samples from the model's own rollouts."""
    train = trainer.config.train
    if train.head_adv_weight <= 0:
        return None
    critic = TokenizerCritic(2 * trainer.config.model.tokenizer_width, train.head_critic_lr, trainer.world_size > 1)
    bank = None
    if train.head_adv_bank_weight > 0:
        if trainer.world_size > 1 or trainer.config.model.cond_dim or trainer.config.model.guide_channels:
            raise ConfigError("train.head_adv_bank_weight runs on one process, for worlds without cond "
                              "vectors or guide maps; set it to 0 here")
        bank = rollout_bank(trainer, "head_bank", train.head_adv_bank_frames, "train.head_adv_bank_frames",
                            "train.head_adv_bank_weight")
    bank_critic = None
    if bank is not None and train.head_adv_bank_critic == "own":
        bank_critic = TokenizerCritic(2 * trainer.config.model.tokenizer_width, train.head_critic_lr, False)
    return HeadAdversary(trainer.model.tokenizer, trainer.model.dynamics.sampler, critic, train.head_adv_weight,
                         int(train.head_adv_start * train.dynamics_steps), bank, train.head_adv_bank_weight,
                         bank_critic)


def bank_adversary(trainer) -> BankAdversary:
    """The critic and the free-running bank it judges (train/rollout_bank.py), the bank rolled out
    from training episodes long enough for window + train.decoder_rollout_frames frames."""
    train = trainer.config.train
    bank = rollout_bank(trainer, "decoder_bank", train.decoder_rollout_frames, "train.decoder_rollout_frames",
                        "train.decoder_adv_weight")
    critic = TokenizerCritic(2 * trainer.config.model.tokenizer_width, train.decoder_critic_lr, trainer.world_size > 1)
    return BankAdversary(bank, critic, train.decoder_adv_weight, int(train.decoder_adv_start * train.decoder_steps),
                         trainer.model.tokenizer.last_layer)


def rollout_bank(trainer, name: str, frames: int, frames_option: str, weight_option: str) -> RolloutBank:
    """The model's own rollouts of `frames` frames from training clips, at the stage's start."""
    train = trainer.config.train
    trainer.model.tokenizer.eval()
    was_training = trainer.model.dynamics.training
    trainer.model.dynamics.eval()
    sampler = trainer.clip_sampler(bank_episodes(trainer, frames, frames_option, weight_option), encode=False,
                                   length=trainer.config.model.window + frames)
    precision = "bf16" if train.bf16 and cpu_has_bf16() else "fp32"
    bank = RolloutBank.generate(trainer.model, sampler, batch_rng(train.seed, name, 0), frames, precision,
                                quiet=trainer.quiet)
    trainer.model.dynamics.train(was_training)
    return bank


def bank_episodes(trainer, frames: int, frames_option: str, weight_option: str) -> list[int]:
    """Training episodes long enough for a bank's rollouts (window + `frames`)."""
    length = trainer.config.model.window + frames
    lengths = trainer.store.episode_lengths()
    long_enough = [i for i in trainer.split.train if lengths[i] >= length]
    if not long_enough:
        raise DataError(f"the free-running bank needs training episodes of {length} frames "
                        f"(window + {frames_option}); the longest has "
                        f"{max(lengths[i] for i in trainer.split.train)}: lower {frames_option} "
                        f"or set {weight_option}=0")
    return long_enough
