"""The evaluation report: curves per horizon, sample strips, and a one-page HTML or Markdown file.

`plot_curves` draws free-running PSNR and SSIM against rollout horizon (with the repeat-last-frame
baseline, the teacher-forced and tokenizer levels), and below them sharpness (with the tokenizer's
own, the bound a head sits under) and realism or object persistence against horizon. `write_report`
writes the page at PATH and, next to it, `<stem>-curves.png` and `<stem>-samples.png`: for the
first few held-out episodes, a row of real frames and a row of generated frames at horizons 1, 4,
16 and 64; and `<stem>-long-samples.png` when the long rollouts reached horizon 256: the real game
and the rollout at 256, 1,000 and 10,000. The page holds every scalar metric (nested ones as
`name.key`), then the images, referenced by relative path.
"""

from __future__ import annotations

import html
import os
import tempfile
from pathlib import Path


from vidgen_rt.errors import ConfigError

SAMPLE_EPISODES = 3


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save_figure(figure, path: Path) -> None:
    """Write atomically, with the permissions a plain open() would give (mkstemp's are private)."""
    from vidgen_rt.atomic import default_mode

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".png")
    os.close(fd)
    os.chmod(tmp, default_mode(directory=False))
    figure.savefig(tmp)
    os.replace(tmp, path)


def plot_curves(result: dict, path: Path) -> None:
    """PSNR and SSIM of the free-running rollout against horizon, with sharpness and realism or
    persistence below them when the result has those figures, as a PNG."""
    plt = _pyplot()
    quality = "sharpness" in result
    figure, axes = plt.subplots(2 if quality else 1, 2, figsize=(10, 7 if quality else 3.5), dpi=120,
                                squeeze=False)
    (left, right) = axes[0]
    psnr_curve, ssim_curve = result["ar_psnr_curve"], result["ar_ssim_curve"]
    still = result["repeat_last_frame_curve"]
    left.plot(range(1, len(psnr_curve) + 1), psnr_curve, label="free-running rollout")
    left.plot(range(1, len(still) + 1), still, color="orange", label="baseline: repeat last real frame")
    left.axhline(result["tf_psnr"], color="gray", linestyle="--", label="teacher-forced next frame")
    left.axhline(result["tokenizer_psnr"], color="green", linestyle=":", label="tokenizer reconstruction")
    left.set_ylabel("PSNR (dB)")
    right.plot(range(1, len(ssim_curve) + 1), ssim_curve, label="free-running rollout")
    right.axhline(result["tf_ssim"], color="gray", linestyle="--", label="teacher-forced next frame")
    right.set_ylabel("SSIM")
    if quality:
        _plot_sharpness(axes[1, 0], result["sharpness"])
        _plot_realism(axes[1, 1], result)
    for axis in axes.reshape(-1):
        if axis.has_data():
            axis.set_xscale("log")
            axis.set_xlabel("horizon (frames)")
            axis.legend(loc="lower left", fontsize=7)
    figure.suptitle(f"{result['world']}: rollout quality against horizon ({result['episodes']} held-out episodes)")
    figure.tight_layout()
    _save_figure(figure, Path(path))
    plt.close(figure)


def _points(by_horizon: dict) -> tuple[list[int], list[float]]:
    """The (horizon, value) points of a {"h": value} dict whose value is known."""
    known = [(int(h), v) for h, v in by_horizon.items() if v is not None]
    return [h for h, _ in known], [v for _, v in known]


def _curve(values: list) -> tuple[range, list[float]]:
    """A per-horizon JSON curve (1..n) as plot points; None (nothing to compare against) as a gap."""
    return range(1, len(values) + 1), [float("nan") if v is None else v for v in values]


def _plot_sharpness(axis, sharpness: dict) -> None:
    axis.plot(*_curve(sharpness["curve"]), label="generated / real, horizons 1-64")
    axis.plot(*_points(sharpness["horizons"]), "o", color="C0", label="at horizons 1, 16, 64, 1000, 10000")
    if sharpness["tokenizer"] is not None:
        axis.axhline(sharpness["tokenizer"], color="green", linestyle=":", label="tokenizer reconstruction")
    axis.axhline(1.0, color="gray", linestyle="--", label="as sharp as real")
    axis.set_ylabel("sharpness (high-frequency energy ratio)")


def _plot_realism(axis, result: dict) -> None:
    """Nearest-real-view PSNR when the world has a bank of views, else object persistence when
    measured; an empty panel otherwise."""
    view = result.get("realism", {}).get("nearest_view", {})
    persistence = result.get("object_persistence", {})
    if "median_psnr" in view:
        axis.plot(*_curve(view["median_psnr_curve"]), label="generated: median nearest-real-view PSNR")
        axis.plot(*_points(view["median_psnr"]), "o", color="C0")
        calibration = view["calibration"]
        axis.axhline(calibration["tokenizer_reconstructions"], color="green", linestyle=":",
                     label="tokenizer reconstructions of real frames")
        axis.set_ylabel("realism (dB)")
    elif "curve" in persistence:
        axis.plot(*_curve(persistence["curve"]), label="generated / real rate of the rarest object")
        axis.axhline(1.0, color="gray", linestyle="--", label="as present as in real play")
        if persistence.get("tokenizer") is not None:
            axis.axhline(persistence["tokenizer"], color="green", linestyle=":",
                         label="tokenizer reconstructions of real frames")
        axis.set_ylabel("object persistence")
    else:
        axis.set_axis_off()


