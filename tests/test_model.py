"""The frame-causal transformer: parallel forward and cached step agree, the ring behaves, and the
lag bias (not absolute time) carries temporal order."""

import pytest
import torch

from vidgen_rt.config import preset
from vidgen_rt.model.dynamics import FrameCausalTransformer, lag_sentinel
from vidgen_rt.model.kv_ring import KVRing
from vidgen_rt.model.world_model import WorldModel


def _random_model(config, seed=0):
    torch.manual_seed(seed)
    model = FrameCausalTransformer(config).eval()
    with torch.no_grad():  # move away from the "copy the frame" initialisation so outputs differ
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


def _inputs(config, batch, frames, seed=1):
    generator = torch.Generator().manual_seed(seed)
    latents = torch.rand(batch, frames, config.latent_channels, config.latent_height, config.latent_width,
                         generator=generator) * 1.6 - 0.8
    actions = torch.randint(0, config.n_actions, (batch, frames), generator=generator)
    return latents, actions


@pytest.mark.parametrize("frames", [4, 15])  # within the window (6) and well past it
@pytest.mark.parametrize("token_patch", [1, 2])  # one latent cell per token, and 2×2 cells per token
@pytest.mark.parametrize("head", ["mse", "flow_mlp", "flow_conv"])  # next_latents, or head_cond of a flow head
def test_cached_step_matches_parallel_forward(frames, token_patch, head):
    config = preset("tiny").model
    config.token_patch, config.head = token_patch, head
    if head == "flow_conv":  # with the context noise level told to the model, at a fixed inference level
        config.context_noise_embedding, config.context_noise_level = True, 0.05
    model = _random_model(config)
    latents, actions = _inputs(config, 2, frames)
    with torch.no_grad():
        parallel = model(latents, actions)
        ring = KVRing(config, batch=2)
        stepped = []
        for t in range(frames):
            next_latents, new_kv = model.step(latents[:, t], actions[:, t], None, None, ring.kv, ring.lags)
            ring.push(new_kv)
            stepped.append(next_latents)
    stepped = torch.stack(stepped, dim=1)
    assert parallel.abs().max() > 0.1  # a non-trivial function
    if head == "mse":
        assert (parallel - latents).abs().max() > 1e-2
    else:
        assert parallel.shape == (2, frames, config.tokens_per_frame, config.d_model)
    assert torch.allclose(stepped, parallel, atol=1e-5, rtol=0)


def test_token_patch_groups_neighbouring_cells():
    config = preset("tiny").model
    config.token_patch = 2
    model = FrameCausalTransformer(config)
    assert config.tokens_per_frame == 4 and config.token_channels == 4 * config.latent_channels
    latents, _ = _inputs(config, 2, 3)
    tokens = model._to_tokens(latents)  # (B, T, N, C·p·p)
    assert tokens.shape == (2, 3, 4, config.token_channels)
    # token 1 is the top-right 2×2 block of cells: channel c of cell (0, 2) comes first in its group
    assert torch.equal(tokens[:, :, 1].reshape(2, 3, config.latent_channels, 2, 2), latents[:, :, :, 0:2, 2:4])
    assert torch.equal(model._from_tokens(tokens, latents.shape), latents)


def test_new_kv_matches_parallel_keys_and_values():
    config = preset("tiny").model
    model = _random_model(config)
    latents, actions = _inputs(config, 1, 9)
    N = config.tokens_per_frame
    with torch.no_grad():
        _, keys_values = model(latents, actions, return_kv=True)
        ring = KVRing(config)
        for t in range(9):
            _, new_kv = model.step(latents[:, t], actions[:, t], None, None, ring.kv, ring.lags)
            ring.push(new_kv)
            for layer, (k, v) in enumerate(keys_values):
                assert torch.allclose(new_kv[layer, 0], k[:, :, t * N:(t + 1) * N], atol=1e-5)
                assert torch.allclose(new_kv[layer, 1], v[:, :, t * N:(t + 1) * N], atol=1e-5)


def test_step_shapes_follow_the_contract():
    config = preset("tiny").model
    model = _random_model(config)
    ring = KVRing(config, batch=3)
    latents, actions = _inputs(config, 3, 1)
    next_latents, new_kv = model.step(latents[:, 0], actions[:, 0], None, None, ring.kv, ring.lags)
    L, Hh, S, N, Dh = config.n_layers, config.n_heads, config.cache_slots, config.tokens_per_frame, config.head_dim
    assert ring.kv.shape == (L, 2, 3, Hh, S, N, Dh)
    assert ring.lags.shape == (S,) and ring.lags.dtype == torch.int64
    assert next_latents.shape == latents[:, 0].shape
    assert new_kv.shape == (L, 2, 3, Hh, N, Dh)


