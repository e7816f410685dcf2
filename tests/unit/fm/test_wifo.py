"""The WiFo-style MAE replica: fixed 3D sin/cos positions, WiFo masks, same contract as CsiMAE, parameter count
matched to our sizes, and the ``arch="wifo"`` pretraining path with checkpoint + resume (and its CLI option)."""

import json

import pytest
import torch
from typer.testing import CliRunner

from airan.cli.main import app
from airan.core.errors import ConfigError
from airan.data.datagen import generate_dataset
from airan.data.families import load_family
from airan.fm import checkpoint
from airan.fm.bench import known_mask, mae_predict
from airan.fm.model import CsiMAE, FMConfig, masked_nmse
from airan.fm.pretrain import PretrainConfig, pretrain
from airan.fm.tokenizer import tokenize
from airan.fm.wifo import WIFO_MASKINGS, WifoMAE, param_counts, sincos_3d, wifo_config, wifo_mask


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("wifodata")
    generate_dataset(load_family("ci-tiny"), 48, out, seed=5, shard_size=12)
    return out


def test_sincos_position_code_is_fixed_and_distinct():
    pos = torch.stack(torch.meshgrid(torch.arange(4), torch.arange(3), torch.arange(5), indexing="ij"), -1)
    pos = pos.reshape(-1, 3)
    pe = sincos_3d(pos, 80)
    assert pe.shape == (60, 80) and torch.equal(pe, sincos_3d(pos, 80))
    assert torch.cdist(pe, pe).add(torch.eye(60) * 1e3).min() > 1e-3  # every patch position coded differently
    assert pe.abs().max() <= 1.0
    with pytest.raises(ConfigError, match="81"):
        sincos_3d(pos, 81)


def test_forward_backward_and_no_learned_positions():
    model = WifoMAE(FMConfig("t", 24, 1, 2, 16, 1))
    assert not any("pos" in name for name, _ in model.named_parameters())
    h = torch.randn(3, 8, 4, 16, dtype=torch.complex64)
    tok = tokenize(h, model.cfg.patch)
    masked = wifo_mask("random", 3, tok.pos, torch.Generator().manual_seed(0))
    pred = model(tok.x, tok.pos, masked)
    assert pred.shape == tok.x.shape
    loss = masked_nmse(pred, tok.x, masked, tok.valid)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    # any grid size is accepted (no position table): a larger array than ever seen
    big = tokenize(torch.randn(1, 40, 4, 600, dtype=torch.complex64), model.cfg.patch)
    assert model(big.x, big.pos, torch.zeros(1, big.pos.shape[0], dtype=torch.bool)).shape == big.x.shape


def test_wifo_masks():
    pos = tokenize(torch.randn(2, 8, 4, 32, dtype=torch.complex64), wifo_config("tiny").patch).pos
    g = torch.Generator().manual_seed(0)
    r = wifo_mask("random", 2, pos, g)
    assert r.float().mean() == pytest.approx(WIFO_MASKINGS["random"], abs=0.02)
    t = wifo_mask("temporal", 2, pos, g)
    assert t[0, pos[:, 0] >= 2].all() and not t[0, pos[:, 0] < 2].any()  # the later half of the slots
    f = wifo_mask("frequency", 2, pos, g)
    assert f[0, pos[:, 2] >= 4].all() and not f[0, pos[:, 2] < 4].any()  # the upper half of the band
    with pytest.raises(ValueError, match="'antenna'"):
        wifo_mask("antenna", 2, pos, g)


@pytest.mark.parametrize("size", ["tiny", "small", "base"])
def test_parameter_count_matches_our_backbone(size):
    counts = param_counts(size)
    assert abs(counts["wifo"] / counts["airan"] - 1) <= 0.10, counts
    with pytest.raises(ConfigError, match="'huge'"):
        wifo_config("huge")


def test_same_harness_contract_as_csimae():
    h = torch.randn(2, 8, 4, 16, dtype=torch.complex64)
    known = known_mask("time", 8, 16)
    for model in (WifoMAE(wifo_config("tiny")), CsiMAE(FMConfig())):
        est = mae_predict(model, h, known)
        assert est.shape == h.shape and torch.is_complex(est)


def test_pretrain_wifo_checkpoint_and_resume(data, tmp_path):
    out = tmp_path / "wifo"
    cfg = PretrainConfig(steps=6, batch_size=8, ckpt_every=3, seed=2, arch="wifo")
    first = pretrain(data, out, PretrainConfig(**{**cfg.__dict__, "steps": 3}))
    meta = json.loads((out / "meta.json").read_text())
    assert meta["arch"] == "wifo" and meta["step"] == 3 and first["arch"] == "wifo"
    model, _, _ = checkpoint.load(out)
    assert isinstance(model, WifoMAE) and first["params"] == sum(p.numel() for p in model.parameters())
    second = pretrain(data, out, cfg, resume=True)
    assert second["start_step"] == 3 and len(second["history"]) == 6
    assert all(torch.isfinite(torch.tensor(second["history"])))
    with pytest.raises(ConfigError, match="'airan'"):
        pretrain(data, out, PretrainConfig(steps=8, batch_size=8, arch="airan"), resume=True)
    with pytest.raises(ConfigError, match="'gpt'"):
        PretrainConfig(arch="gpt")


def test_default_arch_still_records_airan(data, tmp_path):
    pretrain(data, tmp_path / "ours", PretrainConfig(steps=2, batch_size=8))
    model, _, meta = checkpoint.load(tmp_path / "ours")
    assert meta["arch"] == "airan" and isinstance(model, CsiMAE)


def test_cli_pretrain_arch_wifo(data, tmp_path):
    out = tmp_path / "cli"
    res = CliRunner().invoke(app, ["pretrain", "--data", str(data), "--out", str(out), "--arch", "wifo",
                                   "--steps", "2", "--batch-size", "8", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads((out / "meta.json").read_text())["arch"] == "wifo"
    bad = CliRunner().invoke(app, ["pretrain", "--data", str(data), "--out", str(out), "--arch", "bert",
                                   "--steps", "2"])
    assert bad.exit_code != 0 and "bert" in bad.output
