"""Classical prior (interpolation + PAD) and the prior-conditioned backbone: the prior reproduces the classical
baselines it is made of, an untrained prior model returns the prior exactly, the pretrained decoder carries over
to task heads, and a prior checkpoint round-trips."""

import dataclasses

import pytest
import torch

from airan.core.errors import ConfigError
from airan.data.datagen import generate_dataset
from airan.data.families import load_family
from airan.fm import checkpoint
from airan.fm.baselines import denoised_interp, linear_interp
from airan.fm.bench import known_mask, mae_predict
from airan.fm.finetune import zero_shot
from airan.fm.heads import head_class
from airan.fm.model import CsiMAE, fm_config
from airan.fm.pad import pad_predict
from airan.fm.pretrain import PretrainConfig, pretrain, step_loss
from airan.fm.prior import (
    NOISE_DB_RANGE,
    classical_prior,
    noise_db,
    prior_inputs,
    prior_kwargs,
    subspace_denoise,
    subspace_noise_var,
)
from airan.fm.tokenizer import tokenize


def _channel(b=3, t=8, a=4, s=32, seed=0):
    """A few-path channel [B, T, A, S] complex64: Doppler in time, delay in frequency, angle over antennas."""
    g = torch.Generator().manual_seed(seed)
    ti, ai, si = (torch.arange(n, dtype=torch.float64) for n in (t, a, s))
    h = torch.zeros(b, t, a, s, dtype=torch.complex128)
    for _ in range(3):
        amp = torch.complex(torch.randn(b, generator=g), torch.randn(b, generator=g))[:, None, None, None]
        fd, tau, th = (torch.rand(b, generator=g)[:, None, None, None] for _ in range(3))
        phase = 0.3 * fd * ti[:, None, None] - 0.2 * tau * si + torch.pi * th * ai[:, None]
        h = h + amp * torch.exp(1j * phase)
    return h.to(torch.complex64)


@pytest.mark.parametrize("task", ["time", "freq", "estimation"])
def test_prior_is_pad_in_time_and_interpolation_in_frequency(task):
    y = _channel()
    known = known_mask(task, y.shape[1], y.shape[3])
    prior = classical_prior(y, known[None, :, None, :])
    ref = pad_predict(y, known) if task == "time" else linear_interp(y, known)
    assert torch.allclose(prior, ref, atol=1e-5)
    k = known[None, :, None, :].expand_as(y)
    assert torch.equal(prior[k], y[k])  # observed REs pass through untouched


def test_prior_interpolates_antennas_and_interior_slots_and_rejects_real_input():
    y = _channel(t=6, a=5)
    known = torch.ones(1, 6, 5, 32, dtype=torch.bool)
    known[:, :, 1] = False  # a missing antenna between two known ones
    known[:, :, 4] = False  # the last antenna: held from its neighbour
    known[:, 2] = False  # a missing slot between two known ones
    p = classical_prior(y, known)
    k = ~known[0, :, 0, 0]
    assert torch.allclose(p[:, ~k, 1], (y[:, ~k, 0] + y[:, ~k, 2]) / 2, atol=1e-6)
    assert torch.allclose(p[:, ~k, 4], y[:, ~k, 3])
    assert torch.allclose(p[:, 2], (p[:, 1] + p[:, 3]) / 2, atol=1e-6)
    with pytest.raises(ValueError, match=r"\[B, T, A, S\]"):
        classical_prior(y.real, known)


@pytest.mark.parametrize("snr_db", [5.0, 20.0])
def test_noise_estimate_tracks_the_snr_of_a_smooth_channel(snr_db):
    h = _channel(b=4, t=16, a=4, s=64)
    h = h / h.abs().pow(2).mean().sqrt()
    g = torch.Generator().manual_seed(3)
    sigma = 10 ** (-snr_db / 20) / 2**0.5
    y = h + sigma * torch.complex(torch.randn(h.shape, generator=g), torch.randn(h.shape, generator=g))
    for task in ("freq", "time", "estimation"):  # pilots: slots are consecutive, subcarriers are not
        est = noise_db(y, known_mask(task, 16, 64)[None, :, None, :])
        assert est.shape == (4,) and torch.all((est - (-snr_db)).abs() < 1.5), (task, est)
    nothing = noise_db(y[:, :2, :, :2], torch.ones(1, 2, 1, 2, dtype=torch.bool))  # no three in a row anywhere
    assert torch.all(nothing == NOISE_DB_RANGE[1])