def plot_samples(samples: dict, path: Path, names=("real", "generated"), unit: str = "episode") -> None:
    """Rows of `names[0]` and `names[1]` frames at each sampled horizon, for the first few
    episodes (or long rollouts: `unit`)."""
    plt = _pyplot()
    horizons, real, generated = samples["horizons"], samples["real"], samples["generated"]
    episodes = min(SAMPLE_EPISODES, len(real))
    figure, axes = plt.subplots(2 * episodes, len(horizons), figsize=(1.6 * len(horizons), 1.7 * 2 * episodes),
                                dpi=120, squeeze=False)
    for e in range(episodes):
        for row, (name, frames) in enumerate(zip(names, (real, generated))):
            for column, horizon in enumerate(horizons):
                axis = axes[2 * e + row, column]
                axis.imshow(frames[e, column], interpolation="nearest")
                axis.set_xticks([])
                axis.set_yticks([])
                if 2 * e + row == 0:
                    axis.set_title(f"horizon {horizon}", fontsize=8)
                if column == 0:
                    axis.set_ylabel(f"{name}\n{unit} {e}", fontsize=7)
    figure.tight_layout()
    _save_figure(figure, Path(path))
    plt.close(figure)


def metric_rows(result: dict, prefix: str = "") -> list[tuple[str, str]]:
    """(name, value) of every scalar metric, nested dicts flattened to `name.key`; curves left out."""
    rows = []
    for key, value in result.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(metric_rows(value, f"{name}."))
        elif not isinstance(value, list):
            rows.append((name, str(value)))
    return rows


def write_report(result: dict, samples: dict, path: Path, fmt: str) -> dict:
    """Write the page (fmt "html" or "md") and its images; returns the paths written."""
    if fmt not in ("html", "md"):
        raise ConfigError(f"report format {fmt!r}: expected 'html' or 'md'")
    path = Path(path)
    images = {"curves": path.with_name(f"{path.stem}-curves.png"),
              "samples": path.with_name(f"{path.stem}-samples.png")}
    plot_curves(result, images["curves"])
    plot_samples(samples, images["samples"])
    if samples.get("long") is not None:
        images["long_samples"] = path.with_name(f"{path.stem}-long-samples.png")
        plot_samples(samples["long"], images["long_samples"], ("real game", "generated"), "rollout")
    title = f"vidgen eval: {result.get('checkpoint', result['world'])}"
    long_horizons = samples["long"]["horizons"] if samples.get("long") is not None else []
    page = (_html if fmt == "html" else _markdown)(title, metric_rows(result), {k: p.name for k, p in images.items()},
                                                   samples["horizons"], long_horizons)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return {"report": path, **images}


def _markdown(title: str, rows, images: dict, horizons, long_horizons) -> str:
    table = "\n".join(f"| `{name}` | {value} |" for name, value in rows)
    page = (f"# {title}\n\n## Metrics\n\n| metric | value |\n|---|---|\n{table}\n\n"
            f"## Rollout quality against horizon\n\n![PSNR, SSIM, sharpness and realism against horizon]"
            f"({images['curves']})\n\n"
            f"## Samples: real and generated rows at horizons {', '.join(map(str, horizons))}\n\n"
            f"![real and generated frames]({images['samples']})\n")
    if long_horizons:
        page += (f"\n## Long rollouts: the real game and the rollout under the same actions at horizons "
                 f"{', '.join(map(str, long_horizons))}\n\n![long rollout frames]({images['long_samples']})\n")
    return page


def _html(title: str, rows, images: dict, horizons, long_horizons) -> str:
    table = "\n".join(f"<tr><td><code>{html.escape(name)}</code></td><td>{html.escape(value)}</td></tr>"
                      for name, value in rows)
    page = (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>\n"
            "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}td{padding:2px 10px}"
            "tr:nth-child(even){background:#f2f2f2}img{max-width:100%;image-rendering:pixelated}</style>"
            f"</head><body>\n<h1>{html.escape(title)}</h1>\n<h2>Metrics</h2>\n<table>\n{table}\n</table>\n"
            f"<h2>Rollout quality against horizon</h2>\n<img src=\"{html.escape(images['curves'])}\" "
            "alt=\"PSNR, SSIM, sharpness and realism against horizon\">\n"
            f"<h2>Samples: real and generated rows at horizons {', '.join(map(str, horizons))}</h2>\n"
            f"<img src=\"{html.escape(images['samples'])}\" alt=\"real and generated frames\">\n")
    if long_horizons:
        page += (f"<h2>Long rollouts: the real game and the rollout under the same actions at horizons "
                 f"{', '.join(map(str, long_horizons))}</h2>\n"
                 f"<img src=\"{html.escape(images['long_samples'])}\" alt=\"long rollout frames\">\n")
    return page + "</body></html>\n"
