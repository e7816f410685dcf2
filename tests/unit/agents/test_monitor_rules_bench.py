"""bench/heal_monitor_rules.py: the rule variants it scores on replayed monitor records."""

import numpy as np
import pytest

from airan.agents.monitor import MonitorConfig

from ._helpers import load_bench


@pytest.fixture(scope="module")
def mod():
    return load_bench("heal_monitor_rules")


def _episode(control=False):
    r, c = 8, 3
    rec = {k: np.zeros((r, c)) for k in ("score", "sig", "bad", "pp", "dead:default", "dead:A", "dead:A+B")}
    rec["score"][3:5, 0] = 0.99  # cell 0: two ROPs above the threshold, KPIs barely worse
    rec["bad"][3:5, 0] = 1.0
    rec["pp"][5:7, 2] = [2.0, 2.0]  # cell 2: 4 ping-pongs in 2 ROPs
    return {"id": "e", "control": control, "undetectable": False, "cause": "x", "onset": 2,
            "scope": np.array([0]), "threshold": 0.9, "persistence": 2, "rec": rec}


def test_variants_change_what_fires(mod):
    e, cfg = _episode(), MonitorConfig()
    assert mod.fires(e, cfg)[4, 0] and not mod.fires(e, cfg)[:, 2].any()  # default: 5 ping-pongs over 3 ROPs
    assert not mod.fires(e, cfg, bad=2.0)[:, 0].any()  # the score alone no longer detects
    assert not mod.fires(e, cfg, persist=3)[:, 0].any()
    assert mod.fires(e, cfg, pp=(4, 2))[6, 2]


def test_scores_controls_recall_and_false_leads(mod):
    cfg = MonitorConfig()
    v = mod.score_variant([_episode(), _episode(control=True)], cfg, pp=(4, 2))
    assert v["controls_alarmed"] == 1 and v["detected"] == 1 and v["detectable"] == 1
    assert v["false_lead_episodes"] == 1  # cell 2 fired outside the fault scope
    assert mod.score_variant([_episode()], cfg, bad=2.0)["detected"] == 0


def test_dead_air_variants_need_their_own_three_silent_rops(mod):
    e, cfg = _episode(), MonitorConfig()
    e["rec"]["score"][:] = 0.0  # only dead air can fire
    e["rec"]["dead:A"][3:6, 0] = 1.0  # the reports-only evidence sees 3 silent ROPs on cell 0 ...
    e["rec"]["dead:A+B"][3:5, 0] = 1.0  # ... the other only 2
    assert not mod.fires(e, cfg).any()
    assert mod.fires(e, cfg, dead="A")[5, 0] and not mod.fires(e, cfg, dead="A")[4, 0]
    assert not mod.fires(e, cfg, dead="A+B").any()
    ref = mod.score_variant([e], cfg)
    new = mod.score_variant([e], cfg, dead="A")
    assert (ref["detected"], new["detected"]) == (0, 1) and mod.earlier_than(new, ref) == ["e"]
    assert mod.earlier_than(ref, new) == [] and mod.later_than(ref, new, [e]) == {"x": 1}


def test_the_ping_pong_ratio_variant_needs_most_handovers_to_ping_pong(mod):
    e, cfg = _episode(), MonitorConfig()
    e["rec"]["ho"] = np.zeros_like(e["rec"]["pp"])
    e["rec"]["ho"][5:7, 2] = [2.0, 3.0]  # 5 handover attempts carry the 4 ping-pongs
    assert not mod.fires(e, cfg)[:, 2].any()  # the storm needs 5 over 3 ROPs
    assert mod.fires(e, cfg, ratio=(4, 3, 0.7))[6, 2]  # 4 >= 0.7 x 5
    assert not mod.fires(e, cfg, ratio=(4, 3, 0.7))[5, 2]  # only 2 so far
    e["rec"]["ho"][5:7, 2] = [4.0, 4.0]  # a surge: 8 attempts, half of them ping-pong
    assert not mod.fires(e, cfg, ratio=(4, 3, 0.7))[:, 2].any()
    assert mod.fires(e, cfg, ratio=(4, 3, 0.5))[6, 2]


def test_the_rlf_count_variant_fires_on_failures_over_its_window(mod):
    e, cfg = _episode(), MonitorConfig()
    e["rec"]["rlf"] = np.zeros_like(e["rec"]["pp"])
    e["rec"]["rlf"][[3, 5], 1] = 1.0  # cell 1: two failures 3 ROPs apart
    assert not mod.fires(e, cfg)[:, 1].any()  # the replayed default carries its own burst in ``sig``
    assert not mod.fires(e, cfg, rlf=(2, 2))[:, 1].any()
    assert mod.fires(e, cfg, rlf=(2, 3))[5, 1] and not mod.fires(e, cfg, rlf=(2, 3))[4, 1]
