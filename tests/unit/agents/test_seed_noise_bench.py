"""bench/heal_seed_noise.py: its LABEL=LOGS arguments and the spread over draws."""

from pathlib import Path

import pytest

from ._helpers import load_bench


@pytest.fixture(scope="module")
def mod():
    return load_bench("heal_seed_noise")


def test_labelled_runs_keep_their_order_and_a_bad_item_is_named(mod):
    assert mod.labelled(["0,1=a/logs.jsonl", "2,3=b/logs.jsonl"], "--draws") == [
        ("0,1", Path("a/logs.jsonl")), ("2,3", Path("b/logs.jsonl"))]
    for bad in (["logs.jsonl"], ["=logs.jsonl"], ["x="]):
        with pytest.raises(SystemExit, match=repr(bad[0]).replace("[", r"\[")):
            mod.labelled(bad, "--draws")
    with pytest.raises(SystemExit, match="'x' given twice"):
        mod.labelled(["x=a", "x=b"], "--compare")


def test_the_spread_over_draws_skips_unmeasured_values(mod):
    rows = {"a": {"m": {"k": 17}}, "b": {"m": {"k": 8}}, "c": {"m": {"k": None}}, "d": {"m": {"k": 12}}}
    assert mod.spread(rows, "m", "k") == {"min": 8.0, "max": 17.0, "range": 9.0}
    assert mod.spread({"a": {"m": {"k": None}}}, "m", "k") == {}


def test_a_variant_is_summed_over_its_own_draws_against_the_same_draws_defaults(mod):
    def row(k):  # every count metric with k of 100, the FKR median unmeasured
        return {c: {"value": None, "k": k if c != "fkr_median" else None, "n": 100} for c in mod.COUNTS}

    rows = {"0,1": row(10), "2,3": row(20), "4,5": row(99), "v@0,1": row(11), "v@2,3": row(25)}
    compared = {"v@0,1 - 0,1": {"mean_diff": 0.02}, "v@2,3 - 2,3": {"mean_diff": -0.01}}
    out = mod.summarise(rows, compared, {"v@0,1": ("v", "0,1"), "v@2,3": ("v", "2,3")})["v"]
    assert out["draws"] == ["0,1", "2,3"] and out["paired_fkr_mean"] == pytest.approx(0.005)
    assert set(out["counts"]) == set(mod.COUNTS[1:])  # every count a pre-registered rule reads
    assert out["counts"]["full_recovery_rate"] == {"default": 30, "variant": 36, "n_default": 200, "n_variant": 200}
    assert out["harmful_action_rate"] == {"default": 30, "variant": 36, "actions_default": 200,
                                          "actions_variant": 200}  # the draw 4,5 it did not run is left out
