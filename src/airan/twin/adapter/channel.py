"""The Sionna adapter for the large-scale tier: every call into ``sionna.phy.channel.tr38901`` and
``sionna.sys`` topology/metrics for drops lives here. Outputs are numpy arrays; nothing above this
module sees a torch tensor.

Pinned: sionna-no-rt==2.2.0. Sionna seeds from its global ``config.seed``; we set it from the caller's
explicit generator right before each draw, so the twin stays reproducible from one seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from airan.core.errors import ConfigError
from airan.core.rng import torch_seed_from
from airan.twin.scenarios import ScenarioConfig

SIONNA_VERSION = "2.2.0"
# Peak host memory of one drop (``draw_drop``), measured on CPU with sionna-no-rt 2.2.0 (umi-19 with 285, 570,
# 1140 and 1596 UEs; ci-tiny with 420 and 840): 1.4, 3.2, 11.6, 22.2, 1.2 and 2.6 GiB. The least-squares fit
# ``DROP_BASE_BYTES + DROP_BYTES_PER_UE2_CELL x UEs^2 x cells`` (Sionna's UT x UT LSP correlation per BS) is
# within 10 % of every point and within 1 % above 1,000 UEs, where the memory matters.
DROP_BASE_BYTES = 0.57 * 2**30
DROP_BYTES_PER_UE2_CELL = 160.0


@dataclass
class LargeScaleDrop:
    """One TR 38.901 drop, as numpy.

    site_xy        : [num_sites, 2] float64, site positions [m]
    cell_site      : [num_cells] int64, site index of each sector
    cell_yaw_deg   : [num_cells] float64, sector boresight azimuth [deg]
    bs_height_m    : float, BS antenna height [m]
    wrap_xy        : [num_wrap, 2] float64, wraparound translations [m] (first is [0, 0])
    ue_xyz         : [num_ues, 3] float64, UE positions [m]
    indoor         : [num_ues] bool
    pathloss_db    : [num_ues, num_cells] float64, TR 38.901 path loss incl. O2I penetration [dB]
    sf_db          : [num_ues, num_cells] float64, shadow-fading loss [dB] (co-sited sectors share it);
                     the link's total loss is pathloss_db + sf_db
    los            : [num_ues, num_cells] bool, LoS state of each link
    d3d_m          : [num_ues, num_cells] float64, 3D distance to the nearest wraparound image [m]
    sf_std_db      : [num_ues, num_cells] float64, TR 38.901 shadow-fading std of each link's state [dB]
    asd_deg, zsd_deg : [num_ues, num_cells] float64, RMS azimuth/zenith spreads of departure [deg] (LSPs)
    zod_offset_deg : [num_ues, num_cells] float64, TR 38.901 ZOD offset of NLoS links [deg] (0 for LoS)
    k_factor       : [num_ues, num_cells] float64, linear Rician K of LoS links (0 for NLoS)
    """

    site_xy: np.ndarray
    cell_site: np.ndarray
    cell_yaw_deg: np.ndarray
    bs_height_m: float
    wrap_xy: np.ndarray
    ue_xyz: np.ndarray
    indoor: np.ndarray
    pathloss_db: np.ndarray
    sf_db: np.ndarray
    los: np.ndarray
    d3d_m: np.ndarray
    sf_std_db: np.ndarray
    asd_deg: np.ndarray
    zsd_deg: np.ndarray
    zod_offset_deg: np.ndarray
    k_factor: np.ndarray


# TR 38.901 Table 7.5-6 (Part 1): shadow-fading std [dB] (LoS, NLoS, O2I) and Table 7.6.3.1-2 SF correlation
# distances [m] (LoS, NLoS); used for continuity of mobility tracks in twin/mobility.py.
SF_STD_DB = {"uma": (4.0, 6.0, 7.0), "umi": (4.0, 7.82, 7.0), "rma": (4.0, 8.0, 8.0)}
SF_DECORR_M = {"uma": (37.0, 50.0), "umi": (10.0, 13.0), "rma": (37.0, 120.0)}
# Path-loss distance exponents x10 of the TR 38.901 Table 7.4.1-1 formulas (LoS below breakpoint, NLoS).
PL_SLOPE_DB_PER_DECADE = {"uma": (22.0, 39.08), "umi": (21.0, 35.3), "rma": (20.0, 40.0)}


def _arrays(fc: float, num_vertical: int, spacing: float):
    from sionna.phy.channel.tr38901 import PanelArray

    bs = PanelArray(num_rows_per_panel=num_vertical, num_cols_per_panel=1, polarization="single",
                    polarization_type="V", antenna_pattern="38.901", carrier_frequency=fc,
                    element_vertical_spacing=spacing)
    ut = PanelArray(num_rows_per_panel=1, num_cols_per_panel=1, polarization="single",
                    polarization_type="V", antenna_pattern="omni", carrier_frequency=fc)
    return bs, ut


def _channel_model(cfg: ScenarioConfig, num_vertical: int = 1):
    from sionna.phy.channel.tr38901 import RMa, UMa, UMi

    bs, ut = _arrays(cfg.carrier_frequency_hz, num_vertical, cfg.antenna.element_spacing_wavelengths)
    common = dict(carrier_frequency=cfg.carrier_frequency_hz, ut_array=ut, bs_array=bs, direction="downlink",
                  device="cpu")
    if cfg.channel_model == "uma":
        return UMa(o2i_model=cfg.o2i_model, **common)
    if cfg.channel_model == "umi":
        return UMi(o2i_model=cfg.o2i_model, **common)
    return RMa(**common)


def _topology(cfg: ScenarioConfig, rng: np.random.Generator):
    """Sionna's calibration drop, plus the event crowd of hotspot scenarios (placed by us, outdoor)."""
    from sionna.sys import gen_tr38901_multicell_topology

    topo, site_pos = gen_tr38901_multicell_topology(
        cfg.channel_model, 1, cfg.ues_per_cell, cfg.carrier_frequency_hz, num_rings=cfg.num_rings,
        isd=cfg.isd_m, bs_height=cfg.bs_height_m, indoor_probability=cfg.indoor_probability,
        return_site_positions=True, device="cpu")
    topo = list(topo)
    if cfg.crowd_ues:
        # Event crowd: outdoor UEs uniform in a disc between the centre site's sectors (the stadium).
        centre = np.array([cfg.isd_m * 0.35, cfg.isd_m * 0.2])
        r = cfg.crowd_radius_m * np.sqrt(rng.random(cfg.crowd_ues))
        phi = rng.uniform(0, 2 * np.pi, cfg.crowd_ues)
        xy = centre + np.stack([r * np.cos(phi), r * np.sin(phi)], -1)
        crowd = torch.tensor(np.concatenate([xy, np.full((cfg.crowd_ues, 1), 1.5)], -1), dtype=topo[0].dtype)
        ut_loc = torch.cat([topo[0], crowd[None]], 1)
        n_new = ut_loc.shape[1]
        ut_orient = torch.zeros(1, n_new, 3, dtype=topo[0].dtype)
        in_state = torch.cat([topo[5], torch.zeros(1, cfg.crowd_ues, dtype=torch.bool)], 1)
        d_in = topo[10]
        pad = torch.zeros(*d_in.shape[:-1], cfg.crowd_ues, dtype=d_in.dtype)
        d_in = torch.cat([d_in, pad], -1)
        # The hotspot cluster is simulated without wraparound: virtual BS locations = real ones.
        bs_virtual = topo[1][:, :, None, :].expand(-1, -1, n_new, -1).clone()
        topo = [ut_loc, topo[1], ut_orient, topo[3], ut_orient.clone(), in_state, None, bs_virtual,
                topo[8], None, d_in]
    return topo, site_pos


