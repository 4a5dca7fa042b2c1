"""Presenting a benchmark report: the console table, the PNG (latency distributions and fps per
backend against its floor) and the Markdown table the README's Performance section is generated
from. Reports written before the floor was measured render it as "—"."""

from __future__ import annotations

from pathlib import Path

from vidgen_rt.atomic import write_json_atomic


def _cell(value, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _percent(fraction) -> str:
    return "—" if fraction is None else f"{100 * fraction:.1f} %"


def _floor(row: dict) -> str:
    """A row's floor in frames/s and its bound, e.g. "1012 (compute)"; "—" where there is none."""
    fps = row.get("floor_fps")
    return "—" if fps is None else f"{fps:.0f} ({row['floor_bound']})"


def _measured(report: dict) -> str:
    """The run's measured peaks and bandwidth, as the tables' footers state them."""
    peaks = ", ".join(f"{k} {v:.0f}" for k, v in report["peak_gflops"].items())
    bandwidth = report.get("bandwidth_gbs")
    measured = "not measured" if bandwidth is None else f"{bandwidth:.1f} GB/s"
    stolen = report["machine"].get("steal_fraction")
    # A virtual machine whose host is busy loses CPU time to it; figures then swing between runs.
    steal = "" if stolen is None else f"; CPU time stolen by the host {100 * stolen:.1f} %"
    fixed = report.get("fixed_work_tail")
    # The same work repeated: its tail is the machine's, the least any row's p99 / p50 can be.
    tail = "" if fixed is None else (f"; fixed work p99 / p50 {fixed['p99_over_p50']:.2f}, "
                                     f"{100 * fixed['long_unit_fraction']:.1f} % of units stalled > 1 ms")
    return f"peak GFLOP/s {peaks}; read bandwidth {measured}{steal}{tail}"


def row_label(row: dict) -> str:
    """A result row's backend, with the sampling steps K of a flow head (one row per K)."""
    return row["backend"] + (f" K={row['sampling_steps']}" if row.get("sampling_steps") else "")


def console_table(report: dict) -> str:
    multi = report["scenario"] == "multi"
    width = max([22] + [len(row_label(row)) + 2 for row in report["results"]])
    lines = [f"{'backend':<{width}}{'precision':<10}{'batch':>6}{'fps':>10}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"
             f"{'% peak':>9}{'floor fps':>20}{'% floor':>9}" + ("  players" if multi else "")]
    for row in report["results"]:
        if row.get("skipped"):
            lines.append(f"{row_label(row):<{width}}{row['precision']:<10}  skipped: {row['skipped']}")
            continue
        lines.append(f"{row_label(row):<{width}}{row['precision']:<10}{row['batch']:>6}{row['fps']:>10.1f}"
                     f"{row['p50_ms']:>9.2f}{row['p90_ms']:>9.2f}{row['p99_ms']:>9.2f}"
                     f"{_percent(row['roofline_fraction']):>9}{_floor(row):>20}{_percent(row.get('floor_fraction')):>9}"
                     + (f"{row['players']:>9}" if multi else ""))
    lines.append(f"model {report['model']['preset']}: {report['model']['gflops_per_frame']['total']:.4f} "
                 f"GFLOP/frame; measured {_measured(report)}")
    return "\n".join(lines)


def markdown_table(report: dict) -> str:
    """One Markdown table of a report's results, with the run's context underneath."""
    scenario = report["scenario"]
    extra = {"multi": " players |", "offline": " batch |"}.get(scenario, "")
    lines = [f"| backend | precision | fps | frame p50 ms | frame p99 ms | latency p50 / p99 ms | % of peak "
             f"| floor fps (bound) | % of floor |{extra}",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if extra else "")]
    for row in report["results"]:
        if row.get("skipped"):
            lines.append(f"| {row_label(row)} | {row['precision']} | skipped: {row['skipped'].splitlines()[0]} "
                         f"| | | | | | |" + (" |" if extra else ""))
            continue
        tail = {"multi": f" {row.get('players')} |", "offline": f" {row.get('batch')} |"}.get(scenario, "")
        # A pipelined backend hands frames over faster than one frame takes; elsewhere both are the same.
        latency = row.get("latency") or {"p50_ms": row["p50_ms"], "p99_ms": row["p99_ms"]}
        lines.append(f"| {row_label(row)} | {row['precision']} | {_cell(row['fps'])} | {_cell(row['p50_ms'], 2)} "
                     f"| {_cell(row['p99_ms'], 2)} | {_cell(latency['p50_ms'], 2)} / {_cell(latency['p99_ms'], 2)} "
                     f"| {_percent(row['roofline_fraction'])} | {_floor(row)} "
                     f"| {_percent(row.get('floor_fraction'))} |{tail}")
    machine = report["machine"]
    load = machine.get("load_average_before")
    lines.append("")
    lines.append(f"`{scenario}`, {report['date'][:10]}: {report['model']['preset']} model, "
                 f"{report['model']['gflops_per_frame']['total']:.3f} GFLOP/frame; {machine['cpu']}, "
                 f"{machine['cores']} cores, {report['settings']['threads']} threads"
                 + (f", load average {load[0]:.2f} at start" if load else "")
                 + f"; {_measured(report)}.")
    return "\n".join(lines)


