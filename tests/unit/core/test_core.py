import numpy as np
import pytest

from airan.core.errors import AiranError, ConfigError, UnknownScenarioError
from airan.core.rng import make_rng, spawn_rngs
from airan.core.units import db_to_lin, dbm_to_w, lin_to_db, thermal_noise_dbm, w_to_dbm


def test_db_roundtrip_and_known_values():
    x = np.array([0.0, 3.0, 10.0, -20.0])
    assert np.allclose(lin_to_db(db_to_lin(x)), x)
    assert dbm_to_w(30.0) == pytest.approx(1.0)
    assert w_to_dbm(0.001) == pytest.approx(0.0)
    assert lin_to_db(0.0) == pytest.approx(-300.0)  # floored, not -inf


def test_thermal_noise_matches_kTB():
    # -174 dBm/Hz + 10log10(1 MHz) + 9 dB NF = -105 dBm
    assert thermal_noise_dbm(1e6, 9.0) == pytest.approx(-105.0)
    with pytest.raises(ValueError, match="-5"):
        thermal_noise_dbm(-5, 9.0)


def test_spawned_streams_are_stable_and_independent():
    a = spawn_rngs(7, ("x", "y"))
    b = spawn_rngs(7, ("x", "y", "z"))
    assert a["x"].random() == b["x"].random()  # adding a consumer does not shift the others
    assert a["y"].random() != spawn_rngs(7, ("x", "y"))["x"].random()
    with pytest.raises(ValueError, match="-1"):
        spawn_rngs(-1, ("x",))
    with pytest.raises(TypeError):
        make_rng("seed")


def test_error_hierarchy():
    assert issubclass(UnknownScenarioError, ConfigError)
    assert issubclass(ConfigError, AiranError) and issubclass(ConfigError, ValueError)
