"""Config presets and strict overrides."""

import pytest

from vidgen_rt.config import apply_overrides, from_dict, preset
from vidgen_rt.errors import ConfigError


def test_presets_have_the_documented_shapes():
    small = preset("small")
    assert (small.model.frame_height, small.model.frame_width) == (64, 64)
    assert (small.model.latent_height, small.model.latent_width) == (8, 8)
    assert (small.model.d_model, small.model.n_layers, small.model.window) == (256, 6, 16)
    assert preset("tiny").model.d_model < small.model.d_model < preset("medium").model.d_model


def test_overrides_are_typed():
    config = apply_overrides(preset("tiny"), ["model.d_model=32", "train.bf16=false", "train.dynamics_lr=1e-4"])
    assert config.model.d_model == 32 and config.train.bf16 is False and config.train.dynamics_lr == 1e-4


@pytest.mark.parametrize("override, message", [
    ("model.no_such_key=1", "unknown config key model.no_such_key"),
    ("optim.lr=1", "unknown config section 'optim'"),
    ("model.d_model=abc", "model.d_model: expected int"),
    ("train.bf16=maybe", "train.bf16: expected bool"),
    ("d_model=3", "expected section.key=value"),
    ("model.d_model=30", "divisible by model.n_heads"),
])
def test_bad_overrides_name_the_problem(override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        apply_overrides(preset("tiny"), [override])


def test_unknown_preset():
    with pytest.raises(ConfigError, match="unknown preset 'huge'"):
        preset("huge")


def test_round_trip_and_strict_loading():
    config = preset("tiny")
    assert from_dict(config.to_dict()).to_dict() == config.to_dict()
    data = config.to_dict()
    data["model"]["surprise"] = 1
    with pytest.raises(ConfigError, match="surprise"):
        from_dict(data)


@pytest.mark.parametrize("override, message", [
    ("train.dynamics_lr=nan", "train.dynamics_lr = nan: expected a finite number > 0"),
    ("train.tokenizer_lr=inf", "train.tokenizer_lr = inf: expected a finite number > 0"),
    ("train.dynamics_lr=-0.001", "train.dynamics_lr = -0.001: expected a finite number > 0"),
    ("train.batch_size=0", "train.batch_size = 0: expected an integer > 0"),
    ("train.tokenizer_batch_size=-4", "train.tokenizer_batch_size = -4: expected an integer > 0"),
    ("train.dynamics_steps=0", "train.dynamics_steps = 0: expected an integer > 0"),
    ("train.weight_decay=-1", "train.weight_decay = -1.0: expected a finite number >= 0"),
    ("train.rollout_start=1.5", "train.rollout_start = 1.5: expected a finite number within 0..1"),
    ("train.max_minutes=-inf", "train.max_minutes = -inf: expected a finite number >= 0"),
    ("train.seed=-1", "train.seed = -1: expected an integer >= 0"),
    ("train.log_every=0", "train.log_every = 0: expected an integer > 0"),
    ("model.window=1", "model.window = 1: expected an integer >= 2"),
    ("model.mlp_ratio=0", "model.mlp_ratio = 0: expected an integer > 0"),
    ("model.guide_channels=-2", "model.guide_channels = -2: expected an integer >= 0"),
])
def test_numeric_settings_out_of_range_name_field_value_and_range(override, message):
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(").replace(".", r"\.") + "$"):
        apply_overrides(preset("tiny"), [override])


def test_every_numeric_setting_has_a_range():
    from vidgen_rt.config import RANGES, Config

    config = Config()
    for section_name in ("model", "train"):
        numeric = {name for name, value in vars(getattr(config, section_name)).items()
                   if isinstance(value, (int, float)) and not isinstance(value, bool)}
        assert numeric == set(RANGES[section_name]), section_name


def test_a_saved_config_out_of_range_is_refused_on_load():
    data = preset("tiny").to_dict()
    data["train"]["grad_clip"] = float("nan")
    with pytest.raises(ConfigError, match="train.grad_clip = nan"):
        from_dict(data)
