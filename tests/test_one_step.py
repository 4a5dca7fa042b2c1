"""One step, three implementations (docs/architecture.md §4): fails when a copy of the ring push or of
the step loop appears outside them, or when a consumer builds a stepper without the factory.

Every .py file under vidgen_rt/, export/, viewer/, examples/ and bench/ is parsed with `ast`; each
rule names the constructs that only some files may contain:
- a KV ring is built (`KVRing(`) and pushed (`<ring>.push(`) by the PyTorch stepper only, and
  written slot-wise (`kv[:, :, :, :, slot] = ...`) by kv_ring.py and the numpy oracle only;
- the cached step (`dynamics.step(`) runs in the PyTorch stepper, in the graph export wrapper, and in
  the step micro-benchmark that times one call of it (no ring, no loop);
- the step graph's ONNX Runtime session (`sessions["step"]`) belongs to the numpy oracle;
- the implementations are constructed (`OrtStepper(`, `TorchStepper(`, `NativeStepper(`,
  `Runtime(`, `.open_stream(`) by the factory only (and the native Python face opens its own C++
  streams), and no consumer imports those classes.
`test_a_planted_copy_is_found` proves the rules catch what they describe.
"""

import ast
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("vidgen_rt", "export", "viewer", "examples", "bench")
TORCH, ORT, FACTORY = "vidgen_rt/runtime/torch_stepper.py", "vidgen_rt/runtime/ort_stepper.py", "vidgen_rt/runtime/factory.py"
RULES = {
    "KVRing(": {TORCH},
    "ring .push(": {TORCH},
    "ring slot write": {ORT, "vidgen_rt/model/kv_ring.py"},
    "dynamics.step(": {TORCH, "export/graphs.py", "bench/export_step.py"},
    'sessions["step"]': {ORT},
    "stepper constructed": {FACTORY, "vidgen_rt/runtime/native.py"},
    "stepper class imported": {FACTORY},
}
CONSTRUCTORS = {"OrtStepper", "TorchStepper", "NativeStepper", "Runtime"}


def _name(node) -> str:
    """`a.b.c` for a Name/Attribute chain, else ''."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    return ""


def _is_full_slice(node) -> bool:
    return isinstance(node, ast.Slice) and node.lower is None and node.upper is None and node.step is None


def findings(tree: ast.AST) -> set[str]:
    """The rules this module's code touches."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            callee = _name(node.func)
            last = callee.rsplit(".", 1)[-1]
            if last == "KVRing":
                found.add("KVRing(")
            if last == "push" and "ring" in callee.lower():
                found.add("ring .push(")
            if callee.endswith("dynamics.step"):
                found.add("dynamics.step(")
            if last in CONSTRUCTORS or last == "open_stream":
                found.add("stepper constructed")
        elif isinstance(node, ast.Subscript):
            key = node.slice
            if _name(node.value).endswith("sessions") and isinstance(key, ast.Constant) and key.value == "step":
                found.add('sessions["step"]')
            if (isinstance(node.ctx, ast.Store) and isinstance(key, ast.Tuple) and len(key.elts) >= 5
                    and all(_is_full_slice(e) for e in key.elts[:4]) and not _is_full_slice(key.elts[4])):
                found.add("ring slot write")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vidgen_rt"):
            if any(alias.name in CONSTRUCTORS | {"Stream"} for alias in node.names):
                found.add("stepper class imported")
    return found


def scan(root: Path) -> dict[str, set[str]]:
    """rule -> files (relative to root) that touch it."""
    touched = {rule: set() for rule in RULES}
    for folder in SCANNED:
        for path in sorted((root / folder).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            for rule in findings(ast.parse(path.read_text(), filename=relative)):
                touched[rule].add(relative)
    return touched


def violations(touched: dict[str, set[str]]) -> list[str]:
    return [f"{rule} in {path}" for rule, paths in touched.items() for path in sorted(paths - RULES[rule])]


def test_the_step_exists_only_in_its_three_implementations():
    touched = scan(ROOT)
    assert not violations(touched), "\n".join(violations(touched))
    # The rules still see the implementations themselves (a rule that matches nothing proves nothing).
    assert TORCH in touched["ring .push("] and ORT in touched["ring slot write"]
    assert ORT in touched['sessions["step"]'] and FACTORY in touched["stepper constructed"]


def test_a_planted_copy_is_found():
    planted = textwrap.dedent('''
        from vidgen_rt.runtime.ort_stepper import OrtStepper
        from vidgen_rt.model.kv_ring import KVRing

        def my_loop(model, bundle, latents, actions):
            ring = KVRing(model.config)
            for action in actions:
                latents, new_kv = model.dynamics.step(latents, action, None, None, ring.kv, ring.lags)
                ring.push(new_kv)
            oracle = OrtStepper(bundle)
            out, new_kv = oracle.sessions["step"].run(None, {})
            oracle.kv[:, :, :, :, oracle.next_slot] = new_kv
    ''')
    assert findings(ast.parse(planted)) == set(RULES)
