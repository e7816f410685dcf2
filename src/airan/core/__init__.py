"""Core helpers shared by every layer: units, RNG, errors, array specs. Imports nothing of airan."""

from airan.core.errors import (
    ActionError,
    AiranError,
    ConfigError,
    FaultError,
    ShapeError,
    SpecError,
    StoreError,
    UnknownScenarioError,
)
from airan.core.rng import make_rng, spawn_rngs
from airan.core.units import (
    db_to_lin,
    dbm_to_w,
    lin_to_db,
    thermal_noise_dbm,
    w_to_dbm,
)

__all__ = [
    "ActionError",
    "AiranError",
    "ConfigError",
    "FaultError",
    "ShapeError",
    "SpecError",
    "StoreError",
    "UnknownScenarioError",
    "db_to_lin",
    "dbm_to_w",
    "lin_to_db",
    "make_rng",
    "spawn_rngs",
    "thermal_noise_dbm",
    "w_to_dbm",
]
