import numpy as np

from airan.twin.events import Event
from airan.twin.kpis import KPI_NAMES
from airan.twin.report import write_report
from airan.twin.result import EpisodeResult


def _result(rops=10, faults=True, run_id="run-1"):
    rng = np.random.default_rng(0)
    kpis = {k: rng.random((rops, 6)) for k in KPI_NAMES}
    kpis["L1M.SINR"][:, 2] = np.nan
    f = [{"kind": "cell_outage", "cells": [2], "severity": 1.0, "onset_rop": 3, "ramp_rops": 0,
          "end_rop": None}] if faults else []
    return EpisodeResult(run_id=run_id, scenario="ci-tiny", seed=1, rops=rops, rop_s=1.0, kpis=kpis,
                         ue_sinr_db=rng.normal(5, 5, (rops, 30)), ue_thp_mbps=rng.random((rops, 30)),
                         cell_xy=rng.random((6, 2)) * 100, ue_xy=rng.random((30, 2)) * 100,
                         events=[Event(3, "fault", "cell_outage", 2)], faults=f)


def test_report_has_plots_and_tables(tmp_path):
    path = write_report(_result(), tmp_path)
    text = path.read_text()
    assert "run-1" in text and "cell_outage" in text and "DRB.UEThpDl" in text
    for png in ("sinr_cdf.png", "cell_throughput.png", "kpi_timeline.png", "map.png"):
        assert png in text
        data = (tmp_path / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_no_fault_single_rop_and_escaping(tmp_path):
    path = write_report(_result(rops=1, faults=False, run_id="<script>x</script>"), tmp_path)
    text = path.read_text()
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "No fault injected" in text
