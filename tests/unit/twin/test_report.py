import re

import numpy as np
import pytest

import airan.twin.report as report_mod
from airan.twin.events import Event
from airan.twin.kpis import KPI_NAMES
from airan.twin.report import MAX_EVENT_ROWS, write_report
from airan.twin.result import EpisodeResult

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ALL_PNGS = ("sinr_cdf.png", "cell_throughput.png", "kpi_timeline.png", "map.png")


def _result(rops=10, faults=True, run_id="run-1", num_cells=6, num_ues=30, events=None, kpis=KPI_NAMES):
    rng = np.random.default_rng(0)
    series = {k: rng.random((rops, num_cells)) * 100 for k in kpis}
    if "L1M.SINR" in series:
        series["L1M.SINR"][:, 2] = np.nan  # a cell without served UEs
    if "DRB.CellThpDl" in series:
        series["DRB.CellThpDl"][:, 4] = np.nan  # a cell that reports nothing
    sinr_db = rng.normal(5, 5, (rops, num_ues))
    sinr_db[:, :3] = np.nan  # unserved UEs
    f = [{"kind": "cell_outage", "cells": [2], "severity": 1.0, "onset_rop": 3, "ramp_rops": 1,
          "end_rop": None}] if faults else []
    return EpisodeResult(run_id=run_id, scenario="ci-tiny", seed=1, rops=rops, rop_s=1.0, kpis=series,
                         ue_sinr_db=sinr_db, ue_thp_mbps=rng.random((rops, num_ues)),
                         cell_xy=rng.random((num_cells, 2)) * 500, ue_xy=rng.random((num_ues, 2)) * 500,
                         events=[Event(3, "fault", "cell_outage", 2)] if events is None else events, faults=f)


@pytest.fixture
def no_plots(monkeypatch):
    """Skip matplotlib (about 2 s a report) in tests that only look at the HTML."""
    monkeypatch.setattr(report_mod, "_plots", lambda result, out: [])


def _referenced_pngs(text):
    return re.findall(r"src='([^']+\.png)'", text)


def _assert_valid_pngs(out_dir, names):
    for name in names:
        data = (out_dir / name).read_bytes()
        assert data[:8] == PNG_MAGIC, name
        assert len(data) > 5000, name


def test_report_has_run_facts_tables_and_plots(tmp_path):
    path = write_report(_result(), tmp_path)

    assert path == tmp_path / "report.html" and path.exists()
    text = path.read_text()
    assert "run-1" in text and "ci-tiny" in text and "cell_outage" in text and "DRB.UEThpDl" in text
    assert "Mbit/s" in text and "<h2>Events (1)</h2>" in text
    assert sorted(_referenced_pngs(text)) == sorted(ALL_PNGS)
    _assert_valid_pngs(tmp_path, ALL_PNGS)
    assert "http://" not in text and "https://" not in text and "<script" not in text


def test_no_fault_uses_all_rops(tmp_path):
    text = write_report(_result(faults=False), tmp_path).read_text()

    assert "No fault injected" in text
    _assert_valid_pngs(tmp_path, _referenced_pngs(text))
    assert len(_referenced_pngs(text)) == 4


def test_single_rop_with_and_without_fault(tmp_path):
    for faults in (False, True):
        out = tmp_path / str(faults)
        res = _result(rops=1, faults=faults)
        if faults:
            res.faults[0]["onset_rop"] = 0

        text = write_report(res, out).read_text()

        assert len(_referenced_pngs(text)) == 4
        _assert_valid_pngs(out, _referenced_pngs(text))


def test_missing_optional_kpis_skip_plots(tmp_path):
    res = _result(kpis=("DRB.UEThpDl", "RLF.Count"))

    text = write_report(res, tmp_path).read_text()

    refs = _referenced_pngs(text)
    assert "cell_throughput.png" not in refs and "kpi_timeline.png" in refs
    _assert_valid_pngs(tmp_path, refs)
    text = write_report(_result(kpis=()), tmp_path / "none").read_text()
    assert sorted(_referenced_pngs(text)) == ["map.png", "sinr_cdf.png"]


def test_text_is_escaped(tmp_path, no_plots):
    bad = "<script>alert(1)</script>"
    res = _result(run_id=bad, events=[Event(1, "alarm", bad, None, {"why": bad})])
    res.faults[0]["kind"] = bad

    text = write_report(res, tmp_path, title=bad).read_text()

    assert "<script>" not in text and "&lt;script&gt;" in text


def test_events_are_capped_with_a_note(tmp_path, no_plots):
    n = MAX_EVENT_ROWS + 37
    res = _result(events=[Event(i % 10, "action", "tilt", i % 6, {"tilt_deg": 2}) for i in range(n)])

    text = write_report(res, tmp_path).read_text()

    assert text.count("<td>tilt</td>") == MAX_EVENT_ROWS
    assert "37 more were left out" in text


def test_fault_ending_early_and_out_of_episode_fault(tmp_path):
    res = _result()
    res.faults = [{"kind": "interference", "cells": [0, 1], "severity": 0.5, "onset_rop": 2, "ramp_rops": 0,
                   "end_rop": 5},
                  {"kind": "backhaul_degradation", "cells": [3], "severity": 0.7, "onset_rop": 40, "ramp_rops": 2,
                   "end_rop": None}]

    text = write_report(res, tmp_path).read_text()

    assert "interference" in text and "backhaul_degradation" in text
    _assert_valid_pngs(tmp_path, _referenced_pngs(text))


def test_shape_mismatch_is_rejected(tmp_path):
    res = _result()
    res.kpis["DRB.UEThpDl"] = res.kpis["DRB.UEThpDl"][:, :3]

    with pytest.raises(ValueError, match="DRB.UEThpDl"):
        write_report(res, tmp_path)