def test_untrained_prior_model_returns_the_prior_and_models_check_the_prior_argument():
    torch.manual_seed(0)
    model = CsiMAE(dataclasses.replace(fm_config("tiny"), prior=True)).eval()
    y = _channel(t=8, s=32)
    known = known_mask("time", 8, 32)
    with torch.no_grad():
        pred = mae_predict(model, y, known)
    assert torch.allclose(pred, pad_predict(y, known), atol=1e-4)
    ft = zero_shot(model, "time")  # the task-head path (airan predict) gives the same
    assert ft.head.prefill == "classical"
    assert torch.allclose(ft.predict(y, known), pad_predict(y, known), atol=1e-4)
    tok = tokenize(y, model.cfg.patch)
    masked = torch.zeros(y.shape[0], tok.pos.shape[0], dtype=torch.bool)
    with pytest.raises(ConfigError, match="prior-conditioned"):
        model(tok.x, tok.pos, masked)
    with pytest.raises(ConfigError, match="prior-conditioned"):
        model(tok.x, tok.pos, masked, prior=tok.x)  # the noise level is part of the contract
    with pytest.raises(ConfigError, match="no prior"):
        CsiMAE(fm_config("tiny"))(tok.x, tok.pos, masked, prior=tok.x, noise_db=torch.zeros(y.shape[0]))


@pytest.mark.parametrize("share", [False, True])
def test_head_from_a_prior_backbone_reproduces_it(share):
    torch.manual_seed(0)
    model = CsiMAE(dataclasses.replace(fm_config("tiny"), prior=True)).eval()
    with torch.no_grad():  # a "trained" decoder: non-zero output layer
        model.head.weight.normal_(0, 0.1)
    y = _channel(t=8, s=32)
    tok = tokenize(y, model.cfg.patch)
    masked = (tok.pos[:, 0] == tok.pos[:, 0].max())[None].expand(y.shape[0], -1)
    extra = prior_kwargs(model, tok.x, ~masked[..., None] & tok.valid, tok)
    prior = extra["prior"]
    assert extra["noise_db"].shape == (y.shape[0],)
    head = head_class("time").from_backbone(model, share=share).eval()
    assert head.prefill == "classical" and head.residual and head.prior_embed is not None
    with torch.no_grad():
        lat, vis_idx = model.encode(tok.x, tok.pos, masked)
        out = prior + head(lat, vis_idx, tok.pos, **extra)
        ref = model(tok.x, tok.pos, masked, **extra)
        with pytest.raises(ConfigError, match="prior"):
            head(lat, vis_idx, tok.pos)
    assert torch.allclose(out, ref, atol=1e-5)
    assert not torch.allclose(ref, prior, atol=1e-3)  # the decoder's correction is really applied


def test_prior_pretraining_starts_from_the_prior():
    h = _channel(b=4, t=8, a=4, s=32)
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = CsiMAE(dataclasses.replace(fm_config("tiny"), prior=True))
    plain = CsiMAE(fm_config("tiny"))
    for kind in ("frequency", "pilot"):
        with_prior = float(step_loss(model, h, kind, 0.5, g, "cpu", None).detach())
        without = float(step_loss(plain, h, kind, 0.5, g, "cpu", None).detach())
        assert with_prior < 0.1 < without  # interpolation of a smooth channel vs an untrained decoder
    with pytest.raises(ConfigError, match="'wifo'"):
        PretrainConfig(prior=True, arch="wifo")


