import re

import numpy as np

from airan.agents.base import Diagnosis
from airan.agents.llm import LlmConfig, rephrase, same_numbers
from airan.agents.reporter import Incident, cite, cite_peers, render


def test_report_cites_only_telemetry_numbers():
    hist = {"L1M.RSRP": np.array([[-90.25, -80.0], [-101.5, -81.0]])}
    inc = Incident(detected_rop=1, cells=(0,), diagnosis=Diagnosis({"pa_degradation": 0.9, "excessive_downtilt": 0.1},
                                                                   (0,)))
    inc.citations = cite(hist, ("L1M.RSRP",), 0, 0, 1)
    inc.actions.append("ROP 1: applied +power")
    text, ev = render([inc], "ep")
    assert "power amplifier" in text
    assert ev == {"L1M.RSRP@0@0": -90.25, "L1M.RSRP@0@1": -101.5}
    for v in ev.values():
        assert f"{v:.6g}" in text
    assert re.search(r"-101\.5", text)


def test_no_incident_report_and_llm_off(monkeypatch):
    text, ev = render([], "ep")
    assert "no anomaly" in text and ev == {}
    monkeypatch.delenv("AIRAN_LLM_URL", raising=False)
    assert LlmConfig.from_env() is None
    assert rephrase("x 1.5", None) == "x 1.5"
    assert same_numbers("a 1.5 b 2", "2 then 1.5") and not same_numbers("1.5", "1.6")


def test_a_cold_incident_cites_the_median_peer_and_says_why():
    # cell 0 has no history before its fault: the report cites it next to the peer at the median (a real value of
    # the telemetry, never an average), leaving out the cell itself, alarmed cells and NaN ones
    rsrp = np.array([[-101.5, -80.0, -84.0, -82.0, -140.0, np.nan]])
    peers = np.array([True, True, True, True, False, True])
    cits = cite_peers({"L1M.RSRP": rsrp, "Other": rsrp}, ("L1M.RSRP", "Missing"), 0, 0, peers)
    assert [(c.cell, c.value) for c in cits] == [(0, -101.5), (3, -82.0)]
    assert "median of the 3 cells" in cits[1].text()
    inc = Incident(detected_rop=0, cells=(0,), diagnosis=Diagnosis({"pa_degradation": 0.9, "cell_outage": 0.1},
                                                                   (0,)), citations=cits, cold=True)
    text, ev = render([inc], "ep")
    assert "already there when the telemetry starts" in text
    assert ev == {"L1M.RSRP@0@0": -101.5, "L1M.RSRP@3@0": -82.0}
    assert "already there" not in render([Incident(detected_rop=5, cells=(0,))], "ep")[0]


def test_an_audit_led_incident_says_what_the_audit_found_without_numbers_of_its_own():
    base = dict(detected_rop=4, cells=(4,), cold=True)
    named, _ = render([Incident(**base, audit="uptilt_overshoot")], "ep")
    assert "A configuration audit singled the cell out" in named and "reproduces them best" in named
    assert "uptilt" in named.split("configuration audit")[1]
    power, _ = render([Incident(**base, audit="power")], "ep")
    assert "A configuration audit singled the cell out" in power and "reproduces" not in power
    plain, _ = render([Incident(**base)], "ep")
    assert "configuration audit" not in plain
    # the audit's sentence adds no number: every number in the report is still a cited telemetry value
    assert not re.findall(r"\d", named.split("\n")[-2])