def drop_memory_bytes(num_ues: int, num_cells: int) -> float:
    """Estimated peak host memory [bytes] of a drop with ``num_ues`` UEs and ``num_cells`` cells (fit above)."""
    return DROP_BASE_BYTES + DROP_BYTES_PER_UE2_CELL * float(num_ues) ** 2 * float(num_cells)


def check_drop_memory(cfg: ScenarioConfig, available_bytes: float | None = None) -> None:
    """Raise ``ConfigError`` before a drop that would not fit in memory (the kernel would otherwise kill the
    process part-way through Sionna's LSP correlation, losing everything). ``available_bytes`` defaults to the
    memory the OS reports available now (``psutil``)."""
    if available_bytes is None:
        import psutil

        available_bytes = float(psutil.virtual_memory().available)
    need = drop_memory_bytes(cfg.num_ues, cfg.num_cells)
    if need > available_bytes:
        raise ConfigError(
            f"scenario {cfg.name!r} with {cfg.num_ues} UEs ({cfg.ues_per_cell} per cell x {cfg.num_cells} cells) "
            f"needs about {need / 2**30:.1f} GiB to draw its drop, more than the {available_bytes / 2**30:.1f} GiB "
            f"available; memory grows with UEs^2 x cells, so lower ues_per_cell")


