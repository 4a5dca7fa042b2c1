"""The critics a training stage may add, built from the trainer's model, store and settings: the
head's critic on the dynamics' samples (train/head_adversary.py) and the decoder stage's critic on
free-running rollouts (train/rollout_bank.py), with the bank of the model's own rollouts both use.

Each takes the `Trainer` (train/trainer.py) whose stage it serves.
"""

from __future__ import annotations

import sys
from pathlib import Path

from vidgen_rt.errors import ConfigError, DataError
from vidgen_rt.machine import cpu_has_bf16
from vidgen_rt.train.batches import batch_rng
from vidgen_rt.train.checkpoint import load_optimizer_state, read_state, resolve_checkpoint
from vidgen_rt.train.head_adversary import HeadAdversary
from vidgen_rt.train.rollout_bank import BankAdversary, RolloutBank
from vidgen_rt.train.tokenizer_losses import TokenizerCritic


def check_critic_inputs(trainer) -> None:
    """Refuse, before a run writes anything, episodes too short for a critic's bank and a
    `train.head_critic_from` that holds no critic."""
    train, stages = trainer.config.train, trainer.stages
    if "decoder" in stages and train.decoder_steps and train.decoder_adv_weight:
        bank_episodes(trainer, train.decoder_rollout_frames, "train.decoder_rollout_frames", "train.decoder_adv_weight")
    if "dynamics" in stages and train.dynamics_steps and train.head_adv_weight:
        if train.head_adv_bank_weight:
            bank_episodes(trainer, train.head_adv_bank_frames, "train.head_adv_bank_frames",
                          "train.head_adv_bank_weight")
        if train.head_critic_from:
            trained_head_critic(train.head_critic_from)


def head_adversary(trainer) -> HeadAdversary | None:
    """The critic on the head's samples (train/head_adversary.py); None when train.head_adv_weight is 0.
    With train.head_adv_bank_weight > 0 it also judges samples from the model's own rollouts."""
    train = trainer.config.train
    if train.head_adv_weight <= 0:
        return None
    critic = TokenizerCritic(2 * trainer.config.model.tokenizer_width, train.head_critic_lr, trainer.world_size > 1)
    if train.head_critic_from and trainer.state["step"] == 0:   # a resumed run restores its own critic
        state, origin = trained_head_critic(train.head_critic_from)
        critic.load_state_dict(state)
        if not trainer.quiet:
            print(f"head critic from {origin}", file=sys.stderr)
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


def trained_head_critic(source: str) -> tuple[dict, Path]:
    """The teacher-forced samples' critic a run's dynamics stage saved with its optimizer state, and
    the checkpoint it came from. A finished run's last checkpoint keeps no optimizer state, so the
    newest checkpoint of the same run that does is taken.

    Why: a fresh critic on a fine-tuned world's samples stays at chance for about 300 steps, so a
    short fine-tune's term is noise for most of it (docs/model.md); the critic that trained beside
    the source world already tells its samples from real frames."""
    path = resolve_checkpoint(source)
    candidates = [path] + sorted((p for p in path.parent.iterdir() if p.name.startswith("dynamics-") and p != path),
                                 reverse=True)
    for candidate in candidates:
        if not (candidate / "optimizer.pt").is_file() or read_state(candidate).get("stage") != "dynamics":
            continue
        companion = load_optimizer_state(candidate).get("companion")
        if isinstance(companion, dict) and "weights" in companion:
            return {"weights": companion["weights"], "optimizer": companion["optimizer"]}, candidate
    raise ConfigError(f"train.head_critic_from={source}: neither {path} nor the checkpoints beside it hold a "
                      f"head critic (it must be a run whose dynamics stage trained with train.head_adv_weight > 0)")


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
