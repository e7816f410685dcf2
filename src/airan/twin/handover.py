"""Connected-mode mobility: A3 handover with hysteresis, TTT and CIO; ping-pong and radio link failure.

Within a ROP the twin evaluates ``substeps_per_rop`` measurement instants; RSRP moves linearly from its
start-of-ROP to end-of-ROP value, plus i.i.d. measurement noise (residual fast fading after L3 filtering).
A3 (TS 38.331): neighbour n replaces serving s when  M_n + CIO_s > M_s + Hys_s  holds for TTT_s, where
CIO_s, Hys_s and TTT_s are configured at the serving cell. RLF: serving SINR below Qout for T310.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from airan.twin.scenarios import HandoverConfig


@dataclass
class HoState:
    """Per-UE mobility state [num_ues]: serving cell, previous cell, time of the last HO [s], A3 candidate
    and how long it has held [ms], time below Qout [ms], and whether the UE is out of sync after an RLF
    (it counts no further RLF until its SINR recovers above Qin = Qout + 2 dB)."""

    serving: np.ndarray
    prev_serving: np.ndarray
    last_ho_s: np.ndarray
    candidate: np.ndarray
    ttt_elapsed_ms: np.ndarray
    below_qout_ms: np.ndarray
    out_of_sync: np.ndarray

    @classmethod
    def initial(cls, serving: np.ndarray) -> HoState:
        u = serving.shape[0]
        return cls(serving.copy(), np.full(u, -1), np.full(u, -1e9), np.full(u, -1), np.zeros(u), np.zeros(u),
                   np.zeros(u, bool))

    def copy(self) -> HoState:
        return HoState(**{k: v.copy() for k, v in self.__dict__.items()})


@dataclass
class HoCounters:
    """Per-cell counts in one ROP [num_cells] int64."""

    attempts: np.ndarray
    successes: np.ndarray
    ping_pongs: np.ndarray
    rlfs: np.ndarray


def sinr_db_of(rx_mw: np.ndarray, cell: np.ndarray, load: np.ndarray, noise_mw: float,
               extra_mw: np.ndarray) -> np.ndarray:
    """DL SINR [dB] [U] of each UE towards ``cell`` [U]: rx_mw [U,C] per-RE received power [mW],
    interferers weighted by their PRB load [C], plus noise and external interference [U] per RE [mW]."""
    u = np.arange(rx_mw.shape[0])
    c = np.maximum(cell, 0)
    sig = rx_mw[u, c]
    interf = rx_mw @ load - sig * load[c]
    out = 10 * np.log10(np.maximum(sig, 1e-30) / (interf + noise_mw + extra_mw))
    return np.where(cell >= 0, out, np.nan)


def run_handover(state: HoState, rsrp0_dbm: np.ndarray, rsrp1_dbm: np.ndarray, on_air: np.ndarray,
                 cio_db: np.ndarray, hys_db: np.ndarray, ttt_ms: np.ndarray, load: np.ndarray,
                 noise_mw: float, extra_mw: np.ndarray, cfg: HandoverConfig, t0_s: float, rop_s: float,
                 rng: np.random.Generator) -> HoCounters:
    """Advance ``state`` in place through one ROP; return per-cell counters. RSRP arrays [U, C] dBm
    (-inf for cells off-air); per-cell params [C]; load [C] in [0, 1]."""
    num_ues, num_cells = rsrp0_dbm.shape
    cnt = HoCounters(*(np.zeros(num_cells, np.int64) for _ in range(4)))
    k = cfg.substeps_per_rop
    dt_ms = 1000.0 * rop_s / k
    uidx = np.arange(num_ues)
    for j in range(k):
        a = (j + 1) / k
        t_s = t0_s + a * rop_s
        rsrp = (1 - a) * rsrp0_dbm + a * rsrp1_dbm
        meas = rsrp + cfg.measurement_noise_db * rng.standard_normal(rsrp.shape)
        meas = np.where(on_air[None, :], meas, -np.inf)
        best = np.argmax(meas, axis=1)
        # UEs without a live serving cell re-establish on the strongest one (RLF if they had one).
        lost = (state.serving < 0) | ~on_air[np.maximum(state.serving, 0)]
        if lost.any():
            had = lost & (state.serving >= 0)
            np.add.at(cnt.rlfs, state.serving[had], 1)
            state.serving[lost] = np.where(np.isfinite(meas[lost, best[lost]]), best[lost], -1)
            state.candidate[lost] = -1
            state.ttt_elapsed_ms[lost] = 0.0
            state.below_qout_ms[lost] = 0.0
        s = state.serving
        live = s >= 0
        sc = np.maximum(s, 0)
        m_s = meas[uidx, sc]
        offset = meas + cio_db[sc][:, None]
        offset[uidx, sc] = -np.inf
        cand = np.argmax(offset, axis=1)
        trig = live & (offset[uidx, cand] > m_s + hys_db[sc])
        same = trig & (cand == state.candidate)
        state.ttt_elapsed_ms = np.where(same, state.ttt_elapsed_ms + dt_ms, np.where(trig, dt_ms, 0.0))
        state.candidate = np.where(trig, cand, -1)
        fire = trig & (state.ttt_elapsed_ms >= np.maximum(ttt_ms[sc], dt_ms * 0.999))
        lin = np.power(10.0, rsrp / 10.0) * on_air[None, :]
        if fire.any():
            fu = np.nonzero(fire)[0]
            src, dst = s[fu], cand[fu]
            np.add.at(cnt.attempts, src, 1)
            tgt_sinr = sinr_db_of(lin[fu], dst, load, noise_mw, extra_mw[fu])
            ok = tgt_sinr > cfg.qout_sinr_db - 2.0
            np.add.at(cnt.successes, src[ok], 1)
            fu_ok, src_ok, dst_ok = fu[ok], src[ok], dst[ok]
            pp = (state.prev_serving[fu_ok] == dst_ok) & (t_s - state.last_ho_s[fu_ok] <= cfg.ping_pong_window_s)
            np.add.at(cnt.ping_pongs, dst_ok[pp], 1)
            state.prev_serving[fu_ok] = src_ok
            state.last_ho_s[fu_ok] = t_s
            state.serving[fu_ok] = dst_ok
            state.candidate[fu] = -1
            state.ttt_elapsed_ms[fu] = 0.0
        # Radio link monitoring on the (possibly new) serving cell.
        sinr = sinr_db_of(lin, state.serving, load, noise_mw, extra_mw)
        bad = (state.serving >= 0) & (sinr < cfg.qout_sinr_db)
        state.out_of_sync &= ~(sinr > cfg.qout_sinr_db + 2.0)
        state.below_qout_ms = np.where(bad & ~state.out_of_sync, state.below_qout_ms + dt_ms, 0.0)
        rlf = state.below_qout_ms >= cfg.t310_ms
        if rlf.any():
            np.add.at(cnt.rlfs, state.serving[rlf], 1)
            state.serving[rlf] = best[rlf]
            state.below_qout_ms[rlf] = 0.0
            state.out_of_sync[rlf] = True
            state.candidate[rlf] = -1
            state.ttt_elapsed_ms[rlf] = 0.0
    return cnt
