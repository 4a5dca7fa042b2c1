"""Print what a host needs to know about a bundle (a directory or a packed NAME.vgrtpack): frame
size, actions with their ids and default keys, conditions, exported batch sizes, graph files,
precision, format version, sampling head, and the native backends that can run it here (OpenVINO:
available or why not, and its version).

The bundle is validated first by the native validator (every rule of docs/architecture.md §9,
checksums included), so a bad bundle gives one line naming the file and the field, and what is
printed is exactly what the runtime will load. Frames are RGBA8 rows top-down (docs/embedding.md).

examples:
  vidgen info maze.vgrt
  vidgen info maze.vgrt --json info.json      # the same as JSON ("-" for stdout)
  vidgen info maze.vgrt --markdown            # the action table as Markdown (README's key table)
  vidgen info maze.vgrtpack                   # a packed bundle (vidgen export --pack)
"""

from __future__ import annotations

import json
from pathlib import Path

HELP = "summarise a bundle: frame size, actions and keys, conditions, batch sizes, graphs, precision"


def configure(parser) -> None:
    parser.add_argument("bundle", metavar="BUNDLE",
                        help="a bundle directory (NAME.vgrt) or packed bundle (NAME.vgrtpack), from vidgen export")
    parser.add_argument("--json", metavar="PATH", help="write the summary as JSON to PATH ('-': stdout)")
    parser.add_argument("--markdown", action="store_true", help="print only the action table, as Markdown")
    parser.add_argument("--no-verify", action="store_true", help="skip the sha256 check of the bundle's files")


def run(args) -> int:
    from vidgen_rt.atomic import write_json_atomic
    from vidgen_rt.export.bundle import load_bundle
    from vidgen_rt.preflight import output_file

    if args.json and args.json != "-":
        output_file(args.json, "--json")
    bundle = load_bundle(args.bundle, verify_checksums=not args.no_verify)
    summary = summarise(bundle)
    if args.markdown:
        print(action_table_markdown(summary["actions"]), end="")
    elif args.json == "-":
        print(json.dumps(summary, indent=2))
    else:
        print(format_summary(summary), end="")
    if args.json and args.json != "-":
        write_json_atomic(Path(args.json), summary)
    return 0


def action_rows(manifest: dict) -> list[dict]:
    """[{id, name, keys, default}] in id order: the ids a step takes, the GLFW key names bound."""
    actions = manifest["actions"]
    bindings = actions.get("key_bindings") or {}
    default = int(actions.get("default", 0))
    return [{"id": index, "name": name, "keys": _keys(bindings.get(name, [])), "default": index == default}
            for index, name in enumerate(actions["names"])]


def summarise(bundle) -> dict:
    """The facts of a loaded `Bundle` a host needs, in one flat-ish dict (the --json output); graphs
    in the order a step runs them."""
    from vidgen_rt.export.manifest import graph_names
    from vidgen_rt.runtime.native import openvino_status

    manifest, sizes = bundle.manifest, _file_sizes(bundle)
    cache, frame, head = manifest["cache"], manifest["frame"], manifest["head"]
    conditions = manifest.get("conditions") or {}
    cond, guide = conditions.get("cond"), conditions.get("guide")
    return {
        "path": str(bundle.path),
        "packed": bundle.pack_index is not None,
        "name": manifest["name"],
        "format": manifest["format"],
        "format_version": manifest["format_version"],
        "vidgen_rt_version": manifest.get("vidgen_rt_version"),
        "created": manifest.get("created"),
        "precision": manifest["precision"],
        "frame": {"height": frame["height"], "width": frame["width"], "input": "RGB uint8",
                  "output": "RGBA uint8", "rows": "top-down"},
        "head": {"kind": head["kind"], "sampling_steps": head["sampling_steps"],
                 "max_sampling_steps": head["max_sampling_steps"],
                 "fused_sampling_steps": list(head.get("fused_sampling_steps", []))},
        "window": cache["cache_slots"] + 1,
        "cache": {key: cache[key] for key in ("n_layers", "n_heads", "cache_slots", "tokens_per_frame", "head_dim",
                                              "dtype")},
        "batch_sizes": sorted(int(batch) for batch in manifest["graphs"]),
        "actions": action_rows(manifest),
        "default_action": int(manifest["actions"].get("default", 0)),
        "conditions": {
            "cond": None if not cond else {"dim": cond["dim"], "names": cond.get("names", [])},
            "guide": None if not guide else {"channels": guide["channels"], "names": guide.get("names", []),
                                             "range": guide.get("range")},
        },
        "context_frames": manifest["context"]["tensors"]["frames"]["shape"][0],
        "postprocess": manifest.get("postprocess", {}),
        "graphs": {batch: {name: {"file": graphs[name]["file"], "bytes": sizes[graphs[name]["file"]]}
                           for name in graph_names(head)}
                   for batch, graphs in sorted(manifest["graphs"].items(), key=lambda item: int(item[0]))},
        "source": manifest.get("source", {}),
        "backends": {"ort": {"available": True}, "openvino": openvino_status()},
    }