def draw_drop(cfg: ScenarioConfig, rng: np.random.Generator, *, num_vertical: int = 1,
              return_channel: bool = False):
    """Draw one drop with Sionna: topology, LoS, path loss (incl. O2I) and shadow fading per link.

    Returns a ``LargeScaleDrop`` (and the configured Sionna channel model when ``return_channel``;
    its cached LSPs are the ones in the drop, so a CIR drawn from it is the same drop).
    Cost: ~5 s for 570 UEs on 2 cores (Sionna's UT x UT LSP correlation Cholesky); only at reset. A drop that
    would not fit in the available memory is refused first (``check_drop_memory``)."""
    check_drop_memory(cfg)
    from sionna.phy import config as sn_config

    sn_config.seed = torch_seed_from(rng)
    topo, site_pos = _topology(cfg, rng)
    channel = _channel_model(cfg, num_vertical)
    channel.set_topology(*topo)
    lsp = channel._lsp  # the LSP realisation the channel caches for this topology (not a fresh sample)
    scen = channel._scenario
    pathloss = lsp.pathloss[0].T.double().numpy()  # [num_bs, num_ut] -> [num_ues, num_cells]
    # Sionna's LSP ``sf`` is a linear power *gain* (the channel is scaled by sqrt(sf)); we store it as a loss
    # so that total loss = pathloss_db + sf_db.
    sf_db = -10.0 * np.log10(lsp.sf[0].T.double().numpy())
    los = scen.los[0].T.numpy().astype(bool)
    d3d = scen.distance_3d[0].T.double().numpy()
    bs_loc = topo[1][0].double().numpy()
    virt = topo[7][0].double().numpy()  # [num_bs, num_ut, 3]
    offsets = (virt[..., :2] - bs_loc[:, None, :2]).reshape(-1, 2)
    wrap = np.unique(np.round(offsets, 3), axis=0)
    wrap = wrap[np.argsort(np.linalg.norm(wrap, axis=1))]
    indoor = topo[5][0].numpy().astype(bool)
    std = np.array(SF_STD_DB[cfg.channel_model])
    sf_std = np.where(indoor[:, None], std[2], np.where(los, std[0], std[1]))
    yaw = np.rad2deg(topo[3][0, :, 0].double().numpy())
    drop = LargeScaleDrop(
        site_xy=site_pos.double().numpy(), cell_site=topo[8].numpy().astype(np.int64), cell_yaw_deg=yaw,
        bs_height_m=float(bs_loc[0, 2]), wrap_xy=wrap, ue_xyz=topo[0][0].double().numpy(), indoor=indoor,
        pathloss_db=pathloss, sf_db=sf_db, los=los, d3d_m=d3d, sf_std_db=sf_std,
        asd_deg=lsp.asd[0].T.double().numpy(), zsd_deg=lsp.zsd[0].T.double().numpy(),
        zod_offset_deg=np.where(los, 0.0, np.broadcast_to(scen.zod_offset[0].T.double().numpy(), los.shape)),
        k_factor=np.where(los, lsp.k_factor[0].T.double().numpy(), 0.0))
    return (drop, channel) if return_channel else drop


def sionna_reference_coupling_loss_db(channel, tilt_deg: float, num_vertical: int, spacing: float) -> np.ndarray:
    """Coupling loss [dB] [num_ues, num_cells] from Sionna's full TR 38.901 channel (all clusters and rays,
    per-element 38.901 pattern) on the channel's current drop, with the column combined by the same
    analog tilt weights as our twin: CL = -10 log10(sum_paths |sum_m w_m a_m|^2). One time sample, so the
    output is small (uma-19, 570 UEs x 57 cells x 10 elements: ~70 MB; Sionna's ~30x peak stays ~2 GB)."""
    from sionna.sys import coupling_loss_db

    # Steering weights from Sionna's own element positions (its rows run top to bottom: z decreases with
    # the row index), w_m = exp(-j 2 pi z_m / lambda cos(theta_tilt)) / sqrt(M), theta_tilt = 90 + tilt [deg].
    z = channel._scenario.bs_array.ant_pos[:, 2].double().numpy()
    lam = 299_792_458.0 / float(channel._scenario.carrier_frequency)
    theta_t = np.deg2rad(90.0 + tilt_deg)
    w = torch.tensor(np.exp(-1j * 2 * np.pi * z / lam * np.cos(theta_t)) / np.sqrt(num_vertical),
                     dtype=torch.complex64)
    a, _ = channel(1, 1.0)  # [1, num_ut, 1, num_bs, num_vertical, num_paths, 1]
    # [num_ut, num_bs, num_vertical, num_paths]
    a = a[0, :, 0, :, :, :, 0]
    beam = torch.einsum("m,ubmp->ubp", w, a)
    gain = (beam.abs() ** 2).sum(-1).double()
    return coupling_loss_db(10.0 * torch.log10(gain.clamp_min(1e-30))).numpy()


def sionna_geometry_sinr_db(coupling_loss_db: np.ndarray, tx_power_dbm: float, bandwidth: float,
                            noise_figure_db: float) -> np.ndarray:
    """Sionna's geometry SINR [dB] [num_ues] from coupling losses [num_ues, num_cells] (serving = best)."""
    from sionna.sys import geometry_sinr_db

    return geometry_sinr_db(torch.tensor(coupling_loss_db), tx_power_dbm, bandwidth, noise_figure_db).numpy()
