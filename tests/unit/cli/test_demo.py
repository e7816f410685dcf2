"""``airan demo``: the twin run, and the committed foundation model predicting unseen shapes zero-shot."""

from pathlib import Path

from typer.testing import CliRunner

from airan.cli.main import app

CHECKPOINT = Path(__file__).resolve().parents[3] / "checkpoints" / "airan-small-prior-gpu"


def test_demo_runs_the_twin_and_the_committed_model_zero_shot(tmp_path):
    r = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--scenario", "ci-tiny", "--rops", "4",
                                 "--fault", "cell_outage:cell=1,start=1,duration=2",
                                 "--fm-checkpoint", str(CHECKPOINT)])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "report.html").exists()
    lines = {line.split("│")[1].strip(): line for line in r.output.splitlines() if line.count("│") > 3}
    assert "airan-fm" in lines and "PAD (Prony, angular-delay)" in lines  # one row per model, a column per shape
    assert "tiny-held" in r.output


def test_demo_without_a_checkpoint_says_so_and_still_succeeds(tmp_path):
    r = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--scenario", "ci-tiny", "--rops", "3",
                                 "--fault", "cell_outage:cell=1,start=1,duration=1",
                                 "--fm-checkpoint", str(tmp_path / "missing")])
    assert r.exit_code == 0, r.output
    assert "zero-shot step skipped" in r.output and "missing" in r.output