def format_summary(s: dict) -> str:
    head = s["head"]
    fused = ", ".join(str(steps) for steps in head["fused_sampling_steps"])
    fused = f"one fused graph for K = {fused}" if fused else "no fused graphs"
    sampling = (f"flow head, {head['sampling_steps']} Euler steps per frame by default (1..{head['max_sampling_steps']}; "
                f"{fused})" if head["kind"] != "mse" else "deterministic (no sampling)")
    cache = s["cache"]
    lines = [
        f"bundle      {s['path']}{' (packed)' if s['packed'] else ''}",
        f"name        {s['name']} ({s['format']} format {s['format_version']}, vidgen_rt {s['vidgen_rt_version']}, "
        f"{s['created']})",
        f"frame       {s['frame']['width']}x{s['frame']['height']}: RGB uint8 in, RGBA uint8 out, rows top-down",
        f"precision   {s['precision']} (KV cache {cache['dtype']})",
        f"head        {head['kind']}: {sampling}",
        f"window      {s['window']} frames (cache_slots {cache['cache_slots']}, tokens_per_frame "
        f"{cache['tokens_per_frame']}, n_layers {cache['n_layers']}, n_heads {cache['n_heads']}, "
        f"head_dim {cache['head_dim']})",
        f"batch sizes {', '.join(map(str, s['batch_sizes']))} (players per stream)",
        f"conditions  {_conditions(s['conditions'])}",
        f"context     {s['context_frames']} frames",
        "postprocess " + ", ".join(f"{key} {value:g}" for key, value in s["postprocess"].items()),
        f"backends    ort; openvino {_openvino(s['backends']['openvino'])}",
        "graphs",
    ]
    for batch, graphs in s["graphs"].items():
        files = ", ".join(f"{name} {g['file']} ({g['bytes'] / 1e6:.1f} MB)" for name, g in graphs.items())
        lines.append(f"  batch {batch}: {files}")
    lines.append("actions (id: what a step takes; keys: GLFW key names)")
    width = max(len(row["name"]) for row in s["actions"])
    for row in s["actions"]:
        default = "  (default: no key held)" if row["default"] else ""
        lines.append(f"  {row['id']:>3}  {row['name']:<{width}}  {', '.join(row['keys']) or '-'}{default}")
    return "\n".join(lines) + "\n"


def _openvino(status: dict) -> str:
    if status["available"]:
        return status["version"] or "(version unknown: loaded through VGRT_OPENVINO_LIBRARY)"
    return f"not available: {status['reason']}"


def action_table_markdown(actions: list[dict]) -> str:
    """The action table as Markdown: id, action, keys; the default action marked."""
    lines = ["| id | action | keys |", "|---|---|---|"]
    for row in actions:
        keys = " or ".join(row["keys"]) or "none"
        default = " (default: no key held)" if row["default"] else ""
        lines.append(f"| {row['id']} | `{row['name']}`{default} | {keys} |")
    return "\n".join(lines) + "\n"


def _keys(bound) -> list[str]:
    return [bound] if isinstance(bound, str) else list(bound)


def _conditions(conditions: dict) -> str:
    parts = []
    if conditions["cond"]:
        parts.append(f"cond vector of {conditions['cond']['dim']} per step ({', '.join(conditions['cond']['names'])})")
    if conditions["guide"]:
        guide = conditions["guide"]
        parts.append(f"guide map of {guide['channels']} channels per step ({', '.join(guide['names'])}), "
                     f"values in {guide['range']}")
    return "; ".join(parts) or "none (actions only)"


def _file_sizes(bundle) -> dict[str, int]:
    """File name -> bytes, of a directory's files or inside a pack."""
    if bundle.pack_index is not None:
        return {name: size for name, (_, size) in bundle.pack_index.items()}
    return {p.relative_to(bundle.path).as_posix(): p.stat().st_size for p in bundle.path.rglob("*") if p.is_file()}
