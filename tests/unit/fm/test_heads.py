"""Task heads: registry, the MAE decoder as a dense head (copied or shared), residual estimation head, pooled
head base class."""

from typing import ClassVar

import pytest
import torch

from airan.core.errors import ConfigError
from airan.fm.heads import HEADS, DecoderHead, EstimationHead, PooledHead, TaskHead, head_class, register_head
from airan.fm.model import CsiMAE, fm_config
from airan.fm.tokenizer import tokenize


@pytest.fixture(scope="module")
def mae():
    torch.manual_seed(0)
    return CsiMAE(fm_config("tiny")).eval()


def _tokens(b=2, t=6, a=4, s=12):
    g = torch.Generator().manual_seed(1)
    h = torch.complex(torch.randn(b, t, a, s, generator=g), torch.randn(b, t, a, s, generator=g))
    tok = tokenize(h, fm_config("tiny").patch)
    masked = (tok.pos[:, 0] == tok.pos[:, 0].max())[None].expand(b, -1)  # hide the last time patch
    return tok, masked


def test_registry_has_the_dense_tasks():
    assert {"time", "freq", "estimation"} <= set(HEADS)
    assert all(HEADS[t].kind == "dense" for t in ("time", "freq", "estimation"))
    assert head_class("estimation") is EstimationHead and not EstimationHead.hides_tokens
    with pytest.raises(ConfigError, match="'beam'"):
        head_class("beam")

    class Nameless(TaskHead):
        pass

    with pytest.raises(ConfigError, match="Nameless"):
        register_head(Nameless)


@pytest.mark.parametrize("share", [False, True])
@pytest.mark.parametrize("arch", ["airan", "wifo"])
def test_head_from_mae_decoder_reproduces_the_mae(mae, share, arch):
    if arch == "wifo":  # the WiFo-style replica: sin/cos positions and a decoder norm
        from airan.fm.wifo import WifoMAE

        torch.manual_seed(0)
        mae = WifoMAE(fm_config("tiny")).eval()
    tok, masked = _tokens()
    head = head_class("time").from_backbone(mae, share=share).eval()
    assert head.positions == ("learned" if arch == "airan" else "sincos")
    with torch.no_grad():
        lat, vis_idx = mae.encode(tok.x, tok.pos, masked)
        out = head(lat, vis_idx, tok.pos)
        ref = mae(tok.x, tok.pos, masked)
    assert out.shape == tok.x.shape
    assert torch.allclose(out, ref, atol=1e-5)
    assert (head.decoder is mae.decoder) == share
    if not share:  # a copy: training the head leaves the pretrained decoder alone
        with torch.no_grad():
            head.head.weight.add_(1.0)
        assert not torch.equal(head.head.weight, mae.head.weight)


def test_fresh_head_and_residual_estimation_head_start_at_zero(mae):
    tok, _ = _tokens(t=8, s=16)
    none = torch.zeros(2, tok.x.shape[1], dtype=torch.bool)
    with torch.no_grad():
        lat, vis_idx = mae.encode(tok.x, tok.pos, none)
        fresh = DecoderHead(mae.cfg)(lat, vis_idx, tok.pos)
        est = EstimationHead.from_backbone(mae)(lat, vis_idx, tok.pos)
    assert fresh.shape == tok.x.shape and fresh.abs().sum() > 0
    assert torch.count_nonzero(est) == 0  # residual head: zero output layer, so the input passes through
    assert EstimationHead(mae.cfg).fill.shape == (tok.x.shape[-1],)
    shared = EstimationHead.from_backbone(mae, share=True)  # the MAE's own semantics when sharing its decoder
    assert shared.prefill == "none" and not shared.residual
    with pytest.raises(ConfigError, match="'cubic'"):
        DecoderHead(mae.cfg, prefill="cubic")


def test_pooled_head_subclass():
    class LosHead(PooledHead):
        task: ClassVar[str] = "los-test"

    head = LosHead(d_model=64, out_dim=2, hidden=16)
    assert head.kind == "pooled"
    lat = torch.randn(5, 7, 64)
    out = head(lat, torch.arange(7).expand(5, -1), torch.zeros(7, 3, dtype=torch.long))
    assert out.shape == (5, 2)
    # mean pooling: the order of the visible tokens does not matter
    out2 = head(lat.flip(1), torch.arange(7).expand(5, -1), torch.zeros(7, 3, dtype=torch.long))
    assert torch.allclose(out, out2, atol=1e-5)
    with pytest.raises(ConfigError, match="0"):
        LosHead(d_model=64, out_dim=0)