def test_prior_checkpoint_keeps_the_prior_flag(tmp_path):
    data, out = tmp_path / "data", tmp_path / "ckpt"
    generate_dataset(load_family("ci-tiny"), 24, data, seed=11, shard_size=24)
    summary = pretrain(data, out, PretrainConfig(steps=2, batch_size=8, prior=True, ckpt_every=1))
    assert summary["steps"] == 2 and all(v == v for v in summary["history"])  # finite losses
    loaded, _, meta = checkpoint.load(out)
    assert loaded.cfg.prior and meta["model_config"]["prior"] is True
    assert loaded.cfg.prior_denoise and meta["train_config"]["prior_denoise"] is True
    with pytest.raises(ConfigError, match="prior=False"):  # resuming must not silently drop the prior
        pretrain(data, out, PretrainConfig(steps=3, batch_size=8, prior=False), resume=True)
    with pytest.raises(ConfigError, match="prior_denoise=False"):  # ... nor change what the prior is
        pretrain(data, out, PretrainConfig(steps=3, batch_size=8, prior=True, prior_denoise=False), resume=True)


def _noisy(snr_db, b=4, t=16, a=4, s=64, seed=3):
    """(noisy y, clean h) [B, T, A, S] complex64, h of unit mean power, white noise at ``snr_db``."""
    h = _channel(b=b, t=t, a=a, s=s)
    h = h / h.abs().pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt()
    g = torch.Generator().manual_seed(seed)
    sigma = 10 ** (-snr_db / 20) / 2**0.5
    return h + sigma * torch.complex(torch.randn(h.shape, generator=g), torch.randn(h.shape, generator=g)), h


@pytest.mark.parametrize("snr_db", [5.0, 20.0])
def test_subspace_noise_estimate_and_denoising_on_every_bench_mask(snr_db):
    y, h = _noisy(snr_db)
    for task in ("time", "freq", "estimation"):
        known = known_mask(task, 16, 64)[None, :, None, :]
        k = known.expand_as(y)
        blk = y[k].reshape(4, -1)
        nv = subspace_noise_var(y[:, :, :, known[0, 0, 0]][:, known[0, :, 0].any(-1)])
        assert torch.all((10 * torch.log10(nv) - (-snr_db)).abs() < 1.0), (task, nv)
        yd, nv2 = subspace_denoise(y, known)
        assert torch.allclose(nv2, nv)
        assert torch.equal(yd[~k], y[~k])  # hidden REs untouched
        ref = h[k].reshape(4, -1)
        err_in, err_out = (float(((v - ref).abs() ** 2).mean() / (ref.abs() ** 2).mean())
                           for v in (blk, yd[k].reshape(4, -1)))
        assert err_out < 0.5 * err_in, task  # a few-path channel: at least 3 dB less noise


def test_subspace_denoise_leaves_what_it_cannot_handle_alone():
    y, _ = _noisy(20.0, b=3)
    scattered = torch.rand(y.shape, generator=torch.Generator().manual_seed(0)) < 0.5  # no block of REs
    yd, nv = subspace_denoise(y, scattered)
    assert torch.equal(yd, y) and torch.isnan(nv).all()
    tiny = torch.zeros(1, 16, 1, 64, dtype=torch.bool)
    tiny[:, :2, :, :2] = True  # a 2 x 4 x 2 block: no axis long enough to tell noise from channel
    yd, nv = subspace_denoise(y, tiny)
    assert torch.equal(yd, y) and torch.isnan(nv).all()
    mixed = torch.cat([known_mask("freq", 16, 64)[None, :, None, :].expand(1, 16, 4, 64), scattered[1:]])
    yd, nv = subspace_denoise(y, mixed)  # per sample: the block one is denoised, the others kept
    assert torch.isfinite(nv[0]) and torch.isnan(nv[1:]).all()
    assert not torch.equal(yd[0], y[0]) and torch.equal(yd[1:], y[1:])
    with pytest.raises(ValueError, match=r"\[B, T, A, S\]"):
        subspace_denoise(y.real, mixed)


