"""The bundle manifest: what a runtime needs to drive the graphs without PyTorch (DESIGN §4).

`build_manifest` writes it from a trained model's config; `check_manifest` validates a manifest read
from disk against the schema (keys, types, the cache layout that follows from the config) and raises
a `BundleError` naming `manifest.json` and the field. The graph files' checksums and I/O signatures
are checked by the bundle loader, which has the files at hand.
"""

from __future__ import annotations

import datetime

from vidgen_rt import __version__
from vidgen_rt.config import Config
from vidgen_rt.errors import BundleError
from vidgen_rt.model.dynamics import lag_sentinel
from vidgen_rt.model.world_model import GUIDE_SCALES

FORMAT = "vidgen_rt.bundle"
FORMAT_VERSION = 1
GRAPH_NAMES = ("encode", "step", "decode")
MANIFEST_NAME = "manifest.json"
CACHE_LAYOUT = ["layers", "kv", "batch", "heads", "slots", "tokens", "head_dim"]
DTYPE_NAMES = {"fp32": "float32", "fp16": "float16", "int8": "float32"}

# Keys a player expects for a built-in world's action names (GLFW key names). Other action spaces
# get digits in order, so every action is reachable from the keyboard.
NAMED_BINDINGS = {
    "forward": ["W", "UP"], "backward": ["S", "DOWN"], "turn_left": ["Q", "LEFT"],
    "turn_right": ["E", "RIGHT"], "strafe_left": ["A"], "strafe_right": ["D"], "fire": ["SPACE"],
    "up": ["UP"], "down": ["DOWN"], "left": ["LEFT"], "right": ["RIGHT"],
}

# How raw guide maps become the step's `guide` input (vidgen_rt.model.world_model.guide_to_tensor).
GUIDE_NORMALISATION = {"scales": dict(GUIDE_SCALES), "other_uint8": "divide by 255", "other_float": "as stored",
                       "scaled_channels_clipped_to": [0.0, 1.0], "frame": "the guide of the frame the step produces"}

POSTPROCESS_DEFAULTS = {"brightness": 0.0, "contrast": 1.0, "gamma": 1.0, "sharpen": 0.0}

# field -> type (or tuple of types) of the top level of a manifest.
SCHEMA = {
    "format": str, "format_version": int, "name": str, "vidgen_rt_version": str, "created": str,
    "precision": str, "exporter": dict, "frame": dict, "latent": dict, "cache": dict, "actions": dict,
    "conditions": dict, "graphs": dict, "context": dict, "postprocess": dict, "config": dict,
    "source": dict, "engines": dict,
}


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


def cache_spec(config: Config, dtype: str) -> dict:
    m = config.model
    return {
        "layout": CACHE_LAYOUT,
        "layers": m.n_layers, "heads": m.n_heads, "slots": m.cache_slots,
        "tokens_per_frame": m.tokens_per_frame, "head_dim": m.head_dim, "dtype": dtype,
        "lag_dtype": "int64", "lag_sentinel": lag_sentinel(m), "first_slot": 0,
        "update": "after each step, new_kv [L,2,B,heads,N,head_dim] is copied into slot `next` "
                  "(the oldest; slots are used round-robin from first_slot), every lag grows by one "
                  "up to lag_sentinel, and lags[next] becomes 1",
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
        "actions": {"names": list(action_names), "default": 0,
                    "key_bindings": default_key_bindings(list(action_names))},
        "conditions": {
            "cond": {"dim": m.cond_dim, "names": list(cond_names or [f"cond_{i}" for i in range(m.cond_dim)])}
            if m.cond_dim else None,
            "guide": {"channels": m.guide_channels, "height": m.frame_height, "width": m.frame_width,
                      "names": list(guide_names or [f"guide_{i}" for i in range(m.guide_channels)]),
                      "dtype": "float32", "normalisation": GUIDE_NORMALISATION}
            if m.guide_channels else None,
        },
        "graphs": graphs,
        "context": context,
        "postprocess": dict(POSTPROCESS_DEFAULTS),
        "config": config.to_dict(),
        "source": source,
        "engines": {},
    }


def _require(condition: bool, field: str, expected: str) -> None:
    if not condition:
        raise BundleError(f"manifest.json: field {field!r}: expected {expected}")


def check_manifest(manifest, supported_versions=(FORMAT_VERSION,)) -> None:
    """Schema checks that need no files: raise BundleError naming the field."""
    _require(isinstance(manifest, dict), "(top level)", "a JSON object")
    _require(manifest.get("format") == FORMAT, "format", repr(FORMAT))
    version = manifest.get("format_version")
    if version not in supported_versions:
        raise BundleError(f"manifest.json: field 'format_version': unsupported version {version!r} "
                          f"(this vidgen_rt reads {', '.join(map(str, supported_versions))})")
    for key, kind in SCHEMA.items():
        _require(key in manifest, key, f"present ({kind.__name__})")
        _require(isinstance(manifest[key], kind) or (key == "conditions" and manifest[key] is None),
                 key, f"a {kind.__name__}")
    extra = sorted(set(manifest) - set(SCHEMA))
    _require(not extra, ", ".join(extra), "no unknown fields")
    _require(manifest["precision"] in DTYPE_NAMES, "precision", f"one of {sorted(DTYPE_NAMES)}")
    names = manifest["actions"].get("names")
    _require(isinstance(names, list) and names and all(isinstance(n, str) for n in names),
             "actions.names", "a non-empty list of strings")
    _require(isinstance(manifest["actions"].get("key_bindings"), dict), "actions.key_bindings", "an object")
    _check_cache(manifest)
    graphs = manifest["graphs"]
    _require(bool(graphs), "graphs", "at least one batch size")
    for batch, entry in graphs.items():
        _require(batch.isdigit() and int(batch) > 0, f"graphs.{batch}", "a positive batch size as key")
        _require(isinstance(entry, dict) and set(entry) == set(GRAPH_NAMES), f"graphs.{batch}",
                 f"exactly the graphs {list(GRAPH_NAMES)}")
        for graph, spec in entry.items():
            where = f"graphs.{batch}.{graph}"
            _require(isinstance(spec, dict) and {"file", "sha256", "inputs", "outputs"} <= set(spec),
                     where, "an object with file, sha256, inputs, outputs")
            for io in spec["inputs"] + spec["outputs"]:
                _require(isinstance(io, dict) and {"name", "shape", "dtype"} <= set(io), f"{where}.inputs/outputs",
                         "objects with name, shape, dtype")
    _require({"file", "sha256", "frames"} <= set(manifest["context"]), "context", "file, sha256 and frames")


def _check_cache(manifest: dict) -> None:
    """The cache layout must follow from the model config the bundle carries."""
    cache, model = manifest["cache"], manifest["config"].get("model", {})
    _require(cache.get("layout") == CACHE_LAYOUT, "cache.layout", str(CACHE_LAYOUT))
    expected = {"layers": model.get("n_layers"), "heads": model.get("n_heads"),
                "slots": (model.get("window") or 0) - 1, "lag_sentinel": model.get("window")}
    for key, value in expected.items():
        _require(cache.get(key) == value, f"cache.{key}", f"{value} (from config.model)")
