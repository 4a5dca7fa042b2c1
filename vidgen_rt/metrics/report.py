"""The evaluation report: curves per horizon, sample strips, and a one-page HTML or Markdown file.

`plot_curves` draws free-running PSNR and SSIM against rollout horizon (with the repeat-last-frame
baseline, the teacher-forced and tokenizer levels). `write_report` writes the page at PATH and, next
to it, `<stem>-curves.png` and `<stem>-samples.png`: for the first few held-out episodes, a row of
real frames and a row of generated frames at horizons 1, 4, 16 and 64. The page holds every scalar
metric (nested ones as `name.key`), then the two images, referenced by relative path.
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
    """PSNR (left) and SSIM (right) of the free-running rollout against horizon, as a PNG."""
    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5), dpi=120)
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
    for axis in (left, right):
        axis.set_xscale("log")
        axis.set_xlabel("horizon (frames)")
        axis.legend(loc="lower left", fontsize=7)
    figure.suptitle(f"{result['world']}: rollout quality against horizon ({result['episodes']} held-out episodes)")
    figure.tight_layout()
    _save_figure(figure, Path(path))
    plt.close(figure)


def plot_samples(samples: dict, path: Path) -> None:
    """Rows of real and generated frames at each sampled horizon, for the first few episodes."""
    plt = _pyplot()
    horizons, real, generated = samples["horizons"], samples["real"], samples["generated"]
    episodes = min(SAMPLE_EPISODES, len(real))
    figure, axes = plt.subplots(2 * episodes, len(horizons), figsize=(1.6 * len(horizons), 1.7 * 2 * episodes),
                                dpi=120, squeeze=False)
    for e in range(episodes):
        for row, (name, frames) in enumerate((("real", real), ("generated", generated))):
            for column, horizon in enumerate(horizons):
                axis = axes[2 * e + row, column]
                axis.imshow(frames[e, column], interpolation="nearest")
                axis.set_xticks([])
                axis.set_yticks([])
                if 2 * e + row == 0:
                    axis.set_title(f"horizon {horizon}", fontsize=8)
                if column == 0:
                    axis.set_ylabel(f"{name}\nepisode {e}", fontsize=7)
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
    """Write the page (fmt "html" or "md") and its two images; returns the paths written."""
    if fmt not in ("html", "md"):
        raise ConfigError(f"report format {fmt!r}: expected 'html' or 'md'")
    path = Path(path)
    images = {"curves": path.with_name(f"{path.stem}-curves.png"),
              "samples": path.with_name(f"{path.stem}-samples.png")}
    plot_curves(result, images["curves"])
    plot_samples(samples, images["samples"])
    title = f"vidgen eval: {result.get('checkpoint', result['world'])}"
    page = (_html if fmt == "html" else _markdown)(title, metric_rows(result), {k: p.name for k, p in images.items()},
                                                   samples["horizons"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return {"report": path, **images}


def _markdown(title: str, rows, images: dict, horizons) -> str:
    table = "\n".join(f"| `{name}` | {value} |" for name, value in rows)
    return (f"# {title}\n\n## Metrics\n\n| metric | value |\n|---|---|\n{table}\n\n"
            f"## Rollout quality against horizon\n\n![PSNR and SSIM against horizon]({images['curves']})\n\n"
            f"## Samples: real and generated rows at horizons {', '.join(map(str, horizons))}\n\n"
            f"![real and generated frames]({images['samples']})\n")


def _html(title: str, rows, images: dict, horizons) -> str:
    table = "\n".join(f"<tr><td><code>{html.escape(name)}</code></td><td>{html.escape(value)}</td></tr>"
                      for name, value in rows)
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>\n"
            "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}td{padding:2px 10px}"
            "tr:nth-child(even){background:#f2f2f2}img{max-width:100%;image-rendering:pixelated}</style>"
            f"</head><body>\n<h1>{html.escape(title)}</h1>\n<h2>Metrics</h2>\n<table>\n{table}\n</table>\n"
            f"<h2>Rollout quality against horizon</h2>\n<img src=\"{html.escape(images['curves'])}\" "
            "alt=\"PSNR and SSIM against horizon\">\n"
            f"<h2>Samples: real and generated rows at horizons {', '.join(map(str, horizons))}</h2>\n"
            f"<img src=\"{html.escape(images['samples'])}\" alt=\"real and generated frames\">\n</body></html>\n")
