"""Sionna adapter for the link abstraction: reads Sionna's NR PHY abstraction (BLER tables of TS 38.214 MCS
tables, AWGN, LDPC) once and returns numpy arrays. Every Sionna PHY call of the twin lives here."""

from __future__ import annotations

import numpy as np
import torch


def sionna_bler_table(mcs_table_index: int, sinr_grid_db: np.ndarray, code_block_size: int = 8000,
                      pdsch: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BLER [num_mcs, G] on ``sinr_grid_db`` [G] (dB) for every MCS of a TS 38.214 table, plus the modulation
    order [num_mcs] and target code rate [num_mcs]. MCS entries without a Sionna table come back as NaN rows.

    Sionna's tables span -5..30 dB; outside that we hold the edge value (BLER is 1 below, unchanged above)."""
    from sionna.phy.nr.utils import decode_mcs_index
    from sionna.sys import PHYAbstraction

    abstraction = PHYAbstraction(device="cpu")
    num_mcs = 29 if mcs_table_index in (1, 3) else 28
    snr_lin = torch.tensor(10.0 ** (np.clip(sinr_grid_db, -5.0, 30.0) / 10.0), dtype=torch.float32)
    bler = np.full((num_mcs, sinr_grid_db.size), np.nan)
    qm = np.zeros(num_mcs)
    rate = np.zeros(num_mcs)
    for mcs in range(num_mcs):
        m, r = decode_mcs_index(mcs, table_index=mcs_table_index, is_pusch=not pdsch)
        qm[mcs], rate[mcs] = float(m.reshape(-1)[0]), float(r.reshape(-1)[0])
        b = abstraction.get_bler(mcs, mcs_table_index, 1 if pdsch else 0, code_block_size, snr_lin).double().numpy()
        if np.isfinite(b).all():
            b = np.where(sinr_grid_db < -5.0, 1.0, b)
            bler[mcs] = np.clip(b, 0.0, 1.0)
    return bler, qm, rate
