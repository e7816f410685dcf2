"""Sionna adapter for the link abstraction: the only place the twin calls Sionna's NR PHY abstraction.

``build_link_table`` samples ``sionna.sys.PHYAbstraction.get_bler`` (LDPC over AWGN, BLER tables shipped with
Sionna, interpolated by Sionna on a 0.1 dB x 100-bit (SINR, code block size) grid) and ``decode_mcs_index``
(TS 38.214 Tables 5.1.3.1-1..4: modulation order and target code rate per MCS index) once, and returns a
numpy ``LinkTable``; the per-step link abstraction in ``airan.twin.link`` never sees a torch tensor.

Where Sionna has no data we derive the curve and mark it in ``LinkTable.from_sionna``:

- MCS rows without a Sionna table (PDSCH table 1: MCS 0-2, table 2: MCS 0-1, table 3: MCS 0-8) take the
  curve of the lowest tabulated MCS k (rows above the highest tabulated one, PUSCH table 1 MCS 28: of
  MCS m-1), shifted along SINR by the change of the Shannon requirement,
  10 log10((2^SE_m - 1) / (2^SE_k - 1)) dB (MCS 0 vs 3 of table 1: -3.6 dB). A BLER curve that stays above
  Shannon keeps doing so after the shift, so goodput stays below log2(1 + SINR).
- Above Sionna's highest simulated SINR (20 dB for table 1, 25 dB for tables 2-4) Sionna holds the edge
  value, so an unfinished waterfall (table 2, MCS 27: BLER 0.15 at 25 dB) would never reach the target.
  There we take min(edge value, curve of MCS m-1 shifted by the same Shannon difference).
- Below Sionna's lowest simulated SINR (-5 dB) Sionna holds its edge value, which is 1 for every
  tabulated MCS at the default code block size.

Pinned: sionna-no-rt==2.2.0. Built once per process (``functools.lru_cache``): ~0.4 s with Sionna already
imported (PHYAbstraction init ~0.4 s, queries ~0.05 s), ~6 s cold (the Sionna import is ~4-5 s).
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import ArrayLike, NDArray

from airan.core.units import db_to_lin, lin_to_db
from airan.twin.link import LinkTable

DEFAULT_SINR_GRID_DB = np.round(np.arange(-15.0, 35.0 + 1e-9, 0.1), 9)  # Sionna's own 0.1 dB resolution
MAX_CB_SIZE_BITS = 8448  # LDPC base graph 1 (TS 38.212); Sionna's tables go to 2000 and clamp above


def build_link_table(mcs_table_index: int = 1, bler_target: float = 0.1, cb_size_bits: int = MAX_CB_SIZE_BITS,
                     num_code_blocks: int = 1, uplink: bool = False,
                     sinr_grid_db: ArrayLike = DEFAULT_SINR_GRID_DB) -> LinkTable:
    """The ``LinkTable`` of one TS 38.214 MCS table from Sionna's PHY abstraction (cached per arguments).

    mcs_table_index : 1 (64QAM), 2 (256QAM), 3 (low-SE 64QAM), 4 (1024QAM; PDSCH only)
    bler_target     : default BLER target of link adaptation stored in the table, in (0, 1)
    cb_size_bits    : LDPC code block size [bit] the BLER is looked up at (Sionna clamps above 2000)
    num_code_blocks : code blocks per transport block; bler = 1 - (1 - cb_bler)^num_code_blocks (TBLER)
    uplink          : PUSCH BLER tables (tables 1-2) instead of PDSCH
    sinr_grid_db    : [G] uniform increasing SINR grid [dB]; multiples of 0.1 dB hit Sionna's grid exactly
    """
    grid = np.round(np.asarray(sinr_grid_db, dtype=np.float64), 9)
    if grid.ndim != 1 or grid.size < 2 or np.any(np.diff(grid) <= 0):
        raise ValueError(f"sinr_grid_db must be an increasing 1-D grid [dB], got {sinr_grid_db!r}")
    if mcs_table_index not in ((1, 2) if uplink else (1, 2, 3, 4)):
        raise ValueError(f"mcs_table_index must be 1-4 (PUSCH: 1-2), got {mcs_table_index!r}")
    if not 0.0 < bler_target < 1.0:
        raise ValueError(f"bler_target must be in (0, 1), got {bler_target!r}")
    if not 24 <= cb_size_bits <= MAX_CB_SIZE_BITS:
        raise ValueError(f"cb_size_bits must be in [24, {MAX_CB_SIZE_BITS}], got {cb_size_bits!r}")
    if num_code_blocks < 1:
        raise ValueError(f"num_code_blocks must be >= 1, got {num_code_blocks!r}")
    return _build(int(mcs_table_index), float(bler_target), int(cb_size_bits), int(num_code_blocks),
                  bool(uplink), tuple(grid.tolist()))


@functools.lru_cache(maxsize=16)
def _build(mcs_table_index: int, bler_target: float, cb_size_bits: int, num_code_blocks: int, uplink: bool,
           grid_key: tuple[float, ...]) -> LinkTable:
    grid = np.asarray(grid_key)  # [G] dB
    qm, rate = sionna_mcs_table(mcs_table_index, uplink)
    se = qm * rate  # [M] bit/RE
    bler, edge_db = sionna_bler(mcs_table_index, uplink, cb_size_bits, grid)  # [M, G], [M]
    from_sionna = np.isfinite(bler)  # [M, G]
    tabulated = np.nonzero(from_sionna.all(axis=1))[0]
    if tabulated.size == 0:
        raise ValueError(f"Sionna has no BLER table for MCS table {mcs_table_index} (uplink={uplink})")
    k = int(tabulated[0])
    # Unfinished waterfalls above Sionna's highest simulated SINR: bounded by the shifted curve of MCS m-1
    for m in range(k + 1, se.size):
        shifted = _shift_curve(bler[m - 1], se[m - 1], se[m], grid)  # [G]
        if not from_sionna[m].all():  # no table at all (PUSCH table 1: MCS 28)
            bler[m] = shifted
            continue
        above = grid > edge_db[m]  # [G]
        new = np.where(above, np.minimum(bler[m], shifted), bler[m])
        from_sionna[m] &= ~(above & (new < bler[m]))
        bler[m] = new
    # MCS without a Sionna table: the lowest tabulated curve, shifted
    for m in range(k):
        bler[m] = _shift_curve(bler[k], se[k], se[m], grid)
    if not np.isfinite(bler).all():
        raise ValueError(f"MCS rows {np.nonzero(~np.isfinite(bler).all(axis=1))[0]} of table {mcs_table_index} "
                         "have no Sionna BLER and cannot be derived")
    bler = 1.0 - (1.0 - np.clip(bler, 0.0, 1.0)) ** num_code_blocks
    return LinkTable(sinr_grid_db=grid, bler=bler, spectral_efficiency=se, from_sionna=from_sionna,
                     mcs_table_index=mcs_table_index, bler_target=bler_target)


def _shift_curve(bler_ref: NDArray[np.float64], se_ref: float, se_new: float,
                 grid: NDArray[np.float64]) -> NDArray[np.float64]:
    """BLER [G] of an MCS with spectral efficiency ``se_new`` [bit/RE] from the curve [G] of one with
    ``se_ref``: moved along SINR by 10 log10((2^se_new - 1) / (2^se_ref - 1)) dB; 1 left of the grid."""
    shift_db = float(lin_to_db((2.0 ** se_new - 1.0) / (2.0 ** se_ref - 1.0)))
    return np.interp(grid - shift_db, grid, bler_ref, left=1.0, right=bler_ref[-1])


def sionna_mcs_table(mcs_table_index: int, uplink: bool = False) -> tuple[NDArray[np.float64],
                                                                         NDArray[np.float64]]:
    """Modulation order [M] float64 [bit/symbol] and target code rate [M] float64 of every valid MCS index
    0..M-1 of TS 38.214 table ``mcs_table_index``, from ``sionna.phy.nr.utils.decode_mcs_index``."""
    from sionna.phy.nr.utils import decode_mcs_index

    qm, rate = [], []
    for mcs in range(32):
        try:
            m, r = decode_mcs_index(mcs, table_index=mcs_table_index, is_pusch=uplink, device="cpu")
        except ValueError:  # past the last valid index (the rest are reserved)
            break
        qm.append(float(m.reshape(-1)[0]))
        rate.append(float(r.reshape(-1)[0]))
    return np.asarray(qm), np.asarray(rate)


def sionna_bler(mcs_table_index: int, uplink: bool, cb_size_bits: int,
                sinr_grid_db: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Sionna's BLER [M, G] float64 (NaN rows: MCS without a table) at ``sinr_grid_db`` [G] [dB], and the
    highest simulated SINR [M] float64 [dB] of each MCS (NaN where no table)."""
    import torch
    from sionna.sys import PHYAbstraction

    num_mcs = sionna_mcs_table(mcs_table_index, uplink)[0].size
    abstraction = PHYAbstraction(device="cpu")
    category = 0 if uplink else 1  # Sionna: 0 = PUSCH, 1 = PDSCH
    raw = abstraction.bler_table["category"][category]["index"].get(mcs_table_index, {}).get("MCS", {})
    snr = torch.as_tensor(db_to_lin(sinr_grid_db), dtype=torch.float32)  # [G] linear
    bler = np.full((num_mcs, sinr_grid_db.size), np.nan)
    edge_db = np.full(num_mcs, np.nan)
    for mcs in range(num_mcs):
        if mcs not in raw:
            continue
        b = abstraction.get_bler(mcs, mcs_table_index, category, cb_size_bits, snr).double().numpy()
        if np.isfinite(b).all():
            bler[mcs] = b
            edge_db[mcs] = float(np.max(raw[mcs]["SNR_db"]))
    return bler, edge_db
