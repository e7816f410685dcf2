"""Proportional-fair resource sharing over a reporting period, for non-full-buffer traffic.

Over a ROP (thousands of slots) a PF scheduler converges to equal time shares among backlogged UEs; a UE
whose demand needs less than its share keeps only what it needs and the rest is redistributed (max-min fair
time-share water-filling). Pure functions.
"""

from __future__ import annotations

import numpy as np


def pf_time_shares(need_share: np.ndarray, serving: np.ndarray, num_cells: int,
                   capacity: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Water-filled PRB time shares.

    need_share : [U] float64, share of the cell's PRBs each UE would need to carry its whole demand
                 (demand / full-cell rate; inf when it cannot be served, 0 when idle)
    serving    : [U] int64, serving cell (-1 = unserved)
    capacity   : [num_cells] float64 in [0, 1], usable fraction of PRBs per cell (default 1)
    Returns (share [U] in [0, 1], used [num_cells] fraction of PRBs used).
    """
    share = np.zeros_like(need_share)
    used = np.zeros(num_cells)
    cap = np.ones(num_cells) if capacity is None else capacity
    valid = (serving >= 0) & (need_share > 0)
    idx = np.nonzero(valid)[0]
    if idx.size == 0:
        return share, used
    order = idx[np.lexsort((need_share[idx], serving[idx]))]
    cells = serving[order]
    bounds = np.searchsorted(cells, np.arange(num_cells + 1))
    for c in np.nonzero(np.diff(bounds))[0]:
        members = order[bounds[c]:bounds[c + 1]]
        needs = need_share[members]  # ascending
        remaining = cap[c]
        n = needs.size
        alloc = np.empty(n)
        for i in range(n):
            fair = remaining / (n - i)
            a = min(needs[i], fair)
            alloc[i] = a
            remaining -= a
        share[members] = alloc
        used[c] = cap[c] - remaining
    return share, used
