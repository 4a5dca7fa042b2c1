"""Graph rules every exported graph must meet, checked by code rather than hoped for.

- `onnx.checker.check_model(full_check=True)` passes (structure, types and shape inference);
- every input and output has a static shape (no symbolic or unknown dimensions);
- only default-domain ONNX ops (no contrib ops such as com.microsoft's);
- for graphs meant for TensorRT (fp32 and fp16 bundles), every op is on onnx-tensorrt's supported
  list for the targeted release (`tensorrt_supported_ops.txt`, with its source and version);
- `step.onnx` never scatters into the cache: no ScatterND/ScatterElements/Scatter/TensorScatter.

int8 bundles use dynamic quantization (DynamicQuantizeLinear + MatMulInteger), which is standard
ONNX but not on TensorRT's list; they are CPU bundles and skip that one rule.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import onnx

from vidgen_rt.errors import BundleError

TARGET_TENSORRT = "10.15"
SUPPORTED_OPS_FILE = Path(__file__).with_name("tensorrt_supported_ops.txt")
SCATTER_OPS = {"Scatter", "ScatterND", "ScatterElements", "TensorScatter"}
DEFAULT_DOMAINS = {"", "ai.onnx"}


@lru_cache(maxsize=1)
def tensorrt_supported_ops() -> frozenset[str]:
    lines = SUPPORTED_OPS_FILE.read_text().splitlines()
    return frozenset(line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip())


def graph_ops(model: onnx.ModelProto) -> list[tuple[str, str]]:
    """(domain, op_type) of every node, subgraphs and local functions included."""
    found = []

    def visit(graph):
        for node in graph.node:
            found.append((node.domain, node.op_type))
            for attribute in node.attribute:
                if attribute.type == onnx.AttributeProto.GRAPH:
                    visit(attribute.g)
                for sub in attribute.graphs:
                    visit(sub)

    visit(model.graph)
    for function in model.functions:
        found.append((function.domain, function.name))
    return found


def _dims(value: onnx.ValueInfoProto) -> list:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
            for d in value.type.tensor_type.shape.dim]


def rule_violations(model: onnx.ModelProto, graph_name: str, for_tensorrt: bool = True) -> list[str]:
    """Every broken rule, as readable sentences (empty when the graph is fine)."""
    problems = []
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as error:
        problems.append(f"onnx.checker.check_model(full_check=True) fails: {str(error).splitlines()[0]}")
    for value in list(model.graph.input) + list(model.graph.output):
        dims = _dims(value)
        if not value.type.tensor_type.HasField("shape") or any(not isinstance(d, int) or d <= 0 for d in dims):
            problems.append(f"{value.name!r} has a non-static shape {dims}")
    ops = graph_ops(model)
    foreign = sorted({f"{domain}:{op}" for domain, op in ops if domain not in DEFAULT_DOMAINS})
    if foreign:
        problems.append(f"ops outside the default ONNX domain: {', '.join(foreign)}")
    if for_tensorrt:
        unsupported = sorted({op for domain, op in ops if domain in DEFAULT_DOMAINS} - tensorrt_supported_ops())
        if unsupported:
            problems.append(f"ops not supported by TensorRT {TARGET_TENSORRT}'s ONNX parser: {', '.join(unsupported)}")
    if graph_name == "step":
        scatters = sorted({op for _, op in ops if op in SCATTER_OPS})
        if scatters:
            problems.append(f"step graph scatters into the cache ({', '.join(scatters)}); the runtime writes slots")
    return problems


def check_graph_rules(path: Path, graph_name: str, for_tensorrt: bool = True) -> None:
    """Raise BundleError naming the file and each broken rule."""
    model = onnx.load(str(path))
    problems = rule_violations(model, graph_name, for_tensorrt)
    if problems:
        raise BundleError(f"{path}: breaks the graph rules: " + "; ".join(problems))
