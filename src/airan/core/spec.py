"""Dimension names, fixed once, and boundary shape checks.

Dimension names used in docstrings across airan:
  num_cells  - sectors (cells) in the network
  num_sites  - sites (co-located sectors share one)
  num_ues    - user equipments
  num_rops   - reporting periods
  num_elems  - antenna elements of a vertical column
"""

from __future__ import annotations

import numpy as np

from airan.core.errors import ShapeError

DIMS = ("num_cells", "num_sites", "num_ues", "num_rops", "num_elems")


def check_shape(name: str, arr: np.ndarray, shape: tuple[int | None, ...], dtype: type | None = None) -> None:
    """Raise ``ShapeError`` unless ``arr`` has ``shape`` (``None`` matches any size) and ``dtype`` kind."""
    if not isinstance(arr, np.ndarray):
        raise ShapeError(f"{name} must be a numpy array, got {type(arr).__name__}")
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
        raise ShapeError(f"{name} has shape {arr.shape}, expected {shape}")
    if dtype is not None and not np.issubdtype(arr.dtype, dtype):
        raise ShapeError(f"{name} has dtype {arr.dtype}, expected {dtype.__name__}")
