"""Link abstraction of the large-scale tier: per-UE SINR [dB] -> MCS, BLER, goodput per RE, throughput.

The BLER curves are Sionna's NR PHY abstraction (``sionna.sys.PHYAbstraction``: LDPC over AWGN for the
TS 38.214 MCS tables), sampled once on a uniform SINR grid by ``airan.twin.adapter.phy`` (the only module
that calls Sionna for this) and held here as numpy. Every per-step call is pure numpy: one grid lookup
and one linear interpolation per UE (~0.1 ms for 1000 UEs on a 2-core CPU).

Link adaptation (``policy``), both keeping the chosen MCS at BLER <= target:

- ``"max_goodput"`` (default): among the MCS whose BLER at the UE's SINR meets the target, the one with
  the highest goodput (1 - BLER) x SE. The admissible set only grows with SINR, so goodput never falls
  as SINR rises (a twin whose KPIs drop when the radio improves invites agents to exploit it).
- ``"highest"``: the highest MCS index meeting the target, Sionna's ``InnerLoopLinkAdaptation`` rule.
  Right after each switch its goodput dips by up to ~0.4 bit/RE (the new MCS runs at ~10 % BLER);
  averaged over -5..35 dB it is 0.06-0.17 % below ``max_goodput`` (tables 2 and 1).

The MCS is decided on the SINR grid point at or below the UE's SINR (conservative); the BLER of that MCS
is then interpolated linearly at the exact SINR. NaN or -inf SINR, or SINR below the grid, gives MCS -1
and zero goodput; SINR above the grid is held at the top of the grid.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from airan.core.errors import ShapeError

POLICIES = ("max_goodput", "highest")


@dataclass(frozen=True)
class LinkTable:
    """BLER and spectral efficiency of one TS 38.214 MCS table, sampled on a uniform SINR grid.

    sinr_grid_db        : [G] float64, uniform increasing SINR grid [dB]
    bler                : [num_mcs, G] float64 in [0, 1], (transport) block error rate; row m is MCS index m
    spectral_efficiency : [num_mcs] float64, modulation order x target code rate [bit/RE]
    from_sionna         : [num_mcs, G] bool, True where ``bler`` is Sionna's tabulated value; False where
                          derived (MCS rows Sionna has no table for, and unfinished waterfalls past
                          Sionna's highest simulated SINR; see ``airan.twin.adapter.phy``)
    mcs_table_index     : TS 38.214 MCS table (1: 64QAM, 2: 256QAM, 3: low-SE 64QAM, 4: 1024QAM)
    bler_target         : default BLER target of link adaptation, in (0, 1)
    """

    sinr_grid_db: NDArray[np.float64]
    bler: NDArray[np.float64]
    spectral_efficiency: NDArray[np.float64]
    from_sionna: NDArray[np.bool_]
    mcs_table_index: int
    bler_target: float = 0.1
    _policies: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        g, b, se = self.sinr_grid_db, self.bler, self.spectral_efficiency
        if g.ndim != 1 or g.size < 2 or not np.allclose(np.diff(g), g[1] - g[0]) or g[1] <= g[0]:
            raise ShapeError(f"sinr_grid_db must be a uniform increasing [G] grid, got {g!r}")
        if b.shape != (se.size, g.size) or self.from_sionna.shape != b.shape:
            raise ShapeError(f"bler {b.shape} and from_sionna {self.from_sionna.shape} must be "
                             f"[num_mcs={se.size}, G={g.size}]")
        if not 0.0 < self.bler_target < 1.0:
            raise ValueError(f"bler_target must be in (0, 1), got {self.bler_target!r}")

    def __repr__(self) -> str:
        g = self.sinr_grid_db
        return (f"LinkTable(mcs_table_index={self.mcs_table_index}, num_mcs={self.num_mcs}, "
                f"sinr_grid_db={g[0]:g}..{g[-1]:g} step {self.step_db:g}, bler_target={self.bler_target})")

    @property
    def num_mcs(self) -> int:
        return int(self.spectral_efficiency.size)

    @property
    def step_db(self) -> float:
        return float(self.sinr_grid_db[1] - self.sinr_grid_db[0])

    def policy(self, bler_target: float | None = None, policy: str = "max_goodput") -> NDArray[np.int64]:
        """MCS index [G] int64 chosen at each grid point (-1: none meets the target); cached per argument."""
        target = self.bler_target if bler_target is None else float(bler_target)
        if not 0.0 < target < 1.0:
            raise ValueError(f"bler_target must be in (0, 1), got {bler_target!r}")
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
        key = (target, policy)
        if key not in self._policies:
            ok = self.bler <= target  # [M, G]
            if policy == "highest":
                best = self.num_mcs - 1 - np.argmax(ok[::-1], axis=0)  # [G] last True row
            else:
                gp = np.where(ok, (1.0 - self.bler) * self.spectral_efficiency[:, None], -1.0)  # [M, G]
                best = np.argmax(gp, axis=0)  # [G], first of ties: the lower MCS
            self._policies[key] = np.where(ok.any(axis=0), best, -1).astype(np.int64)
        return self._policies[key]


def _grid_position(sinr_db: ArrayLike, table: LinkTable) -> tuple[NDArray[np.int64], NDArray[np.float64],
                                                                  NDArray[np.bool_]]:
    """(i [U] int64 with grid[i] <= SINR, clipped to [0, G-2]; w [U] float64 in [0, 1], weight of point i+1;
    valid [U] bool, False for NaN, -inf and SINR below the grid). SINR above the grid is held at its top."""
    g, num_g = table.sinr_grid_db, table.sinr_grid_db.size
    x = np.asarray(sinr_db, dtype=np.float64)
    pos = (x - g[0]) * (1.0 / table.step_db)  # [U] fractional grid position
    valid = pos >= -1e-9
    pos = np.minimum(np.where(valid, pos, 0.0), num_g - 1.0)  # [U] in [0, G-1]
    i = np.minimum((pos + 1e-9).astype(np.int64), num_g - 2)  # [U] floor
    return i, np.minimum(pos - i, 1.0), valid


def _lookup(sinr_db: ArrayLike, table: LinkTable, bler_target: float | None,
            policy: str) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The per-step kernel: (MCS [U] int64, -1 if none; BLER [U] float64 of that MCS at the exact SINR,
    1 where MCS is -1). MCS from the grid point at or below the SINR, BLER linear in dB between points."""
    i, w, valid = _grid_position(sinr_db, table)
    mcs = np.where(valid, table.policy(bler_target, policy)[i], -1)  # [U]
    return mcs, _interp_rows(table, mcs, i, w)


def _interp_rows(table: LinkTable, mcs: NDArray[np.int64], i: NDArray[np.int64],
                 w: NDArray[np.float64]) -> NDArray[np.float64]:
    """BLER [U] of row ``mcs`` [U] between grid points i and i+1 [U] with weight w [U]; 1 where mcs < 0."""
    flat = np.maximum(mcs, 0) * table.sinr_grid_db.size + i  # [U] index into bler.ravel()
    b = table.bler.ravel()
    return np.where(mcs >= 0, b.take(flat) * (1.0 - w) + b.take(flat + 1) * w, 1.0)


def select_mcs(sinr_db: ArrayLike, table: LinkTable, bler_target: float | None = None,
               policy: str = "max_goodput") -> NDArray[np.int64]:
    """Inner-loop link adaptation.

    sinr_db     : [U] float, effective SINR of each UE [dB]
    bler_target : BLER target in (0, 1); None: ``table.bler_target``
    policy      : "max_goodput" or "highest" (see the module docstring)
    returns     : [U] int64, TS 38.214 MCS index with BLER <= target at the UE's SINR; -1 when even the most
                  robust MCS misses the target (or SINR is NaN / below the grid)
    """
    return _lookup(sinr_db, table, bler_target, policy)[0]


def bler_of(sinr_db: ArrayLike, mcs: ArrayLike, table: LinkTable) -> NDArray[np.float64]:
    """BLER [U] float64 of MCS ``mcs`` [U] int (-1 allowed) at ``sinr_db`` [U] [dB], linear in dB between grid
    points; 1 for MCS -1, NaN SINR or SINR below the grid."""
    x = np.asarray(sinr_db, dtype=np.float64)
    m = np.broadcast_to(np.asarray(mcs, dtype=np.int64), x.shape)
    if np.any(m >= table.num_mcs) or np.any(m < -1):
        raise ValueError(f"MCS index must be in [-1, {table.num_mcs - 1}] for table {table.mcs_table_index}, "
                         f"got {m.min()}..{m.max()}")
    i, w, valid = _grid_position(x, table)
    return _interp_rows(table, np.where(valid, m, -1), i, w)


def effective_se(sinr_db: ArrayLike, table: LinkTable, bler_target: float | None = None,
                 policy: str = "max_goodput") -> NDArray[np.float64]:
    """Goodput per resource element [U] float64 [bit/RE]: (1 - BLER(mcs, sinr)) x SE(mcs) for the MCS chosen
    by ``select_mcs``; 0 when it is -1 (including NaN SINR). Always below log2(1 + SINR)."""
    mcs, bler = _lookup(sinr_db, table, bler_target, policy)
    return (1.0 - bler) * table.spectral_efficiency.take(np.maximum(mcs, 0))


def resource_elements_per_s(num_prbs: int, subcarrier_spacing_hz: float, overhead: float = 0.14) -> float:
    """Data REs per second of a carrier: num_prbs x 12 subcarriers x 14 symbols/slot x slots/s x (1 - overhead),
    slots/s = 1000 x scs / 15 kHz (TS 38.211 numerology, normal cyclic prefix)."""
    if int(num_prbs) != num_prbs or num_prbs <= 0:
        raise ValueError(f"num_prbs must be a positive integer, got {num_prbs!r}")
    mu = np.log2(subcarrier_spacing_hz / 15e3) if subcarrier_spacing_hz > 0 else -1.0
    if not (mu >= 0 and float(mu).is_integer()):
        raise ValueError(f"subcarrier_spacing_hz must be 15 kHz x 2^mu [Hz], got {subcarrier_spacing_hz!r}")
    if not 0.0 <= overhead < 1.0:
        raise ValueError(f"overhead must be in [0, 1), got {overhead!r}")
    slots_per_s = 1000.0 * subcarrier_spacing_hz / 15e3
    return float(num_prbs) * 12 * 14 * slots_per_s * (1.0 - overhead)


def ue_throughput_mbps(sinr_db: ArrayLike, prb_share: ArrayLike, num_prbs: int, subcarrier_spacing_hz: float,
                       table: LinkTable, overhead: float = 0.14, bler_target: float | None = None,
                       policy: str = "max_goodput") -> NDArray[np.float64]:
    """Throughput [U] float64 [Mbit/s] of each UE holding a share of the cell's PRBs.

    throughput = effective_se(sinr) [bit/RE] x prb_share x num_prbs x 12 x 14 x (1000 x scs / 15 kHz) [RE/s]
                 x (1 - overhead) / 1e6

    sinr_db               : [U] float, SINR [dB]; NaN gives 0
    prb_share             : [U] float in [0, 1] (broadcastable to [U]), fraction of the PRBs x time it holds
    num_prbs              : PRBs of the carrier (e.g. 273 for 100 MHz at 30 kHz)
    subcarrier_spacing_hz : subcarrier spacing [Hz], 15e3 x 2^mu
    overhead              : fraction of REs lost to DMRS, PDCCH, CSI-RS, SSB (0.14: TS 38.306 DL FR1)
    E.g. 273 PRBs at 30 kHz: 7.89e7 data RE/s; at 5.5 bit/RE that is ~434 Mbit/s for a full share.
    """
    share = np.asarray(prb_share, dtype=np.float64)
    bad = ~((share >= 0.0) & (share <= 1.0))
    if np.any(bad):
        raise ValueError(f"prb_share must be in [0, 1], got {share[bad].flat[0]!r}")
    re_per_s = resource_elements_per_s(num_prbs, subcarrier_spacing_hz, overhead)
    return effective_se(sinr_db, table, bler_target, policy) * share * (re_per_s / 1e6)


@functools.lru_cache(maxsize=8)
def default_link_table(mcs_table_index: int = 1, bler_target: float = 0.1) -> LinkTable:
    """The process-wide table of TS 38.214 MCS table ``mcs_table_index`` (PDSCH), built from Sionna on first
    use (~0.4 s once Sionna is imported, ~6 s cold) and cached. Importing this module does not touch Sionna."""
    from airan.twin.adapter.phy import build_link_table

    return build_link_table(mcs_table_index=mcs_table_index, bler_target=bler_target)
