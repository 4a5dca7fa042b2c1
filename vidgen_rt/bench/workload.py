"""What a benchmark runs: the PyTorch model of a WORLD or BUNDLE, the bundles the backends need, the
context every stream starts from, and the FLOPs and weights of one frame.

A WORLD (shipped name, run or checkpoint) is exported on demand into a scratch directory, one bundle
per precision with the batch sizes the scenario needs. A BUNDLE is used as it is; its manifest's
source checkpoint gives the PyTorch model when it resolves here, and the int8 bundle when asked.
"""

from __future__ import annotations

from pathlib import Path

from vidgen_rt.errors import BundleError
from vidgen_rt.model.flops import dynamics_step_flops, frame_flops


def is_bundle(source) -> bool:
    return (Path(source) / "manifest.json").is_file()


class Workload:
    def __init__(self, source, scratch: Path, batches: list[int]):
        from vidgen_rt.export import load_bundle

        self.source, self.scratch, self.needed_batches = str(source), Path(scratch), list(batches)
        self.given = load_bundle(source) if is_bundle(source) else None
        self.bundles: dict[str, Path] = {}
        self.checkpoint = self.source
        if self.given is not None:
            missing = [b for b in batches if b not in self.given.batches]
            if 1 in missing:
                raise BundleError(f"{source}: the benchmark needs batch 1; the bundle has {self.given.batches}")
            self.needed_batches = [b for b in batches if b in self.given.batches]
            self.bundles[self.given.manifest["precision"]] = self.given.path
            source_info = self.given.manifest.get("source") or {}
            self.checkpoint = source_info.get("resolved") or source_info.get("checkpoint")
        self._model = None

    @property
    def model(self):
        """(WorldModel in eval mode, Config, state) of the checkpoint; VidgenError if it is not here."""
        if self._model is None:
            from vidgen_rt.train.checkpoint import load_checkpoint

            if self.checkpoint is None:
                raise BundleError(f"{self.source}: the manifest names no source checkpoint")
            self._model = load_checkpoint(self.checkpoint)
        return self._model

    @property
    def config(self):
        return self.given.config if self.given is not None else self.model[1]

    def bundle(self, precision: str) -> Path:
        """A bundle of this precision holding the needed batch sizes, exported on first use."""
        if precision not in self.bundles:
            from vidgen_rt.export import export_bundle

            self.model  # a bundle source without its checkpoint fails here, naming it
            out = self.scratch / f"{precision}.vgrt"
            self.bundles[precision] = export_bundle(self.checkpoint, out, batches=self.needed_batches,
                                                    precision=precision, quiet=True)
        return self.bundles[precision]

    def context(self) -> dict:
        """The frames (K, H, W, 3), actions (K-1,) [, cond, guide] every stream starts from."""
        if self.given is not None:
            return self.given.context()
        from vidgen_rt.export.writer import context_for

        _, config, state = self.model
        return context_for(config, state, None)

    def model_info(self) -> dict:
        from vidgen_rt.model.world_model import WorldModel

        config, m = self.config, self.config.model
        # FLOPs and parameter counts follow from the architecture alone: no weights needed.
        shape_only = WorldModel(m)
        flops = frame_flops(shape_only)
        params = shape_only.parameter_count()
        return {"preset": config.preset, "source": self.source,
                "params": {**params, "total": sum(params.values())},
                "gflops_per_frame": {key: round(value / 1e9, 6) for key, value in flops.items()},
                "gflops_per_frame_nocache": round((m.window * dynamics_step_flops(m) + flops["decode"]) / 1e9, 6),
                "weights": graph_weights(shape_only),
                # Per player, read by every step: (n_layers, kv, n_heads, cache_slots, tokens_per_frame, head_dim).
                "kv_cache_values": m.n_layers * 2 * m.n_heads * m.cache_slots * m.tokens_per_frame * m.head_dim}


def graph_weights(model) -> dict:
    """Weights (values) of the modules each per-frame graph runs: step (the transformer without its
    flow head), sample (the flow head; 0 for mse) and decode (the tokenizer's decoder)."""
    def count(module):
        return 0 if module is None else sum(p.numel() for p in module.parameters())

    sample = count(model.dynamics.sampler)
    return {"step": count(model.dynamics) - sample, "sample": sample, "decode": count(model.tokenizer.decoder)}
