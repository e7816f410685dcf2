"""Data-quality assessment of CSI datasets (the seeds' quality dimensions: completeness, validity,
statistics, and similarity/diversity between datasets or configurations).

Per-sample features on unit-power channels: temporal correlation at one slot, frequency correlation at one
subcarrier, angular entropy (of the antenna-DFT power, 0 = one beam, 1 = uniform), log10 delay spread and
path gain. Similarity between two sets = squared maximum mean discrepancy (MMD^2, RBF kernel, median
bandwidth) of standardised features; ``similarity`` = exp(-MMD^2) in (0, 1].
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from airan.data.reader import CsiDataset

FEATURES = ("time_corr", "freq_corr", "angular_entropy", "log10_delay_spread", "path_gain_db")
MAX_PER_CONFIG = 256


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    num = np.abs(np.sum(a * b.conj(), axis=-1))
    den = np.sqrt(np.sum(np.abs(a) ** 2, axis=-1) * np.sum(np.abs(b) ** 2, axis=-1)) + 1e-30
    return num / den


def sample_features(h: np.ndarray, delay_spread_s: np.ndarray, path_gain_db: np.ndarray) -> np.ndarray:
    """[N, len(FEATURES)] float64 from h [N, T, A, S] complex64."""
    n, t, a, s = h.shape
    flat_t = h.reshape(n, t, a * s)
    tc = _corr(flat_t[:, :-1], flat_t[:, 1:]).mean(axis=1) if t > 1 else np.ones(n)
    hs = np.moveaxis(h, 3, 1).reshape(n, s, t * a)
    fc = _corr(hs[:, :-1], hs[:, 1:]).mean(axis=1) if s > 1 else np.ones(n)
    beam_p = (np.abs(np.fft.fft(h, axis=2)) ** 2).sum(axis=(1, 3))
    p = beam_p / beam_p.sum(axis=1, keepdims=True)
    ent = -(p * np.log(p + 1e-30)).sum(axis=1) / np.log(a) if a > 1 else np.zeros(n)
    return np.stack([tc, fc, ent, np.log10(np.maximum(delay_spread_s, 1e-10)), path_gain_db], axis=1)


def mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased-ish MMD^2 with an RBF kernel, bandwidth = median pairwise distance of the pooled set."""
    z = np.concatenate([x, y])
    d2 = np.sum((z[:, None] - z[None]) ** 2, axis=-1)
    bw = np.median(d2[d2 > 0]) if np.any(d2 > 0) else 1.0
    k = np.exp(-d2 / bw)
    n = len(x)
    kxx, kyy, kxy = k[:n, :n], k[n:, n:], k[:n, n:]
    return float(kxx.mean() + kyy.mean() - 2 * kxy.mean())


def _features_by_config(ds: CsiDataset) -> dict[str, np.ndarray]:
    out: dict[str, list[np.ndarray]] = {}
    counts: dict[str, int] = {}
    for s in ds.manifest["shards"]:
        if counts.get(s["config"], 0) >= MAX_PER_CONFIG:
            continue
        d = ds.shard(s["path"])
        f = sample_features(d["h"], d["delay_spread_s"], d["path_gain_db"])
        out.setdefault(s["config"], []).append(f)
        counts[s["config"]] = counts.get(s["config"], 0) + len(f)
    return {k: np.concatenate(v)[:MAX_PER_CONFIG] for k, v in out.items()}


def assess(path: str | Path, compare: str | Path | None = None, plot: str | Path | None = None) -> dict[str, Any]:
    """Quality report of the dataset at ``path`` (and its similarity to ``compare`` if given)."""
    ds = CsiDataset(path)
    expected = {c: 0 for c in ds.configs}
    for s in ds.manifest["shards"]:
        expected[s["config"]] += s["samples"]
    present = sum(1 for s in ds.manifest["shards"] if (Path(path) / s["path"]).exists())
    per_config: dict[str, Any] = {}
    nonfinite = 0
    los = []
    for s in ds.manifest["shards"]:
        d = ds.shard(s["path"])
        nonfinite += int((~np.isfinite(d["h"].view(np.float32))).sum())
        los.append(d["los"])
        pc = per_config.setdefault(s["config"], {"samples": 0, "gain": [], "los": [], "ds": []})
        pc["samples"] += len(d["los"])
        pc["gain"].append(d["path_gain_db"])
        pc["los"].append(d["los"])
        pc["ds"].append(d["delay_spread_s"])
    feats = _features_by_config(ds)
    configs = {}
    for name, pc in per_config.items():
        g, ds_s = np.concatenate(pc["gain"]), np.concatenate(pc["ds"])
        configs[name] = {"samples": pc["samples"], "path_gain_db_mean": float(g.mean()),
                         "path_gain_db_std": float(g.std()), "los_ratio": float(np.concatenate(pc["los"]).mean()),
                         "delay_spread_ns_median": float(np.median(ds_s) * 1e9),
                         "features_mean": dict(zip(FEATURES, feats[name].mean(axis=0).round(4).tolist()))}
    names = sorted(feats)
    allf = np.concatenate([feats[n] for n in names])
    mu, sd = allf.mean(axis=0), allf.std(axis=0) + 1e-12
    z = {n: (feats[n] - mu) / sd for n in names}
    pair = {f"{a}|{b}": mmd2(z[a], z[b]) for i, a in enumerate(names) for b in names[i + 1:]}
    report: dict[str, Any] = {
        "dir": str(path), "family": ds.manifest["family"]["name"], "samples": len(ds),
        "completeness": {"shards_listed": len(ds.manifest["shards"]), "shards_present": present,
                         "samples_per_config": expected},
        "nonfinite_values": nonfinite, "los_ratio": float(np.concatenate(los).mean()), "configs": configs,
        "diversity": {"mean_pairwise_mmd2": float(np.mean(list(pair.values()))) if pair else 0.0,
                      "pairwise_mmd2": pair}}
    if compare is not None:
        other = _features_by_config(CsiDataset(compare))
        of = np.concatenate(list(other.values()))
        m = mmd2((allf - mu) / sd, (of - mu) / sd)
        report["similarity"] = {"to": str(compare), "mmd2": m, "similarity": float(np.exp(-m))}
    if plot is not None:
        _plot(feats, Path(plot))
        report["plot"] = str(plot)
    return report


def _plot(feats: dict[str, np.ndarray], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(FEATURES), figsize=(4 * len(FEATURES), 3.4))
    for j, (ax, name) in enumerate(zip(axes, FEATURES)):
        for cfg, f in sorted(feats.items()):
            ax.hist(f[:, j], bins=30, histtype="step", density=True, label=cfg)
        ax.set_xlabel(name)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("density")
    axes[-1].legend(fontsize=6)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
