"""Link abstraction of the large-scale tier: SINR -> MCS, BLER and goodput per resource element.

The BLER curves come from Sionna's NR PHY abstraction (LDPC over AWGN, TS 38.214 MCS table 1, 64QAM),
read once through ``airan.twin.adapter.phy`` and held as a numpy table; the per-ROP call is pure numpy.
Inner-loop link adaptation picks, among the MCS whose BLER at the UE's SINR meets the target (10 %), the one
with the highest goodput (so goodput never falls as SINR rises); the
UE's goodput per RE is (1 - BLER) x modulation order x code rate. Throughput [Mbit/s] =
goodput/RE x 12 subcarriers x 14 symbols/slot x slots/s x PRBs x share x (1 - overhead).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SINR_GRID_DB = np.arange(-15.0, 40.0 + 1e-9, 0.1)


@dataclass(frozen=True)
class LinkTable:
    """sinr_grid_db [G] float64 dB; bler [M, G] float64 in [0, 1] (only MCS with a Sionna table);
    spectral_efficiency [M] float64 bit/RE (modulation order x code rate); mcs_index [M] int (TS 38.214)."""

    sinr_grid_db: np.ndarray
    bler: np.ndarray
    spectral_efficiency: np.ndarray
    mcs_index: np.ndarray
    mcs_table_index: int
    bler_target: float

    @functools.cached_property
    def goodput_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(chosen MCS row [G] int, goodput [G] bit/RE) on the grid, link adaptation applied."""
        ok = self.bler <= self.bler_target  # [M, G]
        gp = np.where(ok, (1.0 - self.bler) * self.spectral_efficiency[:, None], -1.0)  # [M, G]
        best = np.argmax(gp, axis=0)  # MCS with the highest goodput among those meeting the target
        goodput = gp[best, np.arange(self.sinr_grid_db.size)]
        best = np.where(goodput >= 0, best, -1)
        return best, np.maximum(goodput, 0.0)


def build_link_table(mcs_table_index: int = 1, bler_target: float = 0.1) -> LinkTable:
    """Build the table from Sionna (about 0.5-1 s)."""
    if not 0 < bler_target < 1:
        raise ValueError(f"bler_target must be in (0, 1), got {bler_target!r}")
    from airan.twin.adapter.phy import sionna_bler_table

    bler, qm, rate = sionna_bler_table(mcs_table_index, SINR_GRID_DB)
    bler = _fill_missing_low_mcs(bler, qm * rate, SINR_GRID_DB)
    keep = np.isfinite(bler).all(axis=1)
    return LinkTable(SINR_GRID_DB, bler[keep], (qm * rate)[keep], np.nonzero(keep)[0], mcs_table_index,
                     bler_target)


def _fill_missing_low_mcs(bler: np.ndarray, se: np.ndarray, grid_db: np.ndarray) -> np.ndarray:
    """Sionna 2.2 ships no BLER table for MCS 0-2 (the most robust QPSK rates). We derive each missing row
    from the lowest tabulated MCS by shifting its curve along SINR by the difference in the capacity-limited
    SINR requirement, 10 log10((2^se_missing - 1) / (2^se_ref - 1)) dB (about -3.6 dB for MCS 0 vs MCS 3).
    Without them, links between about -6 and -3 dB would carry nothing. Returns a new [M, G] array."""
    out = bler.copy()
    have = np.nonzero(np.isfinite(bler).all(axis=1))[0]
    if have.size == 0:
        return out
    ref = have[0]
    for m in range(ref):
        shift_db = 10 * np.log10((2 ** se[m] - 1) / (2 ** se[ref] - 1))
        out[m] = np.interp(grid_db - shift_db, grid_db, bler[ref], left=1.0, right=bler[ref, -1])
    return out


@functools.lru_cache(maxsize=4)
def default_link_table(mcs_table_index: int = 1, bler_target: float = 0.1) -> LinkTable:
    """The process-wide table: built once from Sionna (~5 s), then kept in ``$AIRAN_CACHE`` (default
    ``~/.cache/airan``) as an .npz keyed by the Sionna version, written atomically."""
    from airan.twin.adapter.channel import SIONNA_VERSION

    cache = Path(os.environ.get("AIRAN_CACHE", Path.home() / ".cache" / "airan"))
    path = cache / f"link_table_v2_sionna{SIONNA_VERSION}_t{mcs_table_index}_b{bler_target}_g{SINR_GRID_DB.size}.npz"
    if path.exists():
        try:
            z = np.load(path)
            return LinkTable(z["sinr_grid_db"], z["bler"], z["spectral_efficiency"], z["mcs_index"],
                             mcs_table_index, bler_target)
        except (OSError, KeyError, ValueError):
            pass  # unreadable cache: rebuild below
    table = build_link_table(mcs_table_index, bler_target)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, sinr_grid_db=table.sinr_grid_db, bler=table.bler,
                 spectral_efficiency=table.spectral_efficiency, mcs_index=table.mcs_index)
        os.replace(tmp, path)
    except OSError:
        pass  # read-only home: keep the in-memory table
    return table


def _grid_index(sinr_db: np.ndarray, table: LinkTable) -> np.ndarray:
    g = table.sinr_grid_db
    step = g[1] - g[0]
    x = np.nan_to_num(np.asarray(sinr_db, dtype=np.float64), nan=g[0] - 1.0)
    return np.clip(np.floor((x - g[0]) / step + 1e-9), 0, g.size - 1).astype(np.int64)


def select_mcs(sinr_db: np.ndarray, table: LinkTable) -> np.ndarray:
    """TS 38.214 MCS index [U] int chosen by link adaptation (max goodput at BLER <= target); -1 if none fits."""
    best, _ = table.goodput_curve
    row = best[_grid_index(sinr_db, table)]
    return np.where(row >= 0, table.mcs_index[np.maximum(row, 0)], -1)


def effective_se(sinr_db: np.ndarray, table: LinkTable) -> np.ndarray:
    """Goodput [U] bit per RE: (1 - BLER) x SE of the chosen MCS (0 when none fits or SINR is NaN).
    The SINR is quantised down to the 0.1 dB grid (conservative)."""
    _, goodput = table.goodput_curve
    out = goodput[_grid_index(sinr_db, table)]
    return np.where(np.isnan(np.asarray(sinr_db, dtype=np.float64)), 0.0, out)


def ue_throughput_mbps(sinr_db: np.ndarray, prb_share: np.ndarray, num_prbs: int, subcarrier_spacing_hz: float,
                       table: LinkTable, overhead: float = 0.14) -> np.ndarray:
    """Throughput [Mbit/s] [U] of each UE holding ``prb_share`` [U] in [0, 1] of ``num_prbs`` PRBs."""
    share = np.asarray(prb_share, dtype=np.float64)
    if np.any(share < 0):
        raise ValueError(f"prb_share must be >= 0, got min {share.min()!r}")
    slots_per_s = 1000.0 * subcarrier_spacing_hz / 15e3
    re_per_s = num_prbs * 12 * 14 * slots_per_s * (1.0 - overhead)
    return effective_se(sinr_db, table) * share * re_per_s / 1e6
