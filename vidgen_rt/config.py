"""Configuration: dataclasses with defaults, named presets, and strict overrides.

A `Config` holds the model shape (`ModelConfig`) and the training schedule (`TrainConfig`). Presets
are looked up by name (`tiny`, `small`, `medium`); overrides come from the command line as
`section.key=value`. An unknown preset, section or key, a value of the wrong type, or a number
outside its field's range (NaN, inf, a negative learning rate, a zero batch size: `RANGES`) raises
`ConfigError` when the config is built, before any stage runs. The resolved config is saved inside
every checkpoint so any artifact says how it was made.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field

from vidgen_rt.errors import ConfigError

# Sampling heads (docs/architecture.md §3): "mse" regresses the next latents (the mean of the frames
# that could come next); the flow heads sample them from noise by flow matching in K Euler steps.
HEADS = ("mse", "flow_mlp", "flow_conv")
BANK_CRITICS = ("shared", "own")   # train.head_adv_bank_critic (train/head_adversary.py)
MAX_SAMPLING_STEPS = 8


@dataclass
class ModelConfig:
    frame_height: int = 64
    frame_width: int = 64
    downsample: int = 8          # tokenizer factor f: an H×W frame becomes (H/f)×(W/f) latent tokens
    latent_channels: int = 16    # C: channels per latent cell
    token_patch: int = 1         # p: p×p latent cells merge into one transformer token (fewer, wider tokens)
    tokenizer_width: int = 16    # channels of the tokenizer's first convolution, doubled per stage
    d_model: int = 256
    n_layers: int = 6
    n_heads: int = 8
    mlp_ratio: int = 4
    window: int = 16             # m: frames a token sees, its own included; the cache holds m-1
    n_actions: int = 7
    cond_dim: int = 0            # continuous condition per frame (camera/head pose); 0 = none
    guide_channels: int = 0      # guide map channels per frame (depth, flow, ids); 0 = none
    head: str = "mse"            # what turns the transformer's output into next latents (HEADS)
    sampling_steps: int = 4      # K: Euler steps of a flow head; the runtime may pick 1..MAX_SAMPLING_STEPS
    context_noise_embedding: bool = False  # the transformer is told each context frame's noise level
    context_noise_level: float = 0.0       # the level a step tells it at inference (no noise is added)

    @property
    def latent_height(self) -> int:
        return self.frame_height // self.downsample

    @property
    def latent_width(self) -> int:
        return self.frame_width // self.downsample

    @property
    def tokens_per_frame(self) -> int:
        return (self.latent_height // self.token_patch) * (self.latent_width // self.token_patch)

    @property
    def token_channels(self) -> int:
        """Latent values one token carries: C·p²."""
        return self.latent_channels * self.token_patch ** 2

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def cache_slots(self) -> int:
        return self.window - 1


@dataclass
class TrainConfig:
    seed: int = 0
    batch_size: int = 8                  # clips per dynamics step
    tokenizer_batch_size: int = 32       # frames per tokenizer step
    tokenizer_steps: int = 3000
    tokenizer_lr: float = 2e-3
    tokenizer_edge_weight: float = 0.5   # weight of the image-gradient term that keeps walls sharp
    tokenizer_detail_weight: float = 0.0  # patch gradient-energy term (tokenizer_losses.detail_loss)
    tokenizer_adv_weight: float = 0.0    # patch critic's term, × the adaptive weight (0 = MSE + edge only)
    tokenizer_adv_start: float = 0.25    # fraction of tokenizer steps before the decoder's adversarial
                                         # term starts (the critic itself trains from step 0)
    dynamics_steps: int = 2000
    dynamics_lr: float = 1e-3
    decoder_steps: int = 0               # stage `decoder` (train/decoder_stage.py): the decoder tuned on
                                         # the dynamics' own samples after the dynamics; 0 = skipped
    decoder_lr: float = 2e-4
    decoder_batch_size: int = 4          # clips of sequence_frames per decoder step
    decoder_detail_weight: float = 4.0   # detail term on decoded samples and reconstructions
    decoder_truth_weight: float = 1.0    # weight of the term that keeps the tokenizer's reconstructions
    decoder_adv_weight: float = 0.0      # patch critic on decoded free-running latents, × the adaptive
                                         # weight (train/rollout_bank.py); 0 = off
    decoder_adv_start: float = 0.1       # fraction of decoder steps in which only the critic trains
    decoder_critic_lr: float = 1e-3      # the critic's peak learning rate (it follows the stage's schedule)
    decoder_rollout_frames: int = 128    # length of the free-running rollouts the critic judges
    head_adv_weight: float = 0.0         # dynamics stage, flow heads: patch critic on decoded K-step samples
                                         # of the true next frame, × the adaptive weight
                                         # (train/head_adversary.py); 0 = off
    head_adv_start: float = 0.1          # fraction of dynamics steps in which only that critic trains
    head_critic_lr: float = 1e-3         # its peak learning rate (it follows the stage's schedule)
    head_adv_bank_weight: float = 0.0    # the same critic also judges samples drawn from free-running context
                                         # (a bank of the model's own rollouts), × the adaptive weight; 0 = off
    head_adv_bank_frames: int = 128      # length of those rollouts
    head_adv_bank_critic: str = "shared" # who judges them: "shared" (the teacher-forced samples' critic)
                                         # or "own" (a second critic for free-running samples only)
    head_critic_from: str = ""           # a run or checkpoint whose dynamics stage trained a head critic:
                                         # start the critic from it instead of from scratch; "" = scratch
    warmup_steps: int = 100
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    sequence_frames: int = 17            # frames per clip: inputs span the whole window, every lag
    context_noise: float = 0.1           # max std of Gaussian noise on context latents (drift control)
    flow_repeats: int = 4                # flow-matching draws (t, noise) per predicted frame: the head
                                         # is cheap next to the transformer whose output they share
    rollout_start: float = 0.6           # fraction of dynamics steps after which self-rollout begins
    rollout_passes: int = 0              # extra passes fed with the model's own predictions (off by
                                         # default: docs/ale-worlds.md, drift-control ablation)
    bf16: bool = True                    # autocast matmuls to bfloat16 on CPUs that support it
    max_minutes: float = 0.0             # wall-clock budget for the whole run, an --init-from source's
                                         # minutes included; 0 = none
    eval_every: int = 500
    checkpoint_every: int = 250
    log_every: int = 10


@dataclass
class Config:
    preset: str = "small"
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def _tiny() -> Config:
    return Config(
        preset="tiny",
        model=ModelConfig(frame_height=32, frame_width=32, latent_channels=8, tokenizer_width=8,
                          d_model=64, n_layers=2, n_heads=4, window=6),
        train=TrainConfig(batch_size=8, tokenizer_batch_size=16, tokenizer_steps=150, dynamics_steps=150,
                          warmup_steps=10, sequence_frames=10, eval_every=100, checkpoint_every=50,
                          log_every=5, tokenizer_lr=3e-3, dynamics_lr=2e-3),
    )


def _small() -> Config:
    # 2×2 latent cells per token: 16 tokens per frame instead of 64 make training ~6× and the step
    # ~4× cheaper on a CPU (docs/performance.md, attempt 5).
    return Config(preset="small", model=ModelConfig(token_patch=2))


def _medium() -> Config:
    return Config(
        preset="medium",
        model=ModelConfig(frame_height=128, frame_width=128, latent_channels=16, tokenizer_width=32,
                          d_model=512, n_layers=12, n_heads=8, window=16),
        train=TrainConfig(batch_size=32, tokenizer_batch_size=64, tokenizer_steps=20000,
                          dynamics_steps=100000),
    )


PRESETS = {"tiny": _tiny, "small": _small, "medium": _medium}


def preset(name: str) -> Config:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; expected one of {sorted(PRESETS)}")
    return PRESETS[name]()


def _coerce(value, current, where: str):
    """Convert `value` (a CLI string or a JSON value) to the type of the field's current value."""
    expected = type(current)
    if isinstance(value, str) and expected is not str:
        text = value.strip().lower()
        try:
            if expected is bool:
                if text not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(text)
                return text in ("true", "1", "yes")
            return expected(value)
        except ValueError:
            raise ConfigError(f"{where}: expected {expected.__name__}, got {value!r}") from None
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(value) is not expected:
        raise ConfigError(f"{where}: expected {expected.__name__}, got {type(value).__name__} {value!r}")
    return value


