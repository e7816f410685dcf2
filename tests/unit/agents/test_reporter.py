import re

import numpy as np

from airan.agents.base import Diagnosis
from airan.agents.llm import LlmConfig, rephrase, same_numbers
from airan.agents.reporter import Incident, cite, render


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
