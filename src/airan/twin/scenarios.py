"""Scenario configurations: frozen, validated dataclasses and the named registry.

All linear quantities are SI (m, Hz, s, W); logarithmic ones carry their unit in the name.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from airan.core.errors import ConfigError, UnknownScenarioError

CHANNEL_MODELS = ("uma", "umi", "rma")
# TS 38.101-1 Table 5.3.2-1 / 38.101-2 Table 5.3.2-1: N_RB for (bandwidth [MHz], SCS [kHz])
_NRB = {(5, 15): 25, (10, 15): 52, (15, 15): 79, (20, 15): 106, (40, 15): 216, (50, 15): 270,
        (10, 30): 24, (20, 30): 51, (40, 30): 106, (50, 30): 133, (60, 30): 162, (80, 30): 217, (100, 30): 273,
        (50, 60): 66, (100, 60): 135, (200, 60): 264, (100, 120): 66, (200, 120): 132, (400, 120): 264}


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ConfigError(msg)


@dataclass(frozen=True)
class AntennaConfig:
    """BS sector antenna: one vertical column of ``num_vertical_elements`` TR 38.901 elements
    (Table 7.3-1, 65 deg HPBW, 8 dBi) with analog electrical tilt. ``tilt_deg`` is the default electrical
    downtilt below the horizon; ``element_spacing_wavelengths`` is the vertical spacing d_V / lambda."""

    num_vertical_elements: int = 10
    element_spacing_wavelengths: float = 0.8
    tilt_deg: float = 12.0
    min_tilt_deg: float = -5.0
    max_tilt_deg: float = 20.0

    def __post_init__(self) -> None:
        _check(1 <= self.num_vertical_elements <= 64,
               f"num_vertical_elements must be in [1, 64], got {self.num_vertical_elements!r}")
        _check(0.1 <= self.element_spacing_wavelengths <= 2.0,
               f"element_spacing_wavelengths must be in [0.1, 2], got {self.element_spacing_wavelengths!r}")
        _check(self.min_tilt_deg <= self.tilt_deg <= self.max_tilt_deg,
               f"tilt_deg {self.tilt_deg!r} outside [{self.min_tilt_deg}, {self.max_tilt_deg}]")


@dataclass(frozen=True)
class TrafficConfig:
    """Non-full-buffer DL/UL demand: each UE alternates active/idle sessions; active UEs draw a lognormal rate.

    ``day_length_rops`` compresses the diurnal profile into that many ROPs (so an episode can show a day)."""

    mean_dl_demand_mbps: float = 8.0
    mean_ul_demand_mbps: float = 1.5
    demand_sigma: float = 0.8
    active_probability: float = 0.6
    diurnal_amplitude: float = 0.35
    day_length_rops: int = 1440
    start_hour: float = 14.0

    def __post_init__(self) -> None:
        _check(self.mean_dl_demand_mbps > 0, f"mean_dl_demand_mbps must be > 0, got {self.mean_dl_demand_mbps!r}")
        _check(self.mean_ul_demand_mbps > 0, f"mean_ul_demand_mbps must be > 0, got {self.mean_ul_demand_mbps!r}")
        _check(0 < self.active_probability <= 1,
               f"active_probability must be in (0,1], got {self.active_probability!r}")
        _check(0 <= self.diurnal_amplitude < 1, f"diurnal_amplitude must be in [0,1), got {self.diurnal_amplitude!r}")
        _check(self.day_length_rops >= 1, f"day_length_rops must be >= 1, got {self.day_length_rops!r}")


@dataclass(frozen=True)
class HandoverConfig:
    """A3 event defaults (TS 38.331): neighbour better than serving + hysteresis - CIO for TTT."""

    hysteresis_db: float = 2.0
    ttt_ms: float = 320.0
    cio_db: float = 0.0
    ping_pong_window_s: float = 5.0
    qout_sinr_db: float = -8.0
    t310_ms: float = 1000.0
    measurement_noise_db: float = 1.0
    substeps_per_rop: int = 5

    def __post_init__(self) -> None:
        _check(0 <= self.hysteresis_db <= 15, f"hysteresis_db must be in [0, 15], got {self.hysteresis_db!r}")
        _check(0 <= self.ttt_ms <= 5120, f"ttt_ms must be in [0, 5120], got {self.ttt_ms!r}")
        _check(1 <= self.substeps_per_rop <= 50, f"substeps_per_rop must be in [1, 50], got {self.substeps_per_rop!r}")


@dataclass(frozen=True)
class BackhaulConfig:
    """Per-site backhaul: capacity [bit/s], base latency [ms], M/M/1-like queueing above it."""

    capacity: float = 2e9
    base_latency_ms: float = 2.0
    max_latency_ms: float = 200.0

    def __post_init__(self) -> None:
        _check(self.capacity > 0, f"backhaul capacity must be > 0 bit/s, got {self.capacity!r}")


@dataclass(frozen=True)
class EnergyConfig:
    """Load-dependent RU power model (EARTH / TR 38.864 style), per cell:
    P = p_idle_w + slope * p_tx_w * load when active; sleep states draw fixed power."""

    p_idle_w: float = 260.0
    load_slope: float = 4.7
    p_micro_sleep_w: float = 160.0
    p_deep_sleep_w: float = 60.0
    p_off_w: float = 0.0

    def __post_init__(self) -> None:
        _check(self.p_idle_w >= 0 and self.load_slope >= 0, f"energy params must be >= 0, got {self!r}")


@dataclass(frozen=True)
class ScenarioConfig:
    """One multi-cell scenario of the twin. ``num_rings`` hexagonal rings of 3-sector sites
    (0 -> 1 site, 1 -> 7, 2 -> 19), TR 38.901 calibration layout with wraparound."""

    name: str
    channel_model: str
    num_rings: int
    isd_m: float
    carrier_frequency_hz: float
    bandwidth_hz: float
    subcarrier_spacing_hz: float
    tx_power_dbm: float
    bs_height_m: float
    ues_per_cell: int
    ue_noise_figure_db: float = 9.0
    bs_noise_figure_db: float = 5.0
    ue_tx_power_dbm: float = 23.0
    indoor_probability: float = 0.8
    vehicle_fraction: float = 0.2
    pedestrian_speed: float = 0.83
    vehicle_speed: float = 8.33
    rop_s: float = 1.0
    o2i_model: str = "low"
    antenna: AntennaConfig = field(default_factory=AntennaConfig)
    traffic: TrafficConfig = field(default_factory=TrafficConfig)
    handover: HandoverConfig = field(default_factory=HandoverConfig)
    backhaul: BackhaulConfig = field(default_factory=BackhaulConfig)
    energy: EnergyConfig = field(default_factory=EnergyConfig)
    crowd_ues: int = 0
    crowd_radius_m: float = 60.0
    crowd_demand_factor: float = 1.0
    description: str = ""

    def __post_init__(self) -> None:
        _check(self.channel_model in CHANNEL_MODELS,
               f"channel_model must be one of {CHANNEL_MODELS}, got {self.channel_model!r}")
        _check(self.num_rings in (0, 1, 2), f"num_rings must be 0, 1 or 2, got {self.num_rings!r}")
        _check(self.isd_m > 0, f"isd_m must be > 0, got {self.isd_m!r}")
        _check(0.5e9 <= self.carrier_frequency_hz <= 100e9,
               f"carrier_frequency_hz must be in [0.5e9, 100e9] Hz, got {self.carrier_frequency_hz!r}")
        _check(self.subcarrier_spacing_hz in (15e3, 30e3, 60e3, 120e3),
               f"subcarrier_spacing_hz must be 15/30/60/120 kHz in Hz, got {self.subcarrier_spacing_hz!r}")
        _check(1e6 <= self.bandwidth_hz <= 400e6,
               f"bandwidth_hz must be in [1e6, 400e6] Hz (not MHz), got {self.bandwidth_hz!r}")
        _check(self.num_prbs >= 1, f"bandwidth {self.bandwidth_hz} Hz gives no PRB at {self.subcarrier_spacing_hz} Hz")
        _check(0 <= self.tx_power_dbm <= 60, f"tx_power_dbm must be in [0, 60], got {self.tx_power_dbm!r}")
        _check(self.bs_height_m > 1.5, f"bs_height_m must be > 1.5 m, got {self.bs_height_m!r}")
        _check(1 <= self.ues_per_cell <= 1000, f"ues_per_cell must be in [1, 1000], got {self.ues_per_cell!r}")
        _check(0 <= self.indoor_probability <= 1,
               f"indoor_probability must be in [0,1], got {self.indoor_probability!r}")
        _check(0 <= self.vehicle_fraction <= 1, f"vehicle_fraction must be in [0,1], got {self.vehicle_fraction!r}")
        _check(self.rop_s > 0, f"rop_s must be > 0 s, got {self.rop_s!r}")
        _check(self.o2i_model in ("low", "high"), f"o2i_model must be 'low' or 'high', got {self.o2i_model!r}")
        _check(self.crowd_ues >= 0, f"crowd_ues must be >= 0, got {self.crowd_ues!r}")

    # Derived values
    @property
    def num_sites(self) -> int:
        return 1 + 3 * self.num_rings * (self.num_rings + 1)

    @property
    def num_cells(self) -> int:
        return 3 * self.num_sites

    @property
    def num_ues(self) -> int:
        return self.num_cells * self.ues_per_cell + self.crowd_ues

    @property
    def num_prbs(self) -> int:
        """PRBs in the carrier: TS 38.101-1/-2 maximum transmission bandwidth configuration where listed,
        else 95% spectrum occupancy."""
        listed = _NRB.get((round(self.bandwidth_hz / 1e6), round(self.subcarrier_spacing_hz / 1e3)))
        if listed is not None:
            return listed
        return int(math.floor(0.95 * self.bandwidth_hz / (12 * self.subcarrier_spacing_hz)))

    @property
    def wavelength(self) -> float:
        """Carrier wavelength [m]."""
        return 299_792_458.0 / self.carrier_frequency_hz

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_(self, **changes: Any) -> ScenarioConfig:
        """A validated copy with some fields changed."""
        return replace(self, **changes)


_SCENARIOS: dict[str, ScenarioConfig] = {
    "uma-19": ScenarioConfig(
        name="uma-19", channel_model="uma", num_rings=2, isd_m=500.0, carrier_frequency_hz=3.5e9,
        bandwidth_hz=100e6, subcarrier_spacing_hz=30e3, tx_power_dbm=49.0, bs_height_m=25.0, ues_per_cell=10,
        description="TR 38.901 UMa calibration layout: 19 sites x 3 sectors, ISD 500 m, 3.5 GHz, wraparound",
    ),
    "umi-19": ScenarioConfig(
        name="umi-19", channel_model="umi", num_rings=2, isd_m=200.0, carrier_frequency_hz=3.5e9,
        bandwidth_hz=100e6, subcarrier_spacing_hz=30e3, tx_power_dbm=44.0, bs_height_m=10.0, ues_per_cell=10,
        antenna=AntennaConfig(tilt_deg=10.0),
        description="TR 38.901 UMi street canyon: 19 sites x 3 sectors, ISD 200 m, 3.5 GHz, wraparound",
    ),
    "rma-7": ScenarioConfig(
        name="rma-7", channel_model="rma", num_rings=1, isd_m=1732.0, carrier_frequency_hz=0.7e9,
        bandwidth_hz=20e6, subcarrier_spacing_hz=15e3, tx_power_dbm=46.0, bs_height_m=35.0, ues_per_cell=10,
        indoor_probability=0.5, vehicle_fraction=0.5, vehicle_speed=16.7,
        antenna=AntennaConfig(tilt_deg=6.0),
        backhaul=BackhaulConfig(capacity=1e9, base_latency_ms=5.0),
        description="TR 38.901 RMa: 7 sites x 3 sectors, ISD 1732 m, 700 MHz, wraparound",
    ),
    "stadium": ScenarioConfig(
        name="stadium", channel_model="umi", num_rings=1, isd_m=200.0, carrier_frequency_hz=3.5e9,
        bandwidth_hz=100e6, subcarrier_spacing_hz=30e3, tx_power_dbm=44.0, bs_height_m=10.0, ues_per_cell=8,
        indoor_probability=0.3, vehicle_fraction=0.0, crowd_ues=240, crowd_radius_m=60.0, crowd_demand_factor=1.5,
        antenna=AntennaConfig(tilt_deg=10.0),
        description="Dense UMi hotspot cluster (7 sites x 3 sectors, ISD 200 m) around a stadium with an event crowd",
    ),
    "ci-tiny": ScenarioConfig(
        name="ci-tiny", channel_model="umi", num_rings=1, isd_m=200.0, carrier_frequency_hz=3.5e9,
        bandwidth_hz=20e6, subcarrier_spacing_hz=30e3, tx_power_dbm=40.0, bs_height_m=10.0, ues_per_cell=4,
        antenna=AntennaConfig(tilt_deg=10.0),
        description="Small UMi network for tests: 7 sites x 3 sectors, 84 UEs",
    ),
}


def scenario_names() -> tuple[str, ...]:
    return tuple(_SCENARIOS)


def get_scenario(name: str) -> ScenarioConfig:
    """Look up a named scenario; unknown names raise ``UnknownScenarioError`` listing the valid ones."""
    try:
        return _SCENARIOS[name]
    except KeyError:
        raise UnknownScenarioError(f"unknown scenario {name!r}; choose one of {sorted(_SCENARIOS)}") from None
