"""The LLM4CP-architecture baseline: shapes, gradients, the two preprocessing branches, learning a predictable
channel from scratch, cost accounting and clear errors."""

import math

import pytest
import torch

from airan.core.errors import ConfigError, ShapeError
from airan.fm.llm4cp import LLM4CP, LLM4CPConfig, gflops, llm4cp_config, nmse_loss, train_llm4cp


def _rotating(n=96, t=8, a=2, s=4, w=0.5, seed=0):
    """Each (antenna, subcarrier) a random complex gain rotating by ``w`` rad per slot: [N, T, A, S]."""
    g = torch.Generator().manual_seed(seed)
    c0 = torch.randn(n, 1, a, s, dtype=torch.complex64, generator=g)
    return c0 * torch.exp(1j * w * torch.arange(t, dtype=torch.float32))[None, :, None, None]


def test_forward_backward_shapes():
    cfg = LLM4CPConfig(t_in=6, t_out=2, a=2, s=4, n_layer=2, d_model=32, n_head=4, patch_len=4, att_hidden=16)
    model = LLM4CP(cfg)
    assert cfg.n_tokens == 2 and cfg.features == 16
    h = torch.randn(3, 6, 2, 4, dtype=torch.complex64)
    out = model(h)
    assert out.shape == (3, 2, 2, 4) and torch.is_complex(out)
    nmse_loss(out, torch.randn_like(out)).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    # both preprocessing branches feed the output
    assert model.freq_att.res[0].weight.grad.abs().sum() > 0 and model.delay_att.res[0].weight.grad.abs().sum() > 0


def test_body_is_causal():
    cfg = LLM4CPConfig(t_in=8, t_out=2, a=2, s=4, n_layer=2, d_model=32, n_head=4, patch_len=2, att_hidden=16)
    model = LLM4CP(cfg).eval()
    u = torch.randn(1, 4, 32)
    v = u.clone()
    v[:, -1] += 1.0  # change only the last token
    blk = model.blocks[0]
    assert torch.allclose(blk(u)[:, :-1], blk(v)[:, :-1], atol=1e-6)
    assert not torch.allclose(blk(u)[:, -1], blk(v)[:, -1])


@pytest.fixture
def one_thread():
    """Tiny models: extra threads only add overhead (and contention on a busy 2-core machine)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def test_learns_a_rotating_channel_from_scratch(one_thread):
    h = _rotating()
    test = _rotating(n=32, seed=1)
    untrained = train_llm4cp(h, 6, steps=1, seed=0)
    trained = train_llm4cp(h, 6, steps=150, lr=3e-3, seed=0)
    assert trained.cfg.d_model == 128  # the "small" width
    before = float(nmse_loss(untrained.predict(test, 6)[:, 6:], test[:, 6:]))
    after = float(nmse_loss(trained.predict(test, 6)[:, 6:], test[:, 6:]))
    assert after < 0.5 and after < 0.5 * before, (before, after)


def test_predict_copies_observed_slots_and_scales_back():
    model = train_llm4cp(_rotating(n=16), 6, steps=2, seed=0)
    y = 1e-4 * _rotating(n=4, seed=2)  # any power: normalised in, scaled back out
    est = model.predict(y, 6)
    assert est.shape == y.shape and torch.equal(est[:, :6], y[:, :6])
    assert est[:, 6:].abs().pow(2).mean().sqrt() < 1e-2
    with pytest.raises(ShapeError, match="t_in=5"):
        model.predict(y, 5)
    with pytest.raises(ShapeError, match=r"\(4, 8, 3, 4\)"):
        model.predict(torch.randn(4, 8, 3, 4, dtype=torch.complex64), 6)


def test_widths_and_flops():
    small = LLM4CP(llm4cp_config(16, 4, 4, 8, "small"))
    paper_cfg = llm4cp_config(16, 4, 4, 8, "paper")
    assert (paper_cfg.n_layer, paper_cfg.d_model, paper_cfg.n_head) == (6, 768, 12)
    assert (small.cfg.n_layer, small.cfg.d_model) == (4, 128)
    f = gflops(small)
    # the causal body alone costs at least 2 * (params of its blocks) FLOPs per token
    body = sum(p.numel() for p in small.blocks.parameters())
    assert f * 1e9 >= 2 * body * small.cfg.n_tokens
    assert math.isfinite(f) and f < 1.0


def test_bad_config_and_input_are_named():
    with pytest.raises(ConfigError, match="'gigantic'"):
        llm4cp_config(6, 2, 2, 4, "gigantic")
    with pytest.raises(ConfigError, match="n_head 5"):
        LLM4CPConfig(6, 2, 2, 4, d_model=32, n_head=5)
    with pytest.raises(ConfigError, match="t_in"):
        train_llm4cp(_rotating(n=4), 8, steps=1)
    with pytest.raises(ShapeError, match="complex"):
        train_llm4cp(torch.randn(4, 8, 2, 4), 6, steps=1)
