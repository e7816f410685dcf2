"""Calibration of the twin's large-scale tier against Sionna's own TR 38.901 system-level computation.

On one Sionna drop (same topology, LSPs and antennas):
- ours: coupling loss = path loss + shadow fading (Sionna LSPs) - BS gain of our closed-form 38.901 element
  pattern x tilted column array factor, averaged over each link's angular spread (ASD/ZSD/ZOD offset/K from
  the same LSPs) around the geometric LoS direction (what the twin steps every ROP);
- Sionna: coupling loss from the full channel (all clusters and rays through the 38.901 element pattern of
  every element of the column, combined with the same tilt weights), via ``sionna.sys.coupling_loss_db``,
  and geometry SINR via ``sionna.sys.geometry_sinr_db``.
Both use the serving cell = smallest coupling loss; percentiles over UEs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from airan.core.rng import spawn_rngs
from airan.core.units import db_to_lin, lin_to_db, thermal_noise_dbm
from airan.twin.adapter.channel import draw_drop, sionna_geometry_sinr_db, sionna_reference_coupling_loss_db
from airan.twin.mobility import link_geometry
from airan.twin.radio import combine_factors, spread_antenna_factors
from airan.twin.scenarios import ScenarioConfig

PERCENTILES = (5, 50, 95)


def geometry_sinr_db(coupling_loss_db: np.ndarray, tx_power_dbm: float, bandwidth: float,
                     noise_figure_db: float) -> np.ndarray:
    """Our geometry SINR [dB] [U]: serving = min coupling loss, all other cells fully loaded interferers."""
    rx_mw = db_to_lin(tx_power_dbm - coupling_loss_db)  # [U, C]
    srv = rx_mw.max(axis=1)
    noise = db_to_lin(thermal_noise_dbm(bandwidth, noise_figure_db))
    return lin_to_db(srv / (rx_mw.sum(axis=1) - srv + noise))


def _pcts(x: np.ndarray) -> dict[str, float]:
    return {f"p{p}": float(v) for p, v in zip(PERCENTILES, np.percentile(x, PERCENTILES))}


def calibrate(cfg: ScenarioConfig, seed: int = 0) -> dict[str, Any]:
    """Percentiles of serving coupling loss [dB] and geometry SINR [dB] for our twin and Sionna, their
    differences (ours - Sionna), and the per-UE samples (for CDF plots)."""
    ant = cfg.antenna
    drop, channel = draw_drop(cfg, spawn_rngs(seed, ("drop",))["drop"], num_vertical=ant.num_vertical_elements,
                              return_channel=True)
    geom = link_geometry(drop.ue_xyz, drop.site_xy, drop.cell_site, drop.cell_yaw_deg, drop.wrap_xy,
                         drop.bs_height_m)
    gain = combine_factors(*spread_antenna_factors(geom, drop, np.full(cfg.num_cells, ant.tilt_deg),
                                                   ant.num_vertical_elements, ant.element_spacing_wavelengths))
    cl_ours = drop.pathloss_db + drop.sf_db - gain  # [U, C]
    cl_ref = sionna_reference_coupling_loss_db(channel, ant.tilt_deg, ant.num_vertical_elements,
                                               ant.element_spacing_wavelengths)
    sinr_ours = geometry_sinr_db(cl_ours, cfg.tx_power_dbm, cfg.bandwidth_hz, cfg.ue_noise_figure_db)
    sinr_ref = sionna_geometry_sinr_db(cl_ref, cfg.tx_power_dbm, cfg.bandwidth_hz, cfg.ue_noise_figure_db)
    srv_ours, srv_ref = cl_ours.min(axis=1), cl_ref.min(axis=1)
    out: dict[str, Any] = {
        "scenario": cfg.name, "seed": seed, "num_ues": int(cl_ours.shape[0]), "num_cells": int(cl_ours.shape[1]),
        "carrier_frequency_hz": cfg.carrier_frequency_hz, "tilt_deg": ant.tilt_deg,
        "num_vertical_elements": ant.num_vertical_elements,
        "coupling_loss_db": {"twin": _pcts(srv_ours), "sionna": _pcts(srv_ref)},
        "geometry_sinr_db": {"twin": _pcts(sinr_ours), "sionna": _pcts(sinr_ref)},
    }
    for metric in ("coupling_loss_db", "geometry_sinr_db"):
        t, s = out[metric]["twin"], out[metric]["sionna"]
        out[metric]["diff"] = {k: t[k] - s[k] for k in t}
    out["max_abs_diff_db"] = max(abs(v) for m in ("coupling_loss_db", "geometry_sinr_db")
                                 for v in out[m]["diff"].values())
    out["samples"] = {"cl_twin": srv_ours, "cl_sionna": srv_ref, "sinr_twin": sinr_ours, "sinr_sionna": sinr_ref}
    return out


def plot_cdfs(result: dict[str, Any], path) -> None:
    """PNG of the coupling-loss and geometry-SINR CDFs, twin vs Sionna."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = result["samples"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, (a, b, label) in zip(axes, (("cl_twin", "cl_sionna", "Coupling loss [dB]"),
                                        ("sinr_twin", "sinr_sionna", "Geometry SINR [dB]"))):
        curves = ((a, "airan twin (spread-averaged 38.901 gain)", "-"), (b, "Sionna full channel", "--"))
        for key, name, style in curves:
            x = np.sort(s[key])
            ax.plot(x, np.arange(1, x.size + 1) / x.size, style, label=name)
        ax.set_xlabel(label)
        ax.set_ylabel("CDF")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"{result['scenario']}: {result['num_ues']} UEs, {result['num_cells']} cells, seed {result['seed']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
