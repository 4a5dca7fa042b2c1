"""Tokenizer reconstructions compared on held-out frames: PSNR, SSIM and `sharpness` per checkpoint.

Every frame of every episode in --frames (a store recorded with seeds no run trained on) goes through
each checkpoint's tokenizer, encode then decode, exactly as a world's context frames do. Reported per
checkpoint: `psnr` (mean per-frame PSNR, as `vidgen eval` computes `tokenizer_psnr`), `ssim`, and
`sharpness` (vidgen_rt/metrics/sharpness.py: high-frequency energy of the reconstructions over the
real frames'; 1.0 = as sharp as real), plus the tokenizer losses and steps that made it.

    vidgen record maze --level 1 --cells 6 --policy explore,explore,random --episodes 6 --frames 200 \\
        --size 64 --seed 1000000 --held-out 1 -o /tmp/heldout
    .venv/bin/python bench/tokenizer_sharpness.py --frames /tmp/heldout \\
        --run shipped=maze --run mse=runs/tok-mse --run detail1=runs/tok-detail1 --name maze

Each run compared was `vidgen train --preset small --data STORE --stage tokenizer --init-from maze`
with train.tokenizer_batch_size=16, tokenizer_steps=500, tokenizer_lr=5e-4, warmup_steps=20 and its
own train.tokenizer_detail_weight (docs/model.md, "A decoder that keeps detail").

Writes bench/results/tokenizer-sharpness-NAME-DATE.json and a PNG: for the frames with the most detail,
a crop of the real frame beside each checkpoint's reconstruction, enlarged 4× without smoothing.
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vidgen_rt.atomic import write_json_atomic
from vidgen_rt.data.store import EpisodeStore
from vidgen_rt.machine import machine_info
from vidgen_rt.metrics.image import psnr, ssim
from vidgen_rt.metrics.sharpness import high_frequency_energy, sharpness
from vidgen_rt.train.checkpoint import load_checkpoint

RESULTS = Path(__file__).resolve().parent / "results"
TRAIN_KEYS = ("tokenizer_steps", "tokenizer_batch_size", "tokenizer_lr", "tokenizer_edge_weight",
              "tokenizer_detail_weight", "tokenizer_adv_weight", "tokenizer_adv_start")
CROP, ZOOM, GAP = 32, 4, 4   # crop side in pixels, enlargement, gap between tiles in enlarged pixels


def parse_runs(items: list[str]) -> dict[str, str]:
    runs = {}
    for item in items:
        label, sep, spec = item.partition("=")
        if not sep or not label or not spec:
            raise SystemExit(f"--run {item!r}: expected LABEL=CHECKPOINT, e.g. mse=runs/tok-mse")
        if label in runs:
            raise SystemExit(f"--run {item!r}: label {label!r} given twice")
        runs[label] = spec
    return runs


def held_out_frames(store_dir: Path) -> np.ndarray:
    store = EpisodeStore.open(store_dir)
    store.require_nonempty()
    return np.concatenate([store.episode(i).frames for i in range(len(store.episode_lengths()))])


@torch.no_grad()
def reconstruct(spec: str, frames: np.ndarray) -> tuple[np.ndarray, dict]:
    model, config, state = load_checkpoint(spec)
    recon = model.decode_latents(model.encode_frames(frames))   # (T, H, W, 3) uint8
    train = config.to_dict()["train"]
    made = {key: train[key] for key in TRAIN_KEYS if key in train}
    # A run started with --init-from counts its source's seconds too.
    made["train_seconds_with_source"] = round(float(state.get("train_seconds", 0.0)), 1)
    return recon, made


def score(recon: np.ndarray, frames: np.ndarray) -> dict:
    return {"psnr": round(float(np.mean(psnr(recon, frames))), 3),
            "ssim": round(float(np.mean(ssim(recon, frames))), 4),
            "sharpness": round(sharpness(recon, frames), 4)}


def crop_strip(frames: np.ndarray, reconstructions: dict[str, np.ndarray], count: int) -> Image.Image:
    """Rows: the `count` frames with the most high-frequency energy; columns: real, then each run.
    Each tile is the frame's centre CROP×CROP enlarged ZOOM× (nearest neighbour)."""
    picks = np.sort(np.argsort(high_frequency_energy(frames))[-count:])
    columns = [frames, *reconstructions.values()]
    tile = CROP * ZOOM
    sheet = np.full((count * (tile + GAP) - GAP, len(columns) * (tile + GAP) - GAP, 3), 255, np.uint8)
    top = (frames.shape[1] - CROP) // 2
    left = (frames.shape[2] - CROP) // 2
    for row, index in enumerate(picks):
        for col, images in enumerate(columns):
            crop = images[index, top:top + CROP, left:left + CROP]              # (CROP, CROP, 3)
            big = crop.repeat(ZOOM, axis=0).repeat(ZOOM, axis=1)               # (tile, tile, 3)
            y, x = row * (tile + GAP), col * (tile + GAP)
            sheet[y:y + tile, x:x + tile] = big
    return Image.fromarray(sheet)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--frames", type=Path, required=True, help="episode store of held-out frames")
    parser.add_argument("--run", action="append", required=True, metavar="LABEL=CHECKPOINT",
                        help="a checkpoint, run directory or shipped world, with its label (repeatable)")
    parser.add_argument("--name", default="maze", help="name in the output files (default: maze)")
    parser.add_argument("--rows", type=int, default=4, help="frames in the PNG (default: 4)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="output directory (default: bench/results)")
    args = parser.parse_args()

    runs = parse_runs(args.run)
    frames = held_out_frames(args.frames)
    results, reconstructions = {}, {}
    for label, spec in runs.items():
        reconstructions[label], made = reconstruct(spec, frames)
        results[label] = {"checkpoint": spec, **score(reconstructions[label], frames), "made_by": made}
        print(f"{label:>10}: PSNR {results[label]['psnr']:.2f} dB, SSIM {results[label]['ssim']:.4f}, "
              f"sharpness {results[label]['sharpness']:.3f}")

    stem = f"tokenizer-sharpness-{args.name}-{datetime.date.today().isoformat()}"
    args.out.mkdir(parents=True, exist_ok=True)
    crop_strip(frames, reconstructions, min(args.rows, len(frames))).save(args.out / f"{stem}.png")
    write_json_atomic(args.out / f"{stem}.json", {
        "frames": {"store": str(args.frames), "count": int(len(frames)), "size": list(frames.shape[1:3])},
        "png_columns": ["real", *runs], "runs": results, "machine": machine_info()})
    print(f"wrote {args.out / stem}.json and .png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