def apply_overrides(config: Config, overrides: list[str]) -> Config:
    """Apply `section.key=value` strings, e.g. `model.d_model=128` or `train.batch_size=4`."""
    for item in overrides:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise ConfigError(f"override {item!r}: expected section.key=value, e.g. train.batch_size=8")
        dotted, value = item.split("=", 1)
        section_name, key = dotted.split(".", 1)
        set_field(config, section_name, key, value)
    validate(config)
    return config


def set_field(config: Config, section_name: str, key: str, value) -> None:
    if section_name not in ("model", "train"):
        raise ConfigError(f"unknown config section {section_name!r}; expected 'model' or 'train'")
    section = getattr(config, section_name)
    names = {f.name for f in dataclasses.fields(section)}
    if key not in names:
        raise ConfigError(f"unknown config key {section_name}.{key}; known keys: {sorted(names)}")
    setattr(section, key, _coerce(value, getattr(section, key), f"{section_name}.{key}"))


def from_dict(data: dict, where: str = "config") -> Config:
    """Rebuild a config saved by `to_dict`, rejecting unknown keys and wrong types."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected an object, got {type(data).__name__}")
    unknown = set(data) - {"preset", "model", "train"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    config = Config(preset=str(data.get("preset", "custom")))
    for section_name in ("model", "train"):
        section = data.get(section_name, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{where}.{section_name}: expected an object")
        for key, value in section.items():
            set_field(config, section_name, key, value)
    validate(config)
    return config


_POSITIVE = (lambda v: v > 0, "> 0")
_NON_NEGATIVE = (lambda v: v >= 0, ">= 0")
_FRACTION = (lambda v: 0 <= v <= 1, "within 0..1")

# The allowed range of every numeric field; a field missing here is a test failure
# (tests/test_config.py), so a new setting cannot skip validation.
RANGES = {
    "model": {
        **dict.fromkeys(("frame_height", "frame_width", "downsample", "latent_channels", "token_patch",
                         "tokenizer_width", "d_model", "n_layers", "n_heads", "mlp_ratio", "n_actions"), _POSITIVE),
        "window": (lambda v: v >= 2, ">= 2"),
        **dict.fromkeys(("cond_dim", "guide_channels"), _NON_NEGATIVE),
        "sampling_steps": (lambda v: 1 <= v <= MAX_SAMPLING_STEPS, f"within 1..{MAX_SAMPLING_STEPS}"),
        "context_noise_level": _FRACTION,
    },
    "train": {
        **dict.fromkeys(("batch_size", "tokenizer_batch_size", "tokenizer_steps", "dynamics_steps", "tokenizer_lr",
                         "dynamics_lr", "grad_clip", "eval_every", "checkpoint_every", "log_every",
                         "flow_repeats", "decoder_lr", "decoder_batch_size", "decoder_rollout_frames",
                         "decoder_critic_lr", "head_critic_lr", "head_adv_bank_frames"), _POSITIVE),
        **dict.fromkeys(("seed", "tokenizer_edge_weight", "tokenizer_detail_weight", "tokenizer_adv_weight",
                         "warmup_steps", "weight_decay", "context_noise", "rollout_passes", "max_minutes",
                         "decoder_steps", "decoder_detail_weight", "decoder_truth_weight", "decoder_adv_weight",
                         "head_adv_weight", "head_adv_bank_weight"), _NON_NEGATIVE),
        "sequence_frames": (lambda v: v >= 2, ">= 2"),
        **dict.fromkeys(("rollout_start", "tokenizer_adv_start", "decoder_adv_start", "head_adv_start"), _FRACTION),
    },
}


def _check_ranges(config: Config) -> None:
    for section_name, rules in RANGES.items():
        section = getattr(config, section_name)
        for key, (valid, expected) in rules.items():
            value = getattr(section, key)
            kind = "an integer" if isinstance(value, int) else "a finite number"
            if isinstance(value, float) and not math.isfinite(value) or not valid(value):
                raise ConfigError(f"{section_name}.{key} = {value!r}: expected {kind} {expected}")


def validate(config: Config) -> None:
    _check_ranges(config)
    m = config.model
    if m.head not in HEADS:
        raise ConfigError(f"model.head = {m.head!r}: expected one of {', '.join(HEADS)}")
    if config.train.head_adv_weight > 0 and m.head == "mse":
        raise ConfigError("train.head_adv_weight > 0 judges a sampling head's samples: it needs model.head "
                          "flow_mlp or flow_conv, not mse")
    if config.train.head_adv_bank_weight > 0 and config.train.head_adv_weight <= 0:
        raise ConfigError("train.head_adv_bank_weight > 0 adds a term to the head's critic: set "
                          "train.head_adv_weight > 0 too")
    if config.train.head_adv_bank_weight > 0 and config.train.head_adv_bank_frames < config.train.sequence_frames:
        raise ConfigError(f"train.head_adv_bank_frames ({config.train.head_adv_bank_frames}) must be at least "
                          f"train.sequence_frames ({config.train.sequence_frames}): the critic's contexts are "
                          f"runs of generated frames")
    if config.train.head_critic_from and config.train.head_adv_weight <= 0:
        raise ConfigError("train.head_critic_from starts the head's critic from a run: set "
                          "train.head_adv_weight > 0 too")
    if config.train.head_adv_bank_critic not in BANK_CRITICS:
        raise ConfigError(f"train.head_adv_bank_critic = {config.train.head_adv_bank_critic!r}: expected one of "
                          f"{', '.join(BANK_CRITICS)}")
    if m.frame_height % m.downsample or m.frame_width % m.downsample:
        raise ConfigError(f"model.frame_height/frame_width ({m.frame_height}x{m.frame_width}) "
                          f"must be multiples of model.downsample ({m.downsample})")
    if m.downsample & (m.downsample - 1):
        raise ConfigError(f"model.downsample must be a power of two, got {m.downsample}")
    if m.latent_height % m.token_patch or m.latent_width % m.token_patch:
        raise ConfigError(f"model.token_patch ({m.token_patch}) must divide the latent grid "
                          f"({m.latent_width}x{m.latent_height} cells)")
    if m.d_model % m.n_heads:
        raise ConfigError(f"model.d_model ({m.d_model}) must be divisible by model.n_heads ({m.n_heads})")
    if m.frame_height * m.frame_width > 4096 * 4096:
        raise ConfigError(f"frame size {m.frame_height}x{m.frame_width} is too large")
