"""HTML report of one episode: run facts, fault ground truth, KPI summary, plots and events.

Plain HTML with inline CSS (no JS, no external URLs); the plots are PNG files written next to ``report.html``
by matplotlib's Agg canvas (no pyplot, so no global backend state is touched) and linked by relative path.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from airan.twin.kpis import KPI_NAMES, KPI_UNITS
from airan.twin.result import EpisodeResult

MAX_EVENT_ROWS = 200
DPI = 110
# (KPI, aggregation over cells) of the timeline panels; absent KPIs are skipped
TIMELINE_KPIS = (("DRB.UEThpDl", "mean"), ("RRU.PrbUsedDl", "mean"), ("L1M.SINR", "mean"),
                 ("HO.AttOut", "sum"), ("RLF.Count", "sum"), ("PEE.Energy", "sum"))
_FAULT_COLORS = ("tab:red", "tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:olive")
_CSS = ("body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1150px;color:#222;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0;font-size:.9em}td,th{border:1px solid #ccc;padding:3px 8px;"
        "text-align:left}th{background:#f3f3f3}table.num td+td+td{text-align:right;font-variant-numeric:tabular-nums}"
        "img{max-width:100%}figure{margin:1em 0}figcaption{color:#555;font-size:.9em}.note{color:#666}")
Window = tuple[int, int, int, str]  # (onset ROP, end ROP exclusive, ramp ROPs, fault kind), clipped to the episode


def _windows(result: EpisodeResult) -> list[Window]:
    out = []
    for f in result.faults:
        onset = max(0, int(f.get("onset_rop", 0)))
        end = result.rops if f.get("end_rop") is None else min(int(f["end_rop"]), result.rops)
        if onset < end:
            out.append((onset, end, int(f.get("ramp_rops", 0)), str(f.get("kind", "?"))))
    return out


def _faulted_cells(result: EpisodeResult) -> list[int]:
    return sorted({int(c) for f in result.faults for c in f.get("cells", []) if 0 <= int(c) < result.num_cells})


def _check(result: EpisodeResult) -> None:
    """Shapes at the boundary: every KPI [rops, num_cells], ue_sinr_db [rops, num_ues], xy [n, 2]."""
    for name, v in result.kpis.items():
        if v.shape != (result.rops, result.num_cells):
            raise ValueError(f"KPI {name!r} has shape {v.shape}, expected {(result.rops, result.num_cells)}")
    if result.ue_sinr_db.ndim != 2 or result.ue_sinr_db.shape[0] != result.rops:
        raise ValueError(f"ue_sinr_db has shape {result.ue_sinr_db.shape}, expected ({result.rops}, num_ues)")
    for name in ("cell_xy", "ue_xy"):
        xy = getattr(result, name)
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise ValueError(f"{name} has shape {xy.shape}, expected (n, 2)")


def _shade(ax: Axes, windows: list[Window], rop_s: float, text: bool = False) -> None:
    """Shade each fault window [onset, end) on a time axis [s]; the ramp lighter; one legend entry per kind."""
    colors: dict[str, str] = {}
    for onset, end, ramp, kind in windows:
        new = kind not in colors
        color = colors.setdefault(kind, _FAULT_COLORS[len(colors) % len(_FAULT_COLORS)])
        a, b = (onset - 0.5) * rop_s, (end - 0.5) * rop_s  # ROP k is drawn at k * rop_s
        r = min(onset + ramp, end) - 0.5
        if ramp:
            ax.axvspan(a, r * rop_s, color=color, alpha=0.07, lw=0)
        ax.axvspan(r * rop_s if ramp else a, b, color=color, alpha=0.16, lw=0,
                   label=f"fault window: {kind}" if new else None)
        if text:
            ax.text(a, 0.98, f" {kind}", transform=ax.get_xaxis_transform(), va="top", fontsize=8, color=color)


def _finalize(fig: Figure, out: Path, name: str) -> str:
    FigureCanvasAgg(fig)
    fig.savefig(out / name, dpi=DPI)
    return name


def _plot_sinr_cdf(result: EpisodeResult, windows: list[Window], ax: Axes) -> None:
    rops = np.arange(result.rops)
    if windows:
        inside = np.zeros(result.rops, dtype=bool)
        for onset, end, _, _ in windows:
            inside |= (rops >= onset) & (rops < end)
        groups = [("before fault onset", rops < min(w[0] for w in windows)), ("inside fault window", inside)]
    else:
        groups = [("all ROPs", np.ones(result.rops, dtype=bool))]
    drawn = 0
    for label, mask in groups:
        x = result.ue_sinr_db[mask].ravel()  # (n_rops_in_group * num_ues,) [dB], NaN = unserved
        x = np.sort(x[np.isfinite(x)])
        if x.size:
            ax.step(x, np.arange(1, x.size + 1) / x.size, where="post",
                    label=f"{label}: {int(mask.sum())} ROPs, median {np.median(x):.1f} dB")
            drawn += 1
    if not drawn:
        ax.text(0.5, 0.5, "no served UE samples", ha="center", transform=ax.transAxes)
    ax.set(xlabel="UE DL SINR [dB]", ylabel="empirical CDF", ylim=(0, 1.02), title="DL SINR of served UEs")
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(loc="lower right", fontsize=8)


def _plot_cell_thp(result: EpisodeResult, windows: list[Window], faulted: list[int], ax: Axes) -> None:
    t = np.arange(result.rops) * result.rop_s  # (num_rops,) [s]
    thp = result.kpis["DRB.CellThpDl"]  # (num_rops, num_cells) [Mbit/s]
    marker = "o" if result.rops == 1 else None
    for c in range(result.num_cells):
        if c not in faulted:
            ax.plot(t, thp[:, c], color="0.65", lw=0.7, marker=marker, label="other cells" if c == 0 else None)
    kinds = {c: ", ".join(sorted({str(f["kind"]) for f in result.faults if c in f.get("cells", [])})) for c in faulted}
    for i, c in enumerate(faulted):
        ax.plot(t, thp[:, c], lw=2.2, marker=marker, color=f"C{i % 10}", label=f"cell {c} ({kinds[c]})")
    _shade(ax, windows, result.rop_s, text=True)
    ax.set(xlabel="time [s]", ylabel=f"DRB.CellThpDl [{KPI_UNITS['DRB.CellThpDl']}]",
           title="Per-cell DL throughput (faulted cells highlighted)")
    top = ax.secondary_xaxis("top", functions=(lambda s: s / result.rop_s, lambda r: r * result.rop_s))
    top.set_xlabel("ROP")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)


def _aggregate(v: np.ndarray, how: str) -> np.ndarray:
    """[num_rops, num_cells] -> [num_rops] mean or sum over finite cells; NaN where no cell is finite."""
    has = np.isfinite(v).any(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        y = np.nanmean(v, axis=1) if how == "mean" else np.nansum(v, axis=1)
    return np.where(has, y, np.nan)


def _plot_timeline(result: EpisodeResult, windows: list[Window], panels: list[tuple[str, str]], fig: Figure) -> None:
    t = np.arange(result.rops) * result.rop_s  # (num_rops,) [s]
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    axes = fig.subplots(nrows, ncols, sharex=True, squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        if i >= len(panels):
            ax.set_visible(False)
            continue
        name, how = panels[i]
        ax.plot(t, _aggregate(result.kpis[name], how), color="tab:blue", marker="o" if result.rops == 1 else None)
        _shade(ax, windows, result.rop_s)
        ax.set_title(f"{name} ({how} over cells)", fontsize=9)
        ax.set_ylabel(f"[{KPI_UNITS.get(name, '')}]", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        if i >= len(panels) - ncols:
            ax.set_xlabel("time [s]", fontsize=8)
            ax.xaxis.set_tick_params(labelbottom=True)
    if windows:
        fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="upper right", fontsize=8)
    fig.suptitle("Network-wide KPIs over time", fontsize=11)


def _plot_map(result: EpisodeResult, faulted: list[int], ax: Axes) -> None:
    ax.scatter(result.ue_xy[:, 0], result.ue_xy[:, 1], s=6, color="tab:blue", alpha=0.5,
               label=f"UEs ({result.ue_xy.shape[0]}, last ROP)")
    ok = [c for c in range(result.num_cells) if c not in faulted]
    ax.scatter(result.cell_xy[ok, 0], result.cell_xy[ok, 1], marker="^", s=70, color="k", label="cells")
    if faulted:
        ax.scatter(result.cell_xy[faulted, 0], result.cell_xy[faulted, 1], marker="^", s=180, color="tab:red",
                   edgecolor="k", label=f"faulted cells: {', '.join(map(str, faulted))}")
    sites: dict[tuple[float, float], list[int]] = {}  # co-sited sectors share one label
    for c, (x, y) in enumerate(result.cell_xy):
        sites.setdefault((round(float(x), 1), round(float(y), 1)), []).append(c)
    for (x, y), cells in sites.items():
        ax.annotate(",".join(map(str, cells)), (x, y), xytext=(5, 5), textcoords="offset points", fontsize=7)
    ax.set(xlabel="x [m]", ylabel="y [m]", aspect="equal", title="Cells (ids) and UE positions")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)


def _plots(result: EpisodeResult, out: Path) -> list[tuple[str, str]]:
    """Write the PNGs into ``out``; return (file name, caption) of each written plot."""
    windows, faulted = _windows(result), _faulted_cells(result)
    panels = [(k, how) for k, how in TIMELINE_KPIS if k in result.kpis]
    jobs: list[tuple[str, str, tuple[float, float], Callable[[Figure], Any]]] = [
        ("sinr_cdf.png", "Empirical CDF of UE DL SINR before and inside the fault window", (7, 4.5),
         lambda fig: _plot_sinr_cdf(result, windows, fig.subplots())),
        ("map.png", "Cell positions (faulted cells in red) and UE positions at the last ROP", (8.5, 6.5),
         lambda fig: _plot_map(result, faulted, fig.subplots())),
    ]
    if "DRB.CellThpDl" in result.kpis:
        jobs.insert(1, ("cell_throughput.png", "Per-cell DL throughput; shaded: fault window (lighter: ramp)",
                        (11, 4.8), lambda fig: _plot_cell_thp(result, windows, faulted, fig.subplots())))
    if panels:
        height = 3.2 * -(-len(panels) // 3) + 0.6  # one 3.2 in row per 3 panels + the title
        jobs.insert(-1, ("kpi_timeline.png", "Network-wide KPIs per ROP; shaded: fault window", (12, height),
                         lambda fig: _plot_timeline(result, windows, panels, fig)))
    written = []
    for name, caption, size, draw in jobs:
        fig = Figure(figsize=size, layout="constrained")
        draw(fig)
        written.append((_finalize(fig, out, name), caption))
    return written


def _fmt(v: Any) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.4g}"


def _table(header: list[str], rows: list[list[str]], css_class: str = "") -> str:
    """HTML table of already escaped cells; ``css_class='num'`` right-aligns the columns after the second."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    cls = f" class='{css_class}'" if css_class else ""
    return f"<table{cls}><tr>{head}</tr>{body}</table>"