def test_ring_ages_slots_and_expires_the_oldest():
    config = preset("tiny").model  # window 6: 5 slots
    ring = KVRing(config)
    sentinel = lag_sentinel(config)
    assert ring.lags.tolist() == [sentinel] * 5
    frame_kv = lambda value: torch.full(ring.kv[:, :, :, :, 0].shape, float(value))  # noqa: E731
    for frame in range(7):
        ring.push(frame_kv(frame))
    # frames 2..6 are cached; frame 6 is newest (lag 1), frame 2 oldest (lag 5); 0 and 1 were overwritten
    ages = {int(ring.kv[0, 0, 0, 0, slot, 0, 0]): int(ring.lags[slot]) for slot in range(5)}
    assert ages == {6: 1, 5: 2, 4: 3, 3: 4, 2: 5}
    snapshot = ring.snapshot()
    ring.push(frame_kv(7))
    ring.restore(snapshot)
    assert {int(ring.kv[0, 0, 0, 0, s, 0, 0]): int(ring.lags[s]) for s in range(5)} == ages


def test_empty_slots_are_ignored():
    """Garbage in a slot marked empty must not change the output."""
    config = preset("tiny").model
    model = _random_model(config)
    latents, actions = _inputs(config, 1, 1)
    ring = KVRing(config)
    clean, _ = model.step(latents[:, 0], actions[:, 0], None, None, ring.kv, ring.lags)
    ring.kv.normal_()
    dirty, _ = model.step(latents[:, 0], actions[:, 0], None, None, ring.kv, ring.lags)
    assert torch.allclose(clean, dirty, atol=1e-6)


def test_output_is_shift_invariant_in_time():
    """No absolute time: the same frames give the same prediction wherever the clip starts. Through
    L layers a frame's receptive field spans L*(window-1)+1 frames, so the clip keeps those."""
    config = preset("tiny").model
    model = _random_model(config)
    latents, actions = _inputs(config, 1, 20)
    receptive = config.n_layers * (config.window - 1) + 1
    with torch.no_grad():
        full = model(latents, actions)
        late = model(latents[:, 20 - receptive:], actions[:, 20 - receptive:])
    assert torch.allclose(full[:, -1], late[:, -1], atol=1e-5)


def test_actions_change_the_prediction():
    config = preset("tiny").model
    model = _random_model(config)
    latents, actions = _inputs(config, 1, 3)
    with torch.no_grad():
        a = model(latents, actions)
        b = model(latents, (actions + 1) % config.n_actions)
    assert (a[:, -1] - b[:, -1]).abs().max() > 1e-3


@pytest.mark.parametrize("token_patch", [1, 2])
def test_conditions_and_guides_are_wired(token_patch):
    config = preset("tiny").model
    config.cond_dim, config.guide_channels, config.token_patch = 3, 2, token_patch
    model = _random_model(config)
    latents, actions = _inputs(config, 1, 4)
    cond = torch.randn(1, 4, 3)
    guide = torch.randn(1, 4, 2, config.frame_height, config.frame_width)
    with torch.no_grad():
        base = model(latents, actions, cond, guide)
        assert (base - model(latents, actions, cond * 2, guide)).abs().max() > 1e-4
        assert (base - model(latents, actions, cond, guide * 2)).abs().max() > 1e-4
        ring = KVRing(config)
        for t in range(4):
            nxt, new_kv = model.step(latents[:, t], actions[:, t], cond[:, t], guide[:, t], ring.kv, ring.lags)
            ring.push(new_kv)
            assert torch.allclose(nxt, base[:, t], atol=1e-5)


def test_tokenizer_shapes_and_range():
    config = preset("tiny").model
    model = WorldModel(config)
    frames = torch.rand(2, 3, config.frame_height, config.frame_width)
    latents = model.tokenizer.encode(frames)
    assert latents.shape == (2, config.latent_channels, config.latent_height, config.latent_width)
    assert latents.abs().max() <= 1.0
    assert model.tokenizer.decode(latents).shape == frames.shape
