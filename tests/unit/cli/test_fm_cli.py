"""`airan finetune` and `airan predict` end to end at tiny size: fine-tune, predict on an unseen shape (.npy and
.npz), zero-shot from a pretrained checkpoint, and clear errors for bad inputs."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from airan.cli.main import app
from airan.data.datagen import generate_dataset
from airan.data.families import load_family
from airan.fm import checkpoint
from airan.fm.model import CsiMAE, fm_config

runner = CliRunner()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("fmcli")
    generate_dataset(load_family("ci-tiny"), 64, root / "data", seed=9, shard_size=32)
    torch.manual_seed(0)
    checkpoint.save(root / "base", CsiMAE(fm_config("tiny")), {}, {"step": 0})
    return root


def _channel(shape, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def test_finetune_then_predict_roundtrip(setup, tmp_path):
    ft = tmp_path / "ft"
    r = runner.invoke(app, ["finetune", "--checkpoint", str(setup / "base"), "--data", str(setup / "data"),
                            "--task", "freq", "--mode", "lora", "--shots", "10pct", "--steps", "4",
                            "--batch-size", "8", "--snr-db", "10", "--out", str(ft), "--format", "json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["task"] == "freq" and s["mode"] == "lora" and s["shots"] == "10pct" and s["steps"] == 4
    assert 0 < s["trainable_params"] < s["params"] and s["train_samples"] >= 1
    assert (ft / "meta.json").exists() and (ft / "ckpt.pt").exists()

    h = _channel((10, 6, 24))  # a shape no ci-tiny config has
    np.save(tmp_path / "h.npy", h)
    r = runner.invoke(app, ["predict", "--checkpoint", str(ft), "--input", str(tmp_path / "h.npy"),
                            "--out", str(tmp_path / "p.npy"), "--format", "json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    pred = np.load(tmp_path / "p.npy")
    assert pred.shape == h.shape and np.iscomplexobj(pred)
    assert s["task"] == "freq" and s["known_from"] == "task mask" and np.isfinite(s["nmse_db_hidden"])
    assert s["hidden_res"] == 10 * 12  # every other 4-subcarrier patch of 24 subcarriers, all 10 slots
    for k in (0, 2, 4):  # observed subcarrier patches come back as given, hidden ones are predicted
        np.testing.assert_allclose(pred[..., 4 * k:4 * k + 4], h[..., 4 * k:4 * k + 4], atol=1e-5)
    assert not np.allclose(pred[..., 4:8], h[..., 4:8], atol=1e-3)
    known = np.ones((10, 24), bool)
    known[:, 16:] = False

    # .npz with its own known mask and a zeroed (unknown) band: no NMSE is claimed
    hz = h.copy()
    hz[:, :, 16:] = 0
    np.savez(tmp_path / "in.npz", h=hz[None], known=known)
    r = runner.invoke(app, ["predict", "--checkpoint", str(ft), "--input", str(tmp_path / "in.npz"),
                            "--out", str(tmp_path / "q.npy"), "--format", "json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["known_from"] == "input" and s["nmse_db_hidden"] is None and s["hidden_res"] == 80
    assert np.load(tmp_path / "q.npy").shape == (1, 10, 6, 24)


def test_predict_zero_shot_from_a_pretrained_checkpoint(setup, tmp_path):
    np.save(tmp_path / "h.npy", _channel((2, 8, 4, 16)))
    args = ["predict", "--checkpoint", str(setup / "base"), "--input", str(tmp_path / "h.npy"),
            "--out", str(tmp_path / "p.npy"), "--format", "json"]
    r = runner.invoke(app, [*args, "--task", "time"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["mode"] == "zero" and s["hidden_res"] == 2 * 16 and np.load(tmp_path / "p.npy").shape == (2, 8, 4, 16)
    r = runner.invoke(app, args)
    assert r.exit_code == 2 and "task" in r.output
    r = runner.invoke(app, [*args, "--task", "estimation"])
    assert r.exit_code == 2 and "estimation" in r.output


@pytest.mark.parametrize("case, message", [
    ("real", "complex"), ("ndim", "[T, A, S]"), ("npz_key", "'x'"), ("known_shape", "(8, 15)"),
    ("known_dtype", "float"), ("missing", "not a file"), ("out", ".npy"), ("task", "'beam'")])
def test_predict_bad_inputs_are_named(setup, tmp_path, case, message):
    inp, out = tmp_path / "in.npy", tmp_path / "p.npy"
    h = _channel((8, 4, 16))
    extra: list[str] = []
    if case == "real":
        np.save(inp, h.real)
    elif case == "ndim":
        np.save(inp, h[0])
    elif case == "npz_key":
        inp = tmp_path / "in.npz"
        np.savez(inp, x=h)
    elif case == "known_shape":
        np.save(inp, h)
        np.save(tmp_path / "k.npy", np.ones((8, 15), bool))
        extra = ["--known", str(tmp_path / "k.npy")]
    elif case == "known_dtype":
        np.save(inp, h)
        np.save(tmp_path / "k.npy", np.full((8, 16), 0.5))
        extra = ["--known", str(tmp_path / "k.npy")]
    elif case == "missing":
        inp = tmp_path / "nope.npy"
    elif case == "out":
        np.save(inp, h)
        out = tmp_path / "p.txt"
    elif case == "task":
        np.save(inp, h)
    task = "beam" if case == "task" else "time"
    r = runner.invoke(app, ["predict", "--checkpoint", str(setup / "base"), "--task", task, "--input", str(inp),
                            "--out", str(out), *extra])
    assert r.exit_code == 2, r.output
    assert "".join(message.split()) in "".join(r.output.split()), r.output


def test_finetune_bad_options_are_named(setup, tmp_path):
    base = ["finetune", "--checkpoint", str(setup / "base"), "--data", str(setup / "data"), "--out",
            str(tmp_path / "o"), "--steps", "1"]
    for extra, message in [(["--mode", "adapter"], "'adapter'"), (["--task", "beam"], "'beam'"),
                           (["--shots", "half"], "'half'"), (["--shots", "zero"], "zero")]:
        r = runner.invoke(app, [*base, *extra])
        assert r.exit_code == 2 and message in r.output, (extra, r.output)