def write_plot(report: dict, latencies: dict, path: Path) -> None:
    """Left: end-to-end latency per frame, one box per backend (log scale); right: fps per backend,
    a tick at its floor."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.ticker
    from matplotlib import pyplot as plt

    rows = [row for row in report["results"] if not row.get("skipped") and row_label(row) in latencies]
    names = [row_label(row) for row in rows]
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 0.6 * len(rows) + 2.5))
    left.boxplot([latencies[name] for name in names], orientation="horizontal", whis=(1, 99), showfliers=False)
    left.set_yticks(range(1, len(names) + 1), names)
    left.set_xscale("log")
    plain = matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}")
    left.xaxis.set_major_formatter(plain)
    left.xaxis.set_minor_locator(matplotlib.ticker.LogLocator(subs=(2.0, 5.0)))  # 1-2-5 labels read
    left.xaxis.set_minor_formatter(plain)
    left.set_xlabel("ms per frame (box: p25-p75, whiskers: p1-p99)")
    if report["scenario"] == "multi":
        budget = rows[0]["budget_ms"] if rows else None
        if budget:
            left.axvline(budget, color="tab:red", linestyle="--", label=f"budget {budget:.1f} ms")
            left.legend(loc="lower right")
    right.barh(range(1, len(names) + 1), [row["fps"] for row in rows], color="tab:blue")
    right.set_yticks(range(1, len(names) + 1), [""] * len(names))
    right.set_xscale("log")
    right.set_xlabel("frames per second (all players)")
    floors = [(y, row["floor_fps"]) for y, row in enumerate(rows, start=1) if row.get("floor_fps")]
    if floors:
        right.scatter([fps for _, fps in floors], [y for y, _ in floors], marker="|", s=300, color="black",
                      label="floor (fps)", zorder=3)
        right.legend(loc="lower right", fontsize=8)
    if rows:  # room for the labels and the floor ticks
        right.set_xlim(right=max([row["fps"] * 8 for row in rows] + [fps * 1.5 for _, fps in floors]))
    left.invert_yaxis()  # the first backend asked for on top
    right.invert_yaxis()
    for y, row in enumerate(rows, start=1):
        label = f" {row['fps']:.0f} fps, {_percent(row['roofline_fraction'])} of {row['precision']} peak"
        if row.get("floor_fraction") is not None:
            label += f", {_percent(row['floor_fraction'])} of floor"
        if report["scenario"] == "multi":
            label += f", {row['players']} players"
        right.text(row["fps"], y, label, va="center", fontsize=8, zorder=4,  # over the floor ticks
                   bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1})
    model = report["model"]
    figure.suptitle(f"vidgen bench {report['scenario']}: {model['preset']} "
                    f"({model['gflops_per_frame']['total']:.3f} GFLOP/frame), {report['machine']['cpu']}, "
                    f"{report['settings']['threads']} threads, {report['date'][:10]}", fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_json(report: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, report)
