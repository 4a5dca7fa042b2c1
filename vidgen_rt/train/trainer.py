"""The training loop: tokenizer first, then the dynamics model, one readable loop for every stage.

Stage `tokenizer` fits the frame autoencoder (MSE + image-gradient term, and after
`tokenizer_adv_start` of its steps a patch critic's adversarial term: train/tokenizer_losses.py).
Stage `dynamics` freezes it, encodes the whole store once, and fits the frame-causal transformer and
its head on latent clips with drift control (train/dynamics_stage.py). Stage `decoder` (optional)
tunes the decoder on the dynamics' own samples (train/decoder_stage.py). What a run starts from, the
store's checks and `--init-from`, is train/run_setup.py; the critics a stage adds, train/critics.py.

Runs on one process or under `torchrun` with DDP (gloo on CPU, NCCL on GPUs). Batches are pure
functions of (seed, stage, step, rank) and checkpoints hold weights + optimizer state, so a run
killed at any point and resumed with `resume=True` reproduces the uninterrupted run's losses.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from vidgen_rt.config import Config, from_dict
from vidgen_rt.data.store import UNCONDITIONAL_ACTIONS, EpisodeStore
from vidgen_rt.errors import CheckpointError
from vidgen_rt.machine import cpu_has_bf16
from vidgen_rt.metrics.sharpness import sharpness
from vidgen_rt.model.world_model import WorldModel, frames_to_tensor
from vidgen_rt.train import checkpoint as ckpt
from vidgen_rt.train.batches import (ClipSampler, EpisodeSplit, FrameSampler, batch_rng, episode_actions,
                                     target_conditions)
from vidgen_rt.train.critics import bank_adversary, check_critic_inputs, head_adversary
from vidgen_rt.train.decoder_stage import (SampleDecoder, decoded_sample_figures, decoder_loss_fn,
                                           freeze_all_but_decoder)
from vidgen_rt.train.dynamics_stage import dynamics_loss_fn
from vidgen_rt.train.objective import DynamicsObjective
from vidgen_rt.train.run_setup import check_store_matches, init_from_source, with_store_conditions, world_of_source
from vidgen_rt.train.tokenizer_losses import TokenizerCritic, reconstruction_loss

STAGES = ("tokenizer", "dynamics", "decoder")


class Trainer:
    def __init__(self, config: Config, data_dir: Path, run_dir: Path, stages=STAGES,
                 resume: bool = False, init_from: str | None = None, quiet: bool = False):
        self.run_dir, self.stages = Path(run_dir), tuple(stages)
        self.rank, self.world_size = _init_distributed()
        self.quiet = quiet or self.rank != 0
        torch.manual_seed(config.train.seed)
        self.store = EpisodeStore.open(data_dir)
        self.store.require_nonempty()
        check_store_matches(self.store, config)
        config = with_store_conditions(self.store, config)
        self.config = config
        self.split = EpisodeSplit(self.store, config.train.sequence_frames)
        self.model = WorldModel(config.model)
        source = str(self.store.meta.get("source", ""))
        self.state = {"stage": self.stages[0], "step": 0, "train_seconds": 0.0, "data": str(data_dir),
                      "world": world_of_source(source),
                      "action_names": self.store.action_names or list(UNCONDITIONAL_ACTIONS),
                      "guide_names": self.store.guide_names,
                      "completed": [], "metrics": {}}
        self.optimizer_state = None
        self._validation_clips = None
        if resume:
            self._resume()
        elif init_from:
            self.state.update(init_from_source(self.model, config, init_from, self.stages, self.quiet))
        check_critic_inputs(self)   # before anything is written
        if self.rank == 0:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            ckpt.write_json_atomic(self.run_dir / "config.json", config.to_dict())

    def _resume(self) -> None:
        path = ckpt.resolve_checkpoint(self.run_dir)
        state = ckpt.read_state(path)
        # Through from_dict, so a run saved before a setting existed compares with that setting's default.
        if from_dict(state["config"]).to_dict() != self.config.to_dict():
            raise CheckpointError(f"{path}: saved config differs from the requested one; "
                                  f"resume with the same preset and overrides")
        ckpt.load_weights(self.model, path / "model.safetensors")
        self.state = {k: v for k, v in state.items() if k not in ("format", "format_version", "config")}
        if (path / "optimizer.pt").exists():
            self.optimizer_state = ckpt.load_optimizer_state(path)
        self._truncate_log()

    def _truncate_log(self) -> None:
        """Drop log lines written after the checkpoint we resume from; they will be recomputed."""
        log = self.run_dir / "log.jsonl"
        if self.rank != 0 or not log.exists():
            return
        keep, order = [], STAGES.index(self.state["stage"])
        for line in log.read_text().splitlines():
            entry = json.loads(line)
            earlier_stage = STAGES.index(entry["stage"]) < order
            if earlier_stage or (entry["stage"] == self.state["stage"] and entry["step"] < self.state["step"]):
                keep.append(line)
        tmp = log.with_suffix(".tmp")
        tmp.write_text("".join(line + "\n" for line in keep))
        os.replace(tmp, log)

    def run(self) -> dict:
        for stage in self.stages:
            if stage in self.state["completed"] or self._total(stage) == 0:  # decoder_steps 0: skipped
                continue
            if self.state["stage"] != stage:
                self.state.update(stage=stage, step=0)
                self.optimizer_state = None
            {"tokenizer": self._train_tokenizer, "dynamics": self._train_dynamics,
             "decoder": self._train_decoder}[stage]()
            self.state["completed"].append(stage)
            self._checkpoint(optimizer=None)
        if self.world_size > 1:
            self.state["ddp"] = self._compare_ranks()
            self._checkpoint(optimizer=None)
        return self.state

    def _compare_ranks(self) -> dict:
        """All ranks must end with bit-identical weights; a divergence is a bug, not a warning."""
        digest = hashlib.sha256()
        for name, tensor in sorted(self.model.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().contiguous().numpy().tobytes())
        mine = torch.frombuffer(bytearray(digest.digest()), dtype=torch.uint8)
        gathered = [torch.empty_like(mine) for _ in range(self.world_size)]
        dist.all_gather(gathered, mine)
        identical = all(torch.equal(g, gathered[0]) for g in gathered)
        if not identical:
            raise RuntimeError("DDP ranks ended with different weights")
        return {"world_size": self.world_size, "weights_identical": identical, "digest": digest.hexdigest()}

    # ---------------------------------------------------------------- shared loop machinery

    def _loop(self, stage: str, module: torch.nn.Module, total_steps: int, lr: float, loss_fn, frames_per_step: int,
              companion=None):
        """`companion` (state_dict / load_state_dict), e.g. the tokenizer's critic, is saved and resumed
        inside this stage's optimizer state."""
        train = self.config.train
        wrapped = DistributedDataParallel(module) if self.world_size > 1 else module
        optimizer = torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=train.weight_decay,
                                      betas=(0.9, 0.95))
        if companion is not None:
            _carry_in_optimizer_state(optimizer, companion)
        if self.optimizer_state is not None:
            optimizer.load_state_dict(self.optimizer_state)
            self.optimizer_state = None
        start = self.state["step"]
        bar = tqdm(total=total_steps, initial=start, desc=stage, unit="step", disable=self.quiet,
                   dynamic_ncols=True)
        for step in range(start, total_steps):
            if self._over_budget():
                self.state["stopped_early"] = {"stage": stage, "step": step}
                break
            began = time.perf_counter()
            for group in optimizer.param_groups:
                group["lr"] = lr * _schedule(step, total_steps, train.warmup_steps)
            loss, extras = loss_fn(wrapped, batch_rng(train.seed, stage, step, self.rank))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(module.parameters(), train.grad_clip)
            optimizer.step()
            elapsed = time.perf_counter() - began
            self.state["train_seconds"] += elapsed
            self.state["step"] = step + 1
            self._after_step(stage, step, loss.item(), extras, elapsed, frames_per_step, bar, optimizer, module)
        bar.close()

    def _after_step(self, stage, step, loss, extras, elapsed, frames_per_step, bar, optimizer, module):
        train = self.config.train
        fps = frames_per_step * self.world_size / max(elapsed, 1e-9)
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.5f}", fps=f"{fps:.0f}")
        if step % train.log_every == 0 or step + 1 == self._total(stage):
            self._log({"stage": stage, "step": step, "loss": loss, "frames_per_s": round(fps, 1), **extras})
        if (step + 1) % train.eval_every == 0 and step + 1 < self._total(stage):
            self._log({"stage": stage, "step": step, **self._validate(stage)})
        if (step + 1) % train.checkpoint_every == 0 and step + 1 < self._total(stage):
            self._checkpoint(optimizer)

    def _over_budget(self) -> bool:
        """Ranks agree on the decision (rank 0's clock), so DDP never deadlocks on a lone rank."""
        budget = self.config.train.max_minutes
        if budget <= 0:
            return False
        over = torch.tensor([float(self.state["train_seconds"] > budget * 60)])
        if self.world_size > 1:
            dist.broadcast(over, src=0)
        return bool(over.item())

    def _total(self, stage: str) -> int:
        return getattr(self.config.train, f"{stage}_steps")

    def _log(self, entry: dict) -> None:
        if self.rank != 0:
            return
        with open(self.run_dir / "log.jsonl", "a") as handle:
            handle.write(json.dumps(entry) + "\n")

    def _checkpoint(self, optimizer) -> None:
        if self.rank == 0:
            ckpt.save_run_checkpoint(self.run_dir, self.model, self.config, dict(self.state), optimizer)
        if self.world_size > 1:
            dist.barrier()

    def _autocast(self):
        enabled = self.config.train.bf16 and cpu_has_bf16()
        return torch.autocast("cpu", dtype=torch.bfloat16) if enabled else nullcontext()

    # ---------------------------------------------------------------- stage 1: tokenizer

    def _train_tokenizer(self) -> None:
        train = self.config.train
        sampler = FrameSampler(self.store, self.split.train)
        self.model.tokenizer.train()
        critic = None
        if train.tokenizer_adv_weight > 0:
            critic = TokenizerCritic(2 * self.config.model.tokenizer_width, train.tokenizer_lr, self.world_size > 1)
        adversarial_from = int(train.tokenizer_adv_start * train.tokenizer_steps)

        def loss_fn(tokenizer, rng):
            frames = frames_to_tensor(sampler.sample(rng, train.tokenizer_batch_size))
            with self._autocast():
                reconstruction = tokenizer(frames).float()
            loss = reconstruction_loss(reconstruction, frames, train.tokenizer_edge_weight,
                                       train.tokenizer_detail_weight)
            step = self.state["step"]
            if critic is None:
                return loss, {}
            # The critic trains from the first step, so the decoder's term starts against one that
            # already tells reconstructions from real frames, not against noise.
            lr = train.tokenizer_lr * _schedule(step, train.tokenizer_steps, train.warmup_steps)
            rec_loss = loss.item()
            loss, extras = critic.add_term(loss, frames, reconstruction, lr, train.tokenizer_adv_weight,
                                           self.model.tokenizer.last_layer, active=step >= adversarial_from)
            return loss, {"rec_loss": rec_loss, **extras}

        self._loop("tokenizer", self.model.tokenizer, train.tokenizer_steps, train.tokenizer_lr, loss_fn,
                   train.tokenizer_batch_size, companion=critic)
        validation = self._validate("tokenizer")
        self.state["metrics"].update(tokenizer_psnr=validation["val_psnr"],
                                     tokenizer_sharpness=validation["val_sharpness"])

    # ---------------------------------------------------------------- stage 2: dynamics

    def clip_sampler(self, indices, encode: bool = True, length: int | None = None) -> ClipSampler:
        """Encode the episodes once (the tokenizer is frozen by now) and sample clips of `length` frames
        (default train.sequence_frames) from them; with `encode` off, clips of frames instead (the
        decoder stage encodes its own)."""
        self.model.tokenizer.eval()
        latents, frames, actions, conds, guides = [], [], [], [], []
        for i in tqdm(indices, desc="encode", unit="episode", disable=self.quiet or not encode):
            episode = self.store.episode(i)
            if encode:
                latents.append(self.model.encode_frames(episode.frames))
            else:
                frames.append(episode.frames)
            actions.append(episode_actions(self.store, i, self.config.model.n_actions))
            conds.append(episode.cond)
            guides.append(episode.guide)
        return ClipSampler(latents or None, actions, length or self.config.train.sequence_frames,
                           conds=conds if self.config.model.cond_dim else None,
                           guides=guides if self.config.model.guide_channels else None,
                           guide_names=self.store.guide_names, frames=frames or None)

    def _train_dynamics(self) -> None:
        train = self.config.train
        for p in self.model.tokenizer.parameters():
            p.requires_grad_(False)
        sampler = self.clip_sampler(self.split.train)
        self.model.dynamics.train()
        adversary = head_adversary(self)

        def progress() -> tuple[int, float]:
            step = self.state["step"]
            return step, train.head_critic_lr * _schedule(step, train.dynamics_steps, train.warmup_steps)

        loss_fn = dynamics_loss_fn(self.model, sampler, self.config, self._autocast, adversary, progress)
        self._loop("dynamics", DynamicsObjective(self.model.dynamics), train.dynamics_steps, train.dynamics_lr,
                   loss_fn, train.batch_size * (train.sequence_frames - 1),
                   companion=adversary)
        self.state["metrics"].update(self._validate("dynamics"))
        if adversary is not None and adversary.recent_critic_loss is not None:
            self.state["metrics"]["head_critic_loss"] = round(adversary.recent_critic_loss, 4)
            if adversary.recent_bank_critic_loss is not None:
                self.state["metrics"]["head_bank_critic_loss"] = round(adversary.recent_bank_critic_loss, 4)
            warning = adversary.chance_warning()
            if warning and self.rank == 0:
                print(warning, file=sys.stderr)

    # ---------------------------------------------------------------- stage 3: decoder (optional)

    def _train_decoder(self) -> None:
        train = self.config.train
        freeze_all_but_decoder(self.model)
        sampler = self.clip_sampler(self.split.train, encode=False)
        self.model.dynamics.eval()
        adversary = bank_adversary(self) if train.decoder_adv_weight > 0 else None
        if self.state["step"] == 0:  # the figures the stage starts from, beside its final ones
            before = self._decoded_sample_figures()
            if adversary is not None:
                before["decoded_rollout_sharpness"] = adversary.bank.decoded_sharpness(self.model)
            self._log({"stage": "decoder", "step": 0, "before": True, **before})
        self.model.tokenizer.train()

        def progress() -> tuple[int, float]:
            step = self.state["step"]
            return step, train.decoder_critic_lr * _schedule(step, train.decoder_steps, train.warmup_steps)

        loss_fn = decoder_loss_fn(self.model, sampler, train, self._autocast, adversary, progress)
        self._loop("decoder", SampleDecoder(self.model), train.decoder_steps, train.decoder_lr, loss_fn,
                   train.decoder_batch_size * (train.sequence_frames - 1),
                   companion=None if adversary is None else adversary.critic)
        validation = self._validate("decoder")
        if adversary is not None:
            self.model.eval()
            validation["decoded_rollout_sharpness"] = adversary.bank.decoded_sharpness(self.model)
        self.state["metrics"].update(tokenizer_psnr=validation.pop("val_psnr"),
                                     tokenizer_sharpness=validation.pop("val_sharpness"), **validation)

    def _decoded_sample_figures(self) -> dict:
        """decoder_stage.decoded_sample_figures on 16 fixed validation clips."""
        was_training = self.model.training
        self.model.eval()
        sampler = self.clip_sampler(self.split.validation or self.split.train[:1], encode=False)
        batch = sampler.sample(batch_rng(0, "validation", 0), 16)
        figures = decoded_sample_figures(self.model, batch, batch_rng(0, "validation", 1), target_conditions(batch))
        self.model.train(was_training)
        return figures

    # ---------------------------------------------------------------- validation

    @torch.no_grad()
    def _validate(self, stage: str) -> dict:
        indices = self.split.validation or self.split.train[:1]
        was_training = self.model.training
        self.model.eval()
        if stage == "decoder":
            result = {**self._validate("tokenizer"), **self._decoded_sample_figures()}
        elif stage == "tokenizer":
            frames = FrameSampler(self.store, indices).sample(batch_rng(0, "validation", 0), 64)
            recon = self.model.decode_latents(self.model.encode_frames(frames))
            mse = ((recon.astype("float64") - frames) ** 2).mean()
            result = {"val_psnr": round(10 * math.log10(255.0 ** 2 / max(mse, 1e-10)), 3),
                      "val_sharpness": round(sharpness(recon, frames), 4)}
        else:
            if self._validation_clips is None:  # the tokenizer is frozen by now: encode once
                self._validation_clips = self.clip_sampler(indices).sample(batch_rng(0, "validation", 0), 16)
            batch = self._validation_clips
            clips = batch.latents
            # A flow head's deterministic output (temperature 0), so every head reports the same figure.
            predicted = self.model.dynamics.predict(clips[:, :-1], batch.actions[:, :-1], **target_conditions(batch))
            result = {"val_latent_mse": round(F.mse_loss(predicted, clips[:, 1:]).item(), 6)}
        self.model.train(was_training)
        return result


def _carry_in_optimizer_state(optimizer: torch.optim.Optimizer, companion) -> None:
    """Make `optimizer.state_dict()` hold `companion`'s state too, and loading it restore both."""

    def save(_, state: dict) -> dict:
        return {**state, "companion": companion.state_dict()}

    def load(_, state: dict) -> dict:
        companion.load_state_dict(state.pop("companion"))
        return state

    optimizer.register_state_dict_post_hook(save)
    optimizer.register_load_state_dict_pre_hook(load)


def _schedule(step: int, total: int, warmup: int) -> float:
    """Linear warm-up, then cosine decay to 10 % of the peak rate."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def _init_distributed() -> tuple[int, int]:
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if world_size > 1:
        return dist.get_rank(), dist.get_world_size()
    return 0, 1

