"""The bundle manifest: what a runtime needs to drive the graphs without PyTorch
(docs/architecture.md §4).

`build_manifest` writes it from a trained model's config (format version 3: the cache keys use the
config's words, the context is raw tensors, and step.onnx takes the cache as one `past_key_{l}` /
`past_value_{l}` input per layer, blocks of the ring the runtime binds in place; version 2 took one
`kv_cache` input, and a runtime refuses it with a word to re-export). Reading and validating a
manifest is the native loader's job alone (native/src/bundle.cpp, docs/architecture.md §9);
`load_bundle` asks it.
"""

from __future__ import annotations

import datetime

from vidgen_rt import __version__
from vidgen_rt.config import MAX_SAMPLING_STEPS, Config
from vidgen_rt.model.heads import FLOW_HEADS, fused_sampling_steps
from vidgen_rt.model.dynamics import lag_sentinel
from vidgen_rt.model.world_model import GUIDE_SCALES
from vidgen_rt.runtime.noise import BITS_PER_VALUE

FORMAT = "vidgen_rt.bundle"
FORMAT_VERSION = 3
GRAPH_NAMES = ("encode", "step", "decode")  # an "mse" bundle's graphs
FLOW_GRAPH_NAMES = ("encode", "step", "noise", "sample", "decode")  # and sample_k{K} per fused K
NOISE_SPEC = {"generator": "philox4x32-10", "bits_per_value": BITS_PER_VALUE, "layout": "see docs/architecture.md §4"}
MANIFEST_NAME = "manifest.json"
CACHE_LAYOUT = ["n_layers", "kv", "batch", "n_heads", "cache_slots", "tokens_per_frame", "head_dim"]
DTYPE_NAMES = {"fp32": "float32", "fp16": "float16", "int8": "float32"}

# Keys a player expects for a built-in world's action names (GLFW key names). Other action spaces
# get digits in order, so every action is reachable from the keyboard.
NAMED_BINDINGS = {
    "forward": ["W", "UP"], "backward": ["S", "DOWN"], "turn_left": ["Q", "LEFT"],
    "turn_right": ["E", "RIGHT"], "strafe_left": ["A"], "strafe_right": ["D"], "fire": ["SPACE"],
    "up": ["UP"], "down": ["DOWN"], "left": ["LEFT"], "right": ["RIGHT"],
}

# The values a guide map may hold once normalised, written into every guide spec as `range`. Scaled
# channels lie in [0, 1]; "other_float" channels keep their producer's normalisation, so the bound
# leaves room for signed or slightly overshooting maps while refusing values (1e30, inf) that no
# normalised map holds. Both runtimes read it from the manifest and refuse anything outside.
GUIDE_RANGE = (-4.0, 4.0)

# How raw guide maps become the step's `guide` input (vidgen_rt.model.world_model.guide_to_tensor).
GUIDE_NORMALISATION = {"scales": dict(GUIDE_SCALES), "other_uint8": "divide by 255", "other_float": "as stored",
                       "scaled_channels_clipped_to": [0.0, 1.0], "frame": "the guide of the frame the step produces"}

POSTPROCESS_DEFAULTS = {"brightness": 0.0, "contrast": 1.0, "gamma": 1.0, "sharpen": 0.0}


def default_key_bindings(action_names: list[str]) -> dict[str, list[str]]:
    used, bindings = set(), {}
    for index, name in enumerate(action_names):
        keys = [k for k in NAMED_BINDINGS.get(name.lower(), []) if k not in used]
        if not keys and index < 10 and name.lower() not in ("noop", "none"):
            keys = [str((index + 1) % 10)]
        used.update(keys)
        bindings[name] = keys
    return bindings


def io_spec(name: str, shape, dtype: str) -> dict:
    return {"name": name, "shape": [int(d) for d in shape], "dtype": dtype}


def graph_names(head: dict) -> tuple[str, ...]:
    """The graphs a bundle with this manifest `head` holds per batch size. A flow bundle written
    before fused graphs existed has no `fused_sampling_steps` and runs every K unfused."""
    if head["kind"] not in FLOW_HEADS:
        return GRAPH_NAMES
    return FLOW_GRAPH_NAMES + tuple(f"sample_k{steps}" for steps in head.get("fused_sampling_steps", ()))


def head_spec(config: Config) -> dict:
    """The manifest's `head`: which head, its default and largest K, the K values with a fused
    `sample_k{K}` graph, and how the noise is drawn. An "mse" head takes the same fields and ignores
    them (no sampling, no fused graphs)."""
    m = config.model
    fused = list(fused_sampling_steps(m.sampling_steps)) if m.head in FLOW_HEADS else []
    return {"kind": m.head, "sampling_steps": m.sampling_steps, "max_sampling_steps": MAX_SAMPLING_STEPS,
            "fused_sampling_steps": fused, "noise": dict(NOISE_SPEC)}


def cache_spec(config: Config, dtype: str) -> dict:
    m = config.model
    return {
        "layout": CACHE_LAYOUT,
        "n_layers": m.n_layers, "n_heads": m.n_heads, "cache_slots": m.cache_slots,
        "tokens_per_frame": m.tokens_per_frame, "head_dim": m.head_dim, "dtype": dtype,
        "lag_dtype": "int64", "lag_sentinel": lag_sentinel(m), "first_slot": 0,
        "update": "after each step, new_kv [n_layers,2,B,n_heads,tokens_per_frame,head_dim] is copied "
                  "into slot `next` (the oldest; slots are used round-robin from first_slot), every lag "
                  "grows by one up to lag_sentinel, and lags[next] becomes 1",
    }


def build_manifest(name: str, config: Config, precision: str, action_names: list[str], graphs: dict,
                   context: dict, source: dict, exporter: dict, cond_names=None, guide_names=None) -> dict:
    m = config.model
    dtype = DTYPE_NAMES[precision]
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "vidgen_rt_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "precision": precision,
        "exporter": exporter,
        "frame": {"height": m.frame_height, "width": m.frame_width, "input_channels": 3, "output_channels": 4},
        "latent": {"channels": m.latent_channels, "height": m.latent_height, "width": m.latent_width,
                   "dtype": dtype},
        "cache": cache_spec(config, dtype),
        "head": head_spec(config),
        "actions": {"names": list(action_names), "default": 0,
                    "key_bindings": default_key_bindings(list(action_names))},
        "conditions": {
            "cond": {"dim": m.cond_dim, "names": list(cond_names or [f"cond_{i}" for i in range(m.cond_dim)])}
            if m.cond_dim else None,
            "guide": {"channels": m.guide_channels, "height": m.frame_height, "width": m.frame_width,
                      "names": list(guide_names or [f"guide_{i}" for i in range(m.guide_channels)]),
                      "dtype": "float32", "range": list(GUIDE_RANGE), "normalisation": GUIDE_NORMALISATION}
            if m.guide_channels else None,
        },
        "graphs": graphs,
        "context": context,
        "postprocess": dict(POSTPROCESS_DEFAULTS),
        "config": config.to_dict(),
        "source": source,
        "engines": {},
    }
