"""Dataset families: named sets of CSI configurations, stored as JSON files (``families/*.json`` in the
package, or any file a user writes with the same fields). Each configuration is a frozen, validated
``CsiConfig``; ``held_out`` marks configurations never used for pretraining (zero-shot evaluation)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from airan.core.errors import ConfigError

FAMILY_DIR = Path(__file__).parent / "families"
MODELS = ("uma", "umi", "rma", "inh")


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ConfigError(msg)


@dataclass(frozen=True)
class CsiConfig:
    """One channel configuration. Shape of a sample: [num_slots, num_antennas, num_subcarriers], complex64.

    carrier_hz [Hz], subcarrier_spacing_hz [Hz] (spacing of the stored frequency samples), slot_s [s],
    speed_kmh [km/h] (uniform range), distance_m [m] (BS-UE 2D range), bs_rows x bs_cols UPA (x2 if dual_pol),
    los in random|los|nlos, beams: DFT codebook sizes for beam labels, ad_taps: angular-delay truncation
    (0 = none), ul_subcarriers / dl_subcarriers: [start, stop) bands of one carrier (LLM4CP-style FDD split;
    empty = TDD), window_slots: stitch long tracks from windows of this many slots (0 = one window),
    num_neighbors: also store the K strongest of 6 neighbour sectors, fdd_gap_hz: also store an uplink band
    this far [Hz] from the downlink band (separate-carrier FDD from the same rays)."""

    name: str
    model: str
    carrier_hz: float
    num_subcarriers: int
    subcarrier_spacing_hz: float
    num_slots: int
    slot_s: float
    bs_rows: int
    bs_cols: int
    dual_pol: bool = False
    speed_kmh: tuple[float, float] = (3.0, 30.0)
    distance_m: tuple[float, float] = (20.0, 250.0)
    los: str = "random"
    indoor_probability: float = 0.0
    held_out: bool = False
    beams: tuple[int, ...] = ()
    ad_taps: int = 0
    ul_subcarriers: tuple[int, ...] = ()
    dl_subcarriers: tuple[int, ...] = ()
    position_group: str = ""
    num_bs: int = 4
    window_slots: int = 0
    num_neighbors: int = 0
    fdd_gap_hz: float = 0.0

    def __post_init__(self) -> None:
        _check(self.model in MODELS, f"{self.name}: model must be one of {MODELS}, got {self.model!r}")
        _check(0.5e9 <= self.carrier_hz <= 100e9, f"{self.name}: carrier_hz {self.carrier_hz!r} outside 0.5-100 GHz")
        _check(self.model != "rma" or self.carrier_hz <= 30e9, f"{self.name}: RMa is defined up to 30 GHz")
        _check(1 <= self.num_subcarriers <= 4096, f"{self.name}: num_subcarriers {self.num_subcarriers!r}")
        _check(1e3 <= self.subcarrier_spacing_hz <= 2e6,
               f"{self.name}: subcarrier_spacing_hz {self.subcarrier_spacing_hz!r} must be in Hz (1e3..2e6)")
        _check(1 <= self.num_slots <= 256, f"{self.name}: num_slots {self.num_slots!r}")
        _check(1e-5 <= self.slot_s <= 0.01, f"{self.name}: slot_s {self.slot_s!r} must be in seconds (1e-5..0.01)")
        _check(self.bs_rows >= 1 and self.bs_cols >= 1, f"{self.name}: bad array {self.bs_rows}x{self.bs_cols}")
        _check(0 <= self.speed_kmh[0] <= self.speed_kmh[1] <= 500, f"{self.name}: speed_kmh {self.speed_kmh!r}")
        _check(0 < self.distance_m[0] < self.distance_m[1], f"{self.name}: distance_m {self.distance_m!r}")
        _check(self.los in ("random", "los", "nlos"), f"{self.name}: los must be random|los|nlos, got {self.los!r}")
        _check(all(b % (self.bs_rows * self.bs_cols) == 0 for b in self.beams),
               f"{self.name}: beams {self.beams!r} must be multiples of {self.bs_rows * self.bs_cols}")
        _check(0 <= self.ad_taps <= self.num_subcarriers, f"{self.name}: ad_taps {self.ad_taps!r}")
        _check(self.window_slots >= 0, f"{self.name}: window_slots {self.window_slots!r} must be >= 0")
        _check(0 <= self.num_neighbors <= 6, f"{self.name}: num_neighbors {self.num_neighbors!r} must be in 0..6")
        _check(0 <= self.fdd_gap_hz <= 0.5 * self.carrier_hz,
               f"{self.name}: fdd_gap_hz {self.fdd_gap_hz!r} must be in [0, carrier/2] Hz")
        for band in (self.ul_subcarriers, self.dl_subcarriers):
            _check(len(band) in (0, 2) and (not band or 0 <= band[0] < band[1] <= self.num_subcarriers),
                   f"{self.name}: band {band!r} must be [start, stop) within {self.num_subcarriers} subcarriers")

    @property
    def num_antennas(self) -> int:
        return self.bs_rows * self.bs_cols * (2 if self.dual_pol else 1)

    @property
    def shape(self) -> tuple[int, int, int]:
        """[time, antenna, subcarrier]."""
        return (self.num_slots, self.num_antennas, self.num_subcarriers)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CsiConfig:
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"config {d.get('name', '?')!r}: unknown field(s) {sorted(unknown)}")
        d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        try:
            return cls(**d)
        except TypeError as e:
            raise ConfigError(f"config {d.get('name', '?')!r}: {e}") from None


@dataclass(frozen=True)
class Family:
    name: str
    description: str
    configs: tuple[CsiConfig, ...] = field(default_factory=tuple)

    def config(self, name: str) -> CsiConfig:
        for c in self.configs:
            if c.name == name:
                return c
        raise ConfigError(f"family {self.name!r} has no config {name!r}; it has {[c.name for c in self.configs]}")


def family_names() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in FAMILY_DIR.glob("*.json")))


def load_family(name_or_path: str | Path) -> Family:
    """A built-in family by name, or a JSON family file ({"name", "description", "configs": [...]})."""
    path = Path(name_or_path)
    if not path.suffix:
        path = FAMILY_DIR / f"{name_or_path}.json"
        if not path.exists():
            raise ConfigError(f"unknown family {str(name_or_path)!r}; built-in: {list(family_names())} or a .json file")
    if not path.exists():
        raise ConfigError(f"family file {str(path)!r} does not exist")
    try:
        d = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f"family file {str(path)!r} is not valid JSON: {e}") from None
    configs = tuple(CsiConfig.from_dict(c) for c in d.get("configs", []))
    if not configs:
        raise ConfigError(f"family {str(path)!r} has no configs")
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise ConfigError(f"family {str(path)!r}: duplicate config names {names}")
    return Family(d.get("name", path.stem), d.get("description", ""), configs)
