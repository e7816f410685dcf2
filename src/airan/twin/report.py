"""HTML report of one episode: fault ground truth, KPI summary, SINR CDF, per-cell throughput over time with
the fault window, a KPI timeline, a map and the events. Plain HTML + PNG files (matplotlib, Agg)."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from airan.twin.kpis import KPI_UNITS
from airan.twin.result import EpisodeResult

MAX_EVENT_ROWS = 200
_CSS = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        "th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}img{max-width:100%;margin:.5em 0}"
        ".note{color:#666}")


def _windows(result: EpisodeResult) -> list[tuple[float, float, str]]:
    out = []
    for f in result.faults:
        end = f.get("end_rop") if f.get("end_rop") is not None else result.rops
        out.append((float(f["onset_rop"]), float(min(end, result.rops)), f["kind"]))
    return out


def _shade(ax, windows, rop_s):
    for i, (a, b, kind) in enumerate(windows):
        ax.axvspan(a * rop_s, b * rop_s, color="tab:red", alpha=0.12, label=f"fault: {kind}" if i == 0 else None)


def _plots(result: EpisodeResult, out: Path) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = []
    t = np.arange(result.rops) * result.rop_s
    windows = _windows(result)
    faulted = sorted({c for f in result.faults for c in f["cells"]})
    # SINR CDF before / during faults
    fig, ax = plt.subplots(figsize=(6.5, 4))
    rops = np.arange(result.rops)
    inside = np.zeros(result.rops, bool)
    for a, b, _ in windows:
        inside |= (rops >= a) & (rops < b)
    groups = [("no fault", ~inside), ("during fault", inside)] if inside.any() else [("all ROPs", ~inside)]
    for label, m in groups:
        x = result.ue_sinr_db[m].ravel()
        x = np.sort(x[np.isfinite(x)])
        if x.size:
            ax.plot(x, np.arange(1, x.size + 1) / x.size, label=f"{label} ({m.sum()} ROPs)")
    ax.set_xlabel("UE DL SINR [dB]")
    ax.set_ylabel("CDF")
    ax.grid(alpha=0.3)
    ax.legend()
    figs.append(("sinr_cdf.png", "DL SINR CDF of all UEs", fig))
    # per-cell throughput over time
    if "DRB.CellThpDl" in result.kpis:
        fig, ax = plt.subplots(figsize=(9, 4))
        thp = result.kpis["DRB.CellThpDl"]
        for c in range(thp.shape[1]):
            if c not in faulted:
                ax.plot(t, thp[:, c], color="0.7", lw=0.6)
        for c in faulted:
            ax.plot(t, thp[:, c], lw=2.2, label=f"cell {c} (faulted)")
        _shade(ax, windows, result.rop_s)
        ax.set_xlabel("time [s]")
        ax.set_ylabel("cell DL throughput [Mbit/s]")
        ax.grid(alpha=0.3)
        if faulted or windows:
            ax.legend(loc="upper right", fontsize=8)
        figs.append(("cell_throughput.png", "Per-cell DL throughput (grey: other cells)", fig))
    # network KPI timeline
    panels = [(k, how) for k, how in (("DRB.UEThpDl", "mean"), ("RRU.PrbUsedDl", "mean"), ("L1M.SINR", "mean"),
                                      ("HO.AttOut", "sum"), ("RLF.Count", "sum"), ("PEE.Energy", "sum"))
              if k in result.kpis]
    if panels:
        fig, axes = plt.subplots(2, 3, figsize=(12, 6), sharex=True)
        for ax, (k, how) in zip(axes.ravel(), panels):
            v = result.kpis[k]
            y = np.nanmean(v, axis=1) if how == "mean" else np.nansum(v, axis=1)
            ax.plot(t, y)
            _shade(ax, windows, result.rop_s)
            ax.set_title(f"{k} ({how} over cells) [{KPI_UNITS.get(k, '')}]", fontsize=9)
            ax.grid(alpha=0.3)
        for ax in axes[-1]:
            ax.set_xlabel("time [s]")
        figs.append(("kpi_timeline.png", "Network KPIs over time", fig))
    # map
    fig, ax = plt.subplots(figsize=(6.5, 6))
    ax.scatter(result.ue_xy[:, 0], result.ue_xy[:, 1], s=4, color="tab:blue", alpha=0.5, label="UEs")
    ax.scatter(result.cell_xy[:, 0], result.cell_xy[:, 1], marker="^", s=60, color="k", label="sites")
    for c in faulted:
        ax.scatter(*result.cell_xy[c], marker="^", s=160, color="tab:red", label=f"faulted cell {c}")
    ax.set_xlabel("x [m]")
    ax.set_ylabel("y [m]")
    ax.set_aspect("equal")
    ax.legend(fontsize=8)
    figs.append(("map.png", "Sites and UE positions at the last ROP", fig))
    out_list = []
    for name, caption, f in figs:
        f.tight_layout()
        f.savefig(out / name, dpi=100)
        plt.close(f)
        out_list.append((name, caption))
    return out_list


def _fmt(v) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.4g}"


def write_report(result: EpisodeResult, out_dir: str | Path, *, title: str | None = None) -> Path:
    """Write ``out_dir/report.html`` and its PNGs; return the HTML path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    e = html.escape
    title = title or f"airan run {result.run_id}"
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title><style>{_CSS}</style>"
             f"</head><body><h1>{e(title)}</h1>",
             f"<p>run <b>{e(result.run_id)}</b> &middot; scenario {e(result.scenario)} &middot; seed {result.seed}"
             f" &middot; {result.rops} ROPs of {result.rop_s:g} s &middot; {result.num_cells} cells</p>",
             "<h2>Fault ground truth</h2>"]
    if result.faults:
        parts.append("<table><tr><th>kind</th><th>cells</th><th>severity</th><th>onset ROP</th><th>ramp</th>"
                     "<th>end ROP</th></tr>")
        for f in result.faults:
            parts.append(f"<tr><td>{e(f['kind'])}</td><td>{e(', '.join(map(str, f['cells'])))}</td>"
                         f"<td>{f['severity']:.2f}</td><td>{f['onset_rop']}</td><td>{f['ramp_rops']}</td>"
                         f"<td>{'end' if f.get('end_rop') is None else f['end_rop']}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p class='note'>No fault injected.</p>")
    parts.append("<h2>KPI summary (over cells x ROPs)</h2><table><tr><th>KPI</th><th>unit</th><th>mean</th>"
                 "<th>p5</th><th>p50</th><th>p95</th></tr>")
    for name, s in result.kpi_summary().items():
        parts.append(f"<tr><td>{e(name)}</td><td>{e(KPI_UNITS.get(name, ''))}</td>"
                     + "".join(f"<td>{_fmt(s[k])}</td>" for k in ("mean", "p5", "p50", "p95")) + "</tr>")
    parts.append("</table><h2>Plots</h2>")
    for name, caption in _plots(result, out):
        parts.append(f"<figure><img src='{e(name)}' alt='{e(caption)}'><figcaption>{e(caption)}</figcaption></figure>")
    parts.append("<h2>Events</h2>")
    if result.events:
        parts.append("<table><tr><th>ROP</th><th>kind</th><th>name</th><th>cell</th><th>detail</th></tr>")
        for ev in result.events[:MAX_EVENT_ROWS]:
            detail = ", ".join(f"{k}={v}" for k, v in ev.detail.items() if k not in ("params",))
            parts.append(f"<tr><td>{ev.rop}</td><td>{e(ev.kind)}</td><td>{e(ev.name)}</td>"
                         f"<td>{'' if ev.cell is None else ev.cell}</td><td>{e(detail)}</td></tr>")
        parts.append("</table>")
        if len(result.events) > MAX_EVENT_ROWS:
            parts.append(f"<p class='note'>{len(result.events) - MAX_EVENT_ROWS} more events left out.</p>")
    else:
        parts.append("<p class='note'>No events.</p>")
    parts.append("</body></html>")
    path = out / "report.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
