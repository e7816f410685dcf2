"""Sionna adapter for the CSI tier: TR 38.901 per-UE frequency responses H[time, antenna, subcarrier].

One BS sector (boresight along +x) serves UEs dropped in its 120 deg sector; Sionna's UMa/UMi/RMa/InH models
draw LSPs and rays for each link and evolve the channel over ``num_slots`` samples with per-ray Doppler from
the UE velocity; ``cir_to_ofdm_channel`` gives the OFDM response. Links are batched with one UE per batch
example (no UE x UE LSP correlation matrix to factorise), in chunks that bound Sionna's ~30x peak memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from airan.core.rng import torch_seed_from

BS_HEIGHT_M = {"uma": 25.0, "umi": 10.0, "rma": 35.0, "inh": 3.0}


@dataclass
class CsiBatch:
    """h        : [N, T, A, S] complex64, BS-antenna x subcarrier response per slot, unit-less (includes path
                 loss and shadowing; normalise before learning)
    ue_xyz     : [N, 3] float32 UE positions at the first slot [m] (serving BS at (0, 0, h_bs))
    velocity   : [N, 3] float32 UE velocities [m/s]
    los        : [N] bool LoS flag of the serving link (first window)
    path_gain_db : [N] float32 mean |H|^2 over time, antennas and subcarriers [dB]
    delay_spread_s : [N] float32 RMS delay spread of the generated paths [s] (first window)
    h_nb       : [N, K, T, A, S] complex64 strongest neighbour-sector links, or None
    nb_id      : [N, K] int32 neighbour sector ids (1..6), or None
    nb_gain_db : [N, K] float32 neighbour path gains [dB], or None
    h_ul       : [N, T, A, S] complex64 FDD uplink band (``fdd_gap_hz`` above the DL band), or None
    """

    h: np.ndarray
    ue_xyz: np.ndarray
    velocity: np.ndarray
    los: np.ndarray
    path_gain_db: np.ndarray
    delay_spread_s: np.ndarray
    h_nb: np.ndarray | None = None
    nb_id: np.ndarray | None = None
    nb_gain_db: np.ndarray | None = None
    h_ul: np.ndarray | None = None


ISD_M = {"uma": 500.0, "umi": 200.0, "rma": 1732.0, "inh": 20.0}


def _bs_layout(model: str, with_neighbors: bool) -> tuple[np.ndarray, np.ndarray]:
    """Serving sector at the origin looking along +x, plus (optionally) one sector on each of the 6 sites
    of the first hexagonal ring, each facing the origin. Returns (bs_xyz [1 or 7, 3] m, yaw [1 or 7] rad)."""
    h = BS_HEIGHT_M[model]
    xyz, yaw = [[0.0, 0.0, h]], [0.0]
    if with_neighbors:
        for k in range(6):
            ang = np.pi / 6 + k * np.pi / 3
            x, y = ISD_M[model] * np.cos(ang), ISD_M[model] * np.sin(ang)
            xyz.append([x, y, h])
            yaw.append(np.arctan2(-y, -x))
    return np.array(xyz), np.array(yaw)


def _model(model: str, carrier_hz: float, rows: int, cols: int, dual_pol: bool, spatial: bool = False):
    from sionna.phy.channel.tr38901 import InH, PanelArray, RMa, UMa, UMi

    bs = PanelArray(num_rows_per_panel=rows, num_cols_per_panel=cols,
                    polarization="dual" if dual_pol else "single", polarization_type="cross" if dual_pol else "V",
                    antenna_pattern="38.901", carrier_frequency=carrier_hz, device="cpu")
    ut = PanelArray(num_rows_per_panel=1, num_cols_per_panel=1, polarization="single", polarization_type="V",
                    antenna_pattern="omni", carrier_frequency=carrier_hz, device="cpu")
    kw = dict(carrier_frequency=carrier_hz, ut_array=ut, bs_array=bs, direction="downlink", device="cpu",
              enable_spatial_consistency=spatial)
    if model == "uma":
        return UMa(o2i_model="low", **kw)
    if model == "umi":
        return UMi(o2i_model="low", **kw)
    if model == "rma":
        return RMa(**kw)
    if model == "inh":
        return InH(**kw)
    raise ValueError(f"unknown channel model {model!r}; choose uma, umi, rma or inh")


def _stitched_ofdm(to_ofdm, freqs: torch.Tensor, a: torch.Tensor, tau: torch.Tensor, num_slots: int) -> torch.Tensor:
    """OFDM responses of every window, concatenated along time: a [b, W, 1, nbs, A, P, win], tau [b, W, nbs, P]
    -> [b, nbs, T, A, S] (T = num_slots <= W * win)."""
    b, num_win, _, nbs, _, _, win = a.shape
    hf = to_ofdm(freqs, a, tau, normalize=False)  # [b, W, 1, nbs, A, win, S]
    hf = hf[:, :, 0].permute(0, 2, 1, 4, 3, 5)  # [b, nbs, W, win, A, S]
    return hf.reshape(b, nbs, num_win * win, *hf.shape[-2:])[:, :, :num_slots].contiguous()


def generate_csi(model: str, carrier_hz: float, bs_rows: int, bs_cols: int, dual_pol: bool, num_slots: int,
                 slot_s: float, num_subcarriers: int, subcarrier_spacing_hz: float, num_samples: int,
                 speed_kmh: tuple[float, float], distance_m: tuple[float, float], los: str,
                 indoor_probability: float, rng: np.random.Generator, chunk: int = 64,
                 pos_rng: np.random.Generator | None = None, window_slots: int = 0, num_neighbors: int = 0,
                 fdd_gap_hz: float = 0.0) -> CsiBatch:
    """Generate ``num_samples`` channels. ``los`` is "random", "los" or "nlos". UE positions, indoor states and
    velocities come from ``pos_rng`` (default ``rng``), so configurations that share it see co-located UEs
    (e.g. sub-6 GHz and mmWave links of the same users).

    Long tracks: with ``0 < window_slots < num_slots`` a sample is stitched from W = ceil(T / window_slots)
    Doppler-evolving windows whose UE positions advance along the track; the W positions are one Sionna
    topology with spatial consistency and a shared track id, so LSPs, LoS and cluster angles stay consistent
    along the track (small-scale phases are redrawn at window boundaries).
    ``num_neighbors`` > 0 adds the K strongest of 6 first-ring neighbour sectors; ``fdd_gap_hz`` > 0 adds an
    uplink band at that offset from the same rays (FDD: shared delays/angles, frequency-dependent phases)."""
    from sionna.phy import config as sn_config
    from sionna.phy.channel import cir_to_ofdm_channel, subcarrier_frequencies

    pos_rng = rng if pos_rng is None else pos_rng
    sn_config.seed = torch_seed_from(rng)
    win = num_slots if window_slots <= 0 or window_slots >= num_slots else window_slots
    num_win = -(-num_slots // win)
    bs_xyz, bs_yaw = _bs_layout(model, num_neighbors > 0)
    nbs = len(bs_xyz)
    freqs = subcarrier_frequencies(num_subcarriers, subcarrier_spacing_hz, device="cpu")
    outs: list[CsiBatch] = []
    t = lambda x: torch.tensor(np.asarray(x), dtype=torch.float32)  # noqa: E731
    for start in range(0, num_samples, chunk):
        b = min(chunk, num_samples - start)
        d = np.sqrt(pos_rng.uniform(distance_m[0] ** 2, distance_m[1] ** 2, b))  # uniform over the sector area
        phi = pos_rng.uniform(-np.pi / 3, np.pi / 3, b)
        indoor = pos_rng.random(b) < indoor_probability if model != "inh" else np.ones(b, bool)
        upper_floor = indoor & (model in ("uma", "umi"))
        h_ut = np.where(upper_floor, 1.5 + 3.0 * pos_rng.integers(0, 4, b), 1.5)
        ut_loc = np.stack([d * np.cos(phi), d * np.sin(phi), h_ut], -1)
        speed = pos_rng.uniform(*speed_kmh, b) / 3.6
        head = pos_rng.uniform(0, 2 * np.pi, b)
        vel = np.stack([speed * np.cos(head), speed * np.sin(head), np.zeros(b)], -1)
        # track positions at the start of each window: [b, W, 3]
        offs = np.arange(num_win)[None, :, None] * (win * slot_s) * vel[:, None, :]
        track = ut_loc[:, None, :] + offs
        channel = _model(model, carrier_hz, bs_rows, bs_cols, dual_pol, spatial=num_win > 1)
        los_arg = {"random": None, "los": True, "nlos": False}[los]
        kwargs: dict = {} if los_arg is None else {"los": los_arg}
        if model == "rma":
            kwargs["in_car"] = torch.tensor(np.repeat(~indoor[:, None], num_win, 1))
        if num_win > 1:
            kwargs["spatial_consistency_track_ids"] = torch.zeros(b, num_win, dtype=torch.int64)
        bs_orient = np.zeros((b, nbs, 3))
        bs_orient[:, :, 0] = bs_yaw
        channel.set_topology(ut_loc=t(track), bs_loc=t(np.tile(bs_xyz[None], (b, 1, 1))),
                             ut_orientations=t(np.zeros((b, num_win, 3))), bs_orientations=t(bs_orient),
                             ut_velocities=t(np.repeat(vel[:, None], num_win, 1)),
                             in_state=torch.tensor(np.repeat(indoor[:, None], num_win, 1)), **kwargs)
        a, tau = channel(win, 1.0 / slot_s)  # a: [b, W, 1, nbs, A, P, win]; tau: [b, W, nbs, P]
        h_all = _stitched_ofdm(cir_to_ofdm_channel, freqs, a, tau, num_slots)  # [b, nbs, T, A, S]
        h = h_all[:, 0]
        p = (a[:, 0, 0, 0].abs() ** 2).mean(dim=(1, 3))  # [b, A, P, win] -> [b, P] first-window path powers
        tau_b = tau[:, 0, 0]
        pn = p / p.sum(-1, keepdim=True).clamp_min(1e-30)
        mean_tau = (pn * tau_b).sum(-1)
        ds = torch.sqrt((pn * (tau_b - mean_tau[:, None]) ** 2).sum(-1).clamp_min(0))
        gain_all = 10 * torch.log10((h_all.abs() ** 2).mean(dim=(2, 3, 4)).clamp_min(1e-30))  # [b, nbs]
        out = CsiBatch(h=h.numpy().astype(np.complex64), ue_xyz=ut_loc.astype(np.float32),
                       velocity=vel.astype(np.float32),
                       los=channel._scenario.los[:, 0, 0].numpy().astype(bool),
                       path_gain_db=gain_all[:, 0].numpy().astype(np.float32),
                       delay_spread_s=ds.numpy().astype(np.float32))
        if num_neighbors > 0:
            order = torch.argsort(gain_all[:, 1:], dim=1, descending=True)[:, :num_neighbors] + 1  # [b, K]
            idx = order[:, :, None, None, None].expand(-1, -1, *h_all.shape[2:])
            out.h_nb = torch.gather(h_all, 1, idx).numpy().astype(np.complex64)
            out.nb_id = order.numpy().astype(np.int32)
            out.nb_gain_db = torch.gather(gain_all, 1, order).numpy().astype(np.float32)
        if fdd_gap_hz > 0:
            h_ul = _stitched_ofdm(cir_to_ofdm_channel, freqs + fdd_gap_hz, a[:, :, :, :1], tau[:, :, :1], num_slots)
            out.h_ul = h_ul[:, 0].numpy().astype(np.complex64)
        outs.append(out)
    fields = CsiBatch.__dataclass_fields__
    return CsiBatch(**{f: None if getattr(outs[0], f) is None else np.concatenate([getattr(o, f) for o in outs])
                       for f in fields})