def test_denoising_prior_interpolates_denoised_pilots_but_extrapolates_raw_slots():
    y, _ = _noisy(10.0)
    for task in ("time", "freq", "estimation"):
        known = known_mask(task, 16, 64)
        prior, nd = prior_inputs(y, known[None, :, None, :], denoise=True)
        ref = pad_predict(y, known) if task == "time" else denoised_interp(y, known)
        assert torch.allclose(prior, ref, atol=1e-5), task
        assert torch.all((nd + 10.0).abs() < 1.0), (task, nd)  # noise over signal, from the eigenvalues
        plain, nd_plain = prior_inputs(y, known[None, :, None, :])
        assert torch.allclose(plain, classical_prior(y, known[None, :, None, :]))
        assert torch.equal(nd_plain, noise_db(y, known[None, :, None, :]))
    torch.manual_seed(0)
    model = CsiMAE(dataclasses.replace(fm_config("tiny"), prior=True, prior_denoise=True)).eval()
    known = known_mask("freq", 16, 64)
    with torch.no_grad():  # an untrained denoising prior model is the denoised interpolation
        assert torch.allclose(mae_predict(model, y, known), denoised_interp(y, known), atol=1e-4)


def test_adaptive_prior_fills_pilots_and_bands_with_the_adaptive_interpolation():
    from airan.fm.wiener import adaptive_interp

    y, _ = _noisy(20.0)
    for task in ("freq", "estimation"):
        known = known_mask(task, 16, 64)
        prior, nd = prior_inputs(y, known[None, :, None, :], denoise=True, interp="adaptive")
        assert torch.allclose(prior, adaptive_interp(y, known), atol=1e-5), task
        _, nd_lin = prior_inputs(y, known[None, :, None, :], denoise=True)
        assert torch.equal(nd, nd_lin)  # the noise input does not depend on the interpolation
    # future slots (PAD), random masks and antenna-dependent masks keep the other path
    known = known_mask("time", 16, 64)
    ad, _ = prior_inputs(y, known[None, :, None, :], denoise=True, interp="adaptive")
    assert torch.allclose(ad, pad_predict(y, known), atol=1e-5)
    rnd = torch.rand(y.shape, generator=torch.Generator().manual_seed(1)) < 0.5
    assert torch.equal(prior_inputs(y, rnd, True, "adaptive")[0], prior_inputs(y, rnd, True)[0])
    one_ant = torch.zeros(y.shape, dtype=torch.bool)
    one_ant[:, :, 0, ::4] = True
    assert torch.equal(prior_inputs(y, one_ant, True, "adaptive")[0], prior_inputs(y, one_ant, True)[0])
    with pytest.raises(ValueError, match="'cubic'"):
        prior_inputs(y, known[None, :, None, :], True, "cubic")
    # an untrained adaptive-prior model is the adaptive interpolation; the setting is validated where it enters
    torch.manual_seed(0)
    model = CsiMAE(dataclasses.replace(fm_config("tiny"), prior=True, prior_denoise=True,
                                       prior_interp="adaptive")).eval()
    known = known_mask("freq", 16, 64)
    with torch.no_grad():
        assert torch.allclose(mae_predict(model, y, known), adaptive_interp(y, known), atol=1e-4)
    with pytest.raises(ConfigError, match="'cubic'"):
        dataclasses.replace(fm_config("tiny"), prior_interp="cubic")
    with pytest.raises(ConfigError, match="'cubic'"):
        PretrainConfig(prior=True, prior_interp="cubic")


def test_adaptive_prior_checkpoint_round_trips_and_resume_refuses_a_change(tmp_path):
    data, out = tmp_path / "data", tmp_path / "ckpt"
    generate_dataset(load_family("ci-tiny"), 16, data, seed=12, shard_size=16)
    pretrain(data, out, PretrainConfig(steps=1, batch_size=4, prior=True, prior_interp="adaptive", ckpt_every=1))
    loaded, _, meta = checkpoint.load(out)
    assert loaded.cfg.prior_interp == "adaptive" and meta["model_config"]["prior_interp"] == "adaptive"
    with pytest.raises(ConfigError, match="prior_interp=linear"):
        pretrain(data, out, PretrainConfig(steps=2, batch_size=4, prior=True), resume=True)
    # checkpoints saved before the setting existed load as linear
    meta["model_config"].pop("prior_interp")
    (out / "meta.json").write_text(__import__("json").dumps(meta))
    assert checkpoint.load(out)[0].cfg.prior_interp == "linear"
