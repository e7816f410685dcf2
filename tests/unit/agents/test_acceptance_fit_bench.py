"""bench/heal_acceptance_fit.py: per-cause acceptance thresholds fitted on fidelity records."""

import pytest

from ._helpers import load_bench


@pytest.fixture(scope="module")
def mod():
    return load_bench("heal_acceptance_fit")


def _round(cause, cands):
    return {"hypothesis": cause, "candidates": [{"name": f"c{i}", "rollouts": list(r), "true": t}
                                                for i, (r, t) in enumerate(cands)]}


def _records():
    # an outage hypothesis whose predictions the truth follows, and an interference one whose small predicted
    # gains (0.012, accepted by the current rule) are losses in truth while its large ones are gains
    good = [_round("cell_outage", [((0.02, 0.015, 0.03, 0.02), 0.03), ((-0.01, -0.02, 0.0, -0.01), -0.02)])] * 4
    bad = [_round("external_interference", [((0.012, 0.011, 0.013, 0.012), -0.03)])] * 4
    big = [_round("external_interference", [((0.04, 0.035, 0.045, 0.04), 0.05)])] * 2
    return good + bad + big


def test_fit_tightens_the_noisy_cause_and_keeps_the_faithful_one(mod):
    kw = {"harm": 0.01, "worth": 0.02, "harm_ho": 1.0, "worth_ho": 0.5}
    recs = _records()
    rules = mod.fit(recs, 0.05, kw)
    assert rules["external_interference"].min_gain > 0.012  # declines the harmful small gains
    cur, fit = mod.per_cause(recs, None, kw), mod.per_cause(recs, rules, kw)
    assert cur["external_interference"]["harmful"] == 4 and fit["external_interference"]["harmful"] == 0
    assert fit["external_interference"]["gained"] == 2 and fit["cell_outage"]["gained"] == 4
    assert fit["total"]["ratio_gain_sum"] > cur["total"]["ratio_gain_sum"]
    sep = mod.separability(recs, 0.01)
    assert sep["external_interference"]["harmful"]["picks"] == 4
    assert sep["external_interference"]["harmful"]["mean"] == pytest.approx(0.012)
    assert sep["cell_outage"]["harmful"] == {"picks": 0}


def test_handover_rounds_are_left_out(mod, tmp_path):
    import json

    p = tmp_path / "f.json"
    p.write_text(json.dumps({"records": _records() + [_round("ho_misconfig", [((1.0, 1.0), 2.0)])]}))
    assert {r["hypothesis"] for r in mod.load_records(p)} == {"cell_outage", "external_interference"}
