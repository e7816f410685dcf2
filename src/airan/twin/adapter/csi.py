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
    ue_xyz     : [N, 3] float32 UE positions [m] (BS at (0, 0, h_bs))
    velocity   : [N, 3] float32 UE velocities [m/s]
    los        : [N] bool LoS flag of the link
    path_gain_db : [N] float32 mean |H|^2 over time, antennas and subcarriers [dB]
    delay_spread_s : [N] float32 RMS delay spread of the generated paths [s]
    """

    h: np.ndarray
    ue_xyz: np.ndarray
    velocity: np.ndarray
    los: np.ndarray
    path_gain_db: np.ndarray
    delay_spread_s: np.ndarray


def _model(model: str, carrier_hz: float, rows: int, cols: int, dual_pol: bool):
    from sionna.phy.channel.tr38901 import InH, PanelArray, RMa, UMa, UMi

    bs = PanelArray(num_rows_per_panel=rows, num_cols_per_panel=cols,
                    polarization="dual" if dual_pol else "single", polarization_type="cross" if dual_pol else "V",
                    antenna_pattern="38.901", carrier_frequency=carrier_hz, device="cpu")
    ut = PanelArray(num_rows_per_panel=1, num_cols_per_panel=1, polarization="single", polarization_type="V",
                    antenna_pattern="omni", carrier_frequency=carrier_hz, device="cpu")
    kw = dict(carrier_frequency=carrier_hz, ut_array=ut, bs_array=bs, direction="downlink", device="cpu")
    if model == "uma":
        return UMa(o2i_model="low", **kw)
    if model == "umi":
        return UMi(o2i_model="low", **kw)
    if model == "rma":
        return RMa(**kw)
    if model == "inh":
        return InH(**kw)
    raise ValueError(f"unknown channel model {model!r}; choose uma, umi, rma or inh")


def generate_csi(model: str, carrier_hz: float, bs_rows: int, bs_cols: int, dual_pol: bool, num_slots: int,
                 slot_s: float, num_subcarriers: int, subcarrier_spacing_hz: float, num_samples: int,
                 speed_kmh: tuple[float, float], distance_m: tuple[float, float], los: str,
                 indoor_probability: float, rng: np.random.Generator, chunk: int = 64,
                 pos_rng: np.random.Generator | None = None) -> CsiBatch:
    """Generate ``num_samples`` serving-link channels. ``los`` is "random", "los" or "nlos". UE positions,
    indoor states and velocities come from ``pos_rng`` (default ``rng``), so configurations that share it see
    co-located UEs (e.g. sub-6 GHz and mmWave links of the same users)."""
    pos_rng = rng if pos_rng is None else pos_rng
    from sionna.phy import config as sn_config
    from sionna.phy.channel import cir_to_ofdm_channel, subcarrier_frequencies

    sn_config.seed = torch_seed_from(rng)
    h_bs = BS_HEIGHT_M[model]
    freqs = subcarrier_frequencies(num_subcarriers, subcarrier_spacing_hz, device="cpu")
    outs: list[CsiBatch] = []
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
        t = lambda x: torch.tensor(x, dtype=torch.float32)  # noqa: E731
        channel = _model(model, carrier_hz, bs_rows, bs_cols, dual_pol)
        los_arg = {"random": None, "los": True, "nlos": False}[los]
        kwargs = {} if los_arg is None else {"los": los_arg}
        if model == "rma":
            kwargs["in_car"] = torch.tensor(~indoor[:, None])
        channel.set_topology(ut_loc=t(ut_loc[:, None]), bs_loc=t(np.tile([[0.0, 0.0, h_bs]], (b, 1, 1))),
                             ut_orientations=t(np.zeros((b, 1, 3))), bs_orientations=t(np.zeros((b, 1, 3))),
                             ut_velocities=t(vel[:, None]), in_state=torch.tensor(indoor[:, None]), **kwargs)
        a, tau = channel(num_slots, 1.0 / slot_s)  # a: [b, 1, 1, 1, A, P, T]; tau: [b, 1, 1, P]
        hf = cir_to_ofdm_channel(freqs, a, tau, normalize=False)  # [b, 1, 1, 1, A, T, S]
        h = hf[:, 0, 0, 0].permute(0, 2, 1, 3).contiguous()  # [b, T, A, S]
        p = (a.abs() ** 2).mean(dim=(4, 6))[:, 0, 0, 0]  # [b, P] path powers
        tau_b = tau[:, 0, 0]
        pn = p / p.sum(-1, keepdim=True).clamp_min(1e-30)
        mean_tau = (pn * tau_b).sum(-1)
        ds = torch.sqrt((pn * (tau_b - mean_tau[:, None]) ** 2).sum(-1).clamp_min(0))
        gain = (h.abs() ** 2).mean(dim=(1, 2, 3))
        outs.append(CsiBatch(h=h.numpy().astype(np.complex64), ue_xyz=ut_loc.astype(np.float32),
                             velocity=vel.astype(np.float32),
                             los=channel._scenario.los[:, 0, 0].numpy().astype(bool),
                             path_gain_db=(10 * torch.log10(gain.clamp_min(1e-30))).numpy().astype(np.float32),
                             delay_spread_s=ds.numpy().astype(np.float32)))
    return CsiBatch(*(np.concatenate([getattr(o, f) for o in outs]) for f in CsiBatch.__dataclass_fields__))