def write_report(result: EpisodeResult, out_dir: str | Path, *, title: str | None = None) -> Path:
    """Write ``out_dir/report.html`` and its PNGs (``sinr_cdf``, ``cell_throughput``, ``kpi_timeline``,
    ``map``; the two KPI plots only when their KPIs are present); return the HTML path."""
    _check(result)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    e = html.escape
    title = title or f"airan run {result.run_id}"
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{e(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{e(title)}</h1>",
             f"<p>run id <b>{e(result.run_id)}</b> &middot; scenario <b>{e(result.scenario)}</b> &middot; "
             f"seed {result.seed} &middot; {result.rops} ROPs of {result.rop_s:g} s &middot; "
             f"{result.num_cells} cells &middot; {result.ue_sinr_db.shape[1]} UEs</p>", "<h2>Fault ground truth</h2>"]
    if result.faults:
        rows = [[e(str(f.get("kind", "?"))), e(str(f.get("mode") or "")), e(", ".join(map(str, f.get("cells", [])))),
                 f"{float(f.get('severity', np.nan)):.2f}", e(str(f.get("onset_rop", ""))),
                 e(str(f.get("ramp_rops", 0))), "end" if f.get("end_rop") is None else e(str(f["end_rop"]))]
                for f in result.faults]
        parts.append(_table(["kind", "mode", "cells", "severity", "onset ROP", "ramp ROPs", "end ROP"], rows))
    else:
        parts.append("<p class='note'>No fault injected.</p>")
    summary = result.kpi_summary()
    names = [k for k in KPI_NAMES if k in summary] + sorted(k for k in summary if k not in KPI_NAMES)
    parts.append("<h2>KPI summary (over cells &times; ROPs)</h2>" + _table(
        ["KPI", "unit", "mean", "p5", "p50", "p95"],
        [[e(k), e(KPI_UNITS.get(k, "")), *(_fmt(summary[k][s]) for s in ("mean", "p5", "p50", "p95"))]
         for k in names], css_class="num"))
    parts.append("<h2>Plots</h2>")
    for name, caption in _plots(result, out):
        parts.append(f"<figure><img src='{e(name)}' alt='{e(caption)}'><figcaption>{e(caption)}</figcaption></figure>")
    parts.append(f"<h2>Events ({len(result.events)})</h2>")
    if result.events:
        rows = []
        for ev in result.events[:MAX_EVENT_ROWS]:
            detail = ", ".join(f"{k}={v}" for k, v in ev.detail.items())
            detail = detail if len(detail) <= 160 else detail[:157] + "..."
            rows.append([str(ev.rop), e(ev.kind), e(ev.name), "" if ev.cell is None else str(ev.cell),
                         e(detail)])
        parts.append(_table(["ROP", "kind", "name", "cell", "detail"], rows))
        if len(result.events) > MAX_EVENT_ROWS:
            parts.append(f"<p class='note'>Showing the first {MAX_EVENT_ROWS} events; "
                         f"{len(result.events) - MAX_EVENT_ROWS} more were left out.</p>")
    else:
        parts.append("<p class='note'>No events.</p>")
    parts.append("</body></html>\n")
    path = out / "report.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
