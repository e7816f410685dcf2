"""The foundation model at tiny size on ci-tiny data: tokenizer, masks, pretraining (loss falls), resume,
zero-shot inference on an unseen shape. CPU only."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from airan.cli.main import app
from airan.core.errors import ConfigError
from airan.data.datagen import generate_dataset
from airan.data.families import load_family
from airan.fm import checkpoint
from airan.fm.masking import make_mask
from airan.fm.pretrain import PretrainConfig, pretrain, reconstruct
from airan.fm.tokenizer import PatchSpec, detokenize, tokenize


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("fmdata")
    generate_dataset(load_family("ci-tiny"), 160, out, seed=11, shard_size=40)
    return out


def test_tokenizer_roundtrip_with_padding():
    h = torch.randn(3, 5, 3, 10, dtype=torch.complex64)
    tok = tokenize(h, PatchSpec(2, 2, 4))
    assert tok.grid == (3, 2, 3) and tok.x.shape == (3, 18, 32)
    assert tok.valid.float().mean() < 1.0  # padding is flagged
    assert torch.allclose(detokenize(tok.x, tok, PatchSpec(2, 2, 4)), h, atol=1e-5)
    with pytest.raises(ValueError, match="complex"):
        tokenize(torch.randn(2, 4, 4, 4), PatchSpec())


def test_masks():
    pos = tokenize(torch.randn(2, 8, 4, 16, dtype=torch.complex64), PatchSpec()).pos
    g = torch.Generator().manual_seed(0)
    m = make_mask("temporal", 2, pos, g, 0.25)
    assert m[0, pos[:, 0] == 3].all() and not m[0, pos[:, 0] < 3].any()  # the last time patch is hidden
    r = make_mask("random", 2, pos, g, 0.5)
    assert (r.sum(1) == r.sum(1)[0]).all() and r.float().mean() == pytest.approx(0.5, abs=0.05)
    with pytest.raises(ValueError, match="'warp'"):
        make_mask("warp", 2, pos, g)


def test_pretraining_loss_falls_resumes_and_runs_zero_shot(data, tmp_path):
    out = tmp_path / "ck"
    cfg = PretrainConfig(steps=40, batch_size=16, ckpt_every=20, seed=1)
    first = pretrain(data, out, PretrainConfig(**{**cfg.__dict__, "steps": 20}))
    assert (out / "meta.json").exists() and json.loads((out / "meta.json").read_text())["step"] == 20
    second = pretrain(data, out, cfg, resume=True)
    assert second["start_step"] == 20 and len(second["history"]) == 40
    hist = second["history"]
    assert np.mean(hist[-8:]) < 0.6 * np.mean(hist[:5]), (hist[:5], hist[-8:])
    assert first["params"] == second["params"]
    model, _, meta = checkpoint.load(out)
    assert meta["model_config"]["size"] == "tiny"
    # zero-shot: a shape the model never saw (more slots, antennas and subcarriers than any config)
    h = torch.randn(2, 10, 6, 24, dtype=torch.complex64)
    pred, masked, nmse_db = reconstruct(model, h, "temporal", 0.2)
    assert pred.shape == h.shape and masked.any() and np.isfinite(nmse_db)


def test_pilot_masking_hides_only_non_pilot_res_and_learns(data, tmp_path):
    from airan.fm.model import CsiMAE, fm_config
    from airan.fm.pretrain import pilot_keep, step_loss

    spec = PatchSpec(2, 2, 4)
    tok = tokenize(torch.randn(1, 4, 2, 16, dtype=torch.complex64), spec)
    keep = pilot_keep(tok, spec, 16, torch.Generator().manual_seed(0))
    # a comb keeps whole subcarriers: the same share of entries in every token, never all of them
    assert keep.shape == tok.x.shape[1:] and 0 < keep.float().mean() <= 0.5
    model = CsiMAE(fm_config("tiny"))
    loss = step_loss(model, torch.randn(4, 4, 2, 16, dtype=torch.complex64), "pilot", 0.5,
                     torch.Generator().manual_seed(1), "cpu", noise_snr_db=(10.0, 10.0))
    loss.backward()
    assert torch.isfinite(loss) and model.embed.weight.grad.abs().sum() > 0
    cfg = PretrainConfig(steps=30, batch_size=16, maskings=("pilot",), seed=3)
    hist = pretrain(data, tmp_path / "p", cfg)["history"]
    assert np.mean(hist[-5:]) < 0.8 * np.mean(hist[:3]), hist


def test_bad_pretrain_config_names_the_value():
    with pytest.raises(ConfigError, match="'blur'"):
        PretrainConfig(maskings=("blur",))
    with pytest.raises(ConfigError, match="30"):
        PretrainConfig(noise_snr_db=(30.0, 0.0))
    with pytest.raises(ConfigError, match="huge"):
        from airan.fm.model import fm_config

        fm_config("huge")


def test_cli_pretrain(data, tmp_path):
    r = CliRunner().invoke(app, ["pretrain", "--data", str(data), "--size", "tiny", "--out", str(tmp_path / "c"),
                                 "--steps", "5", "--batch-size", "8", "--format", "json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["steps"] == 5 and s["params"] > 0 and (tmp_path / "c" / "ckpt.pt").exists()
    r = CliRunner().invoke(app, ["pretrain", "--data", str(data), "--out", str(tmp_path / "d"), "--steps", "3",
                                 "--batch-size", "8", "--prep-workers", "2", "--cache-shards", "100",
                                 "--export", str(tmp_path / "e"), "--format", "json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["export"]["bytes"] == (tmp_path / "e" / "ckpt.pt").stat().st_size
    assert json.loads((tmp_path / "e" / "meta.json").read_text())["weights_dtype"] == "float16"


def test_bench_harness_rows_and_baselines(data, tmp_path):
    from airan.fm.baselines import ar1, last_slot
    from airan.fm.bench import run_bench

    # the AR(1) predictor is exact on a pure Doppler rotation, the last-slot predictor is not
    t = torch.arange(8, dtype=torch.float32)
    h = torch.exp(1j * 0.4 * t)[None, :, None, None].expand(1, 8, 2, 3).to(torch.complex64)
    known = torch.ones(8, 3, dtype=torch.bool)
    known[6:] = False
    assert torch.allclose(ar1(h, known), h, atol=1e-4)
    assert not torch.allclose(last_slot(h, known), h, atol=1e-2)
    out = tmp_path / "ck"
    pretrain(data, out, PretrainConfig(steps=3, batch_size=8, seed=2))
    model = checkpoint.load(out)[0]
    rows = run_bench(data, "time", model=model, snr_db=10.0, split="test")
    assert {r["model"] for r in rows} == {"airan-fm", "no-prediction (last slot)", "AR(1) least squares",
                                          "PAD (Prony, angular-delay)", "Kalman (AR(1), angular-delay)"}
    for r in rows:
        assert {"model", "task", "family", "config", "shots", "nmse_db_clean", "nmse_db_noisy", "params", "gflops",
                "latency_ms_p50", "latency_ms_p99", "se", "se_perfect_csi", "trainable_params"} <= set(r)
        assert np.isfinite(r["nmse_db_clean"]) and r["latency_ms_p50"] > 0 and r["shots"] == "zero"
        assert 0 < r["se"] <= r["se_perfect_csi"] + 1e-6  # matched filtering on the true channel is optimal
    fm_row = next(r for r in rows if r["model"] == "airan-fm")
    assert fm_row["params"] > 0 and fm_row["gflops"] > 0 and fm_row["trainable_params"] == 0
    # with shots, the learned per-config baselines train on that share of their config's training split
    full = run_bench(data, "time", snr_db=10.0, split="test", shots="full", learned_steps=10)
    assert {"GRU", "LSTM", "Transformer", "MLP", "LLM4CP-arch (small)"} <= {r["model"] for r in full}
    assert all(r["shots"] == "full" for r in full)


def test_bench_llm4cp_widths_and_finetune_batch(data, tmp_path, monkeypatch):
    from airan.fm import finetune as ft_mod
    from airan.fm.bench import llm4cp_widths, run_bench

    assert llm4cp_widths("small") == ["small"] and llm4cp_widths(" small, paper ") == ["small", "paper"]
    for bad in ("tiny", "small,huge", ","):
        with pytest.raises(ConfigError, match="LLM4CP width"):
            llm4cp_widths(bad)
    # a bad width fails before anything is trained
    with pytest.raises(ConfigError, match="huge"):
        run_bench(data, "time", split="test", shots="full", llm4cp_width="small,huge")
    # the fine-tuning batch reaches the fine-tuning config
    seen = []

    def spy(model, dataset, cfg, train_idx=None):
        seen.append((cfg.batch_size, cfg.val_fraction))
        raise ConfigError("stop here")

    monkeypatch.setattr(ft_mod, "finetune", spy)
    pretrain(data, tmp_path / "ck", PretrainConfig(steps=1, batch_size=4, seed=2))
    with pytest.raises(ConfigError, match="stop here"):
        run_bench(data, "time", model=checkpoint.load(tmp_path / "ck")[0], split="test", shots="10pct",
                  finetune_batch=5, finetune_val=0.2)
    assert seen == [(5, 0.2)]


def test_shots_subsets_are_nested_and_deterministic():
    from airan.fm.bench import shots_subset

    idx = list(range(1000))
    one, ten, full = (shots_subset(idx, s, seed=3) for s in ("1pct", "10pct", "full"))
    assert len(one) == 10 and len(ten) == 100 and full == idx and shots_subset(idx, "zero", 3) == []
    assert set(one) <= set(ten) and shots_subset(idx, "10pct", seed=3) == ten and shots_subset([5], "1pct", 0) == [5]
    with pytest.raises(ConfigError, match="5pct"):
        shots_subset(idx, "5pct", 0)


def test_cli_bench_fm_on_a_family(tmp_path):
    r = CliRunner().invoke(app, ["bench", "fm", "--family", "ci-tiny", "--samples", "8", "--task", "freq",
                                 "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["rows"]
    assert rows and all(row["task"] == "freq" for row in rows)
    bad = CliRunner().invoke(app, ["bench", "fm", "--family", "ci-tiny", "--shots", "5pct"])
    assert bad.exit_code != 0 and "5pct" in bad.output
    # the prior's interpolation can only be swapped on a prior-conditioned checkpoint, to a known value
    root = Path(__file__).resolve().parents[3] / "checkpoints"
    no_prior = CliRunner().invoke(app, ["bench", "fm", "--family", "ci-tiny", "--checkpoint",
                                        str(root / "airan-tiny-cpu"), "--prior-interp", "adaptive"])
    assert no_prior.exit_code != 0 and "prior-conditioned" in no_prior.output
    unknown = CliRunner().invoke(app, ["bench", "fm", "--family", "ci-tiny", "--checkpoint",
                                       str(root / "airan-tiny-prior-cpu"), "--prior-interp", "cubic"])
    assert unknown.exit_code != 0 and "'cubic'" in unknown.output


def test_lmmse_beats_interpolation_at_low_snr(data):
    from airan.fm.bench import run_bench

    rows = run_bench(data, "estimation", snr_db=0.0, split="test")
    by = {}
    for r in rows:
        by.setdefault(r["model"], []).append(r["nmse_db_clean"])
    assert set(by) == {"linear interpolation", "LMMSE (sample covariance)", "subspace-denoised interpolation",
                       "Wiener (fitted delay profile)", "adaptive: Wiener or denoised (cross-validated)"}
    # with the channel's frequency covariance, LMMSE denoises: it must beat plain interpolation at 0 dB SNR;
    # so does the sample's own covariance along slots, antennas and pilot subcarriers
    assert np.mean(by["LMMSE (sample covariance)"]) < np.mean(by["linear interpolation"]) - 1.0
    assert np.mean(by["subspace-denoised interpolation"]) < np.mean(by["linear interpolation"]) - 1.0


def test_cli_bench_fm_compare_checkpoint_runs_another_model_under_its_name():
    from pathlib import Path

    ck = str(Path(__file__).resolve().parents[3] / "checkpoints" / "airan-tiny-cpu")
    base = ["bench", "fm", "--family", "ci-tiny", "--samples", "8", "--task", "freq", "--checkpoint", ck]
    r = CliRunner().invoke(app, [*base, "--compare-checkpoint", f"same weights={ck}", "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["rows"]
    ours = {row["config"]: row["nmse_db_clean"] for row in rows if row["model"] == "airan-fm"}
    same = {row["config"]: row["nmse_db_clean"] for row in rows if row["model"] == "same weights"}
    assert ours and same == pytest.approx(ours)  # same checkpoint, same samples and masks: same numbers
    for spec, msg in (("no-equals-sign", "NAME=DIR"), (f"airan-fm={ck}", "taken")):
        bad = CliRunner().invoke(app, [*base, "--compare-checkpoint", spec])
        assert bad.exit_code != 0 and msg in bad.output


def test_per_sample_db_loss_weighs_every_sample_and_skips_empty_ones():
    from airan.fm.model import masked_nmse, masked_nmse_db

    target = torch.ones(3, 4, 2)
    valid = torch.ones(3, 4, 2, dtype=torch.bool)
    masked = torch.ones(3, 4, dtype=torch.bool)
    pred = target.clone()
    pred[0] += 1.0  # NMSE 1 (0 dB)
    pred[1] += 0.1  # NMSE 0.01 (-20 dB)
    pred[2] += 0.01  # NMSE 1e-4 (-40 dB)
    assert float(masked_nmse_db(pred, target, masked, valid)) == pytest.approx(-20.0, abs=1e-3)
    assert float(masked_nmse(pred, target, masked, valid)) == pytest.approx((1 + 0.01 + 1e-4) / 3, rel=1e-4)
    masked[2] = False  # a sample with nothing hidden does not count
    assert float(masked_nmse_db(pred, target, masked, valid)) == pytest.approx(-10.0, abs=1e-3)
    p = pred.clone().requires_grad_(True)
    masked_nmse_db(p, target, masked, valid).backward()
    assert p.grad[2].abs().sum() == 0 and p.grad[1].abs().sum() > p.grad[0].abs().sum()  # small errors pull harder
    with pytest.raises(ConfigError, match="'mse'"):
        PretrainConfig(loss="mse")


def test_pretraining_with_the_db_loss_records_db_and_falls(data, tmp_path):
    summary = pretrain(data, tmp_path / "db", PretrainConfig(steps=30, batch_size=8, lr=3e-3, loss="nmse_db",
                                                            maskings=("random",)))
    h = summary["history"]  # dB: an untrained decoder starts near +5 dB (linear NMSE ~3), training pulls it to ~0
    assert np.mean(h[-5:]) < np.mean(h[:5]) - 2.0 and min(h) < 1.0, h


def test_prepared_batches_in_threads_are_reproducible_learn_and_resume(data, tmp_path):
    """prep_workers > 0: batches prepared ahead in threads with a generator per batch give the same run twice,
    the loss falls, and a resumed run continues where the checkpoint stopped."""
    cfg = PretrainConfig(steps=30, batch_size=16, ckpt_every=15, seed=2, prep_workers=2, prior=True)
    a = pretrain(data, tmp_path / "a", cfg)
    b = pretrain(data, tmp_path / "b", cfg, cache_shards=1000)
    assert a["history"] == b["history"]
    pretrain(data, tmp_path / "c", PretrainConfig(**{**cfg.__dict__, "steps": 15}))
    c = pretrain(data, tmp_path / "c", cfg, resume=True)
    assert c["start_step"] == 15 and len(c["history"]) == 30
    assert c["history"][:15] == a["history"][:15]
    with pytest.raises(ConfigError, match="prep_workers"):
        PretrainConfig(prep_workers=-1)
    with pytest.raises(ConfigError, match="prep_workers"):
        PretrainConfig(prep_workers=True)


def test_step_loss_is_prepare_then_forward(data):
    from airan.data.reader import CsiDataset
    from airan.fm.pretrain import build_model, forward_loss, prepare_step, step_loss

    h = next(CsiDataset(data).batches(batch_size=4, seed=0))["h"]
    model = build_model(PretrainConfig(prior=True))
    for kind in ("random", "temporal", "frequency", "pilot"):
        direct = step_loss(model, h, kind, 0.5, torch.Generator().manual_seed(3), "cpu", (0.0, 30.0), loss="nmse_db")
        inp = prepare_step(model, h, kind, 0.5, torch.Generator().manual_seed(3), "cpu", (0.0, 30.0))
        assert torch.equal(direct, forward_loss(model, inp, "nmse_db")), kind
        assert inp.x.shape == inp.target.shape and inp.masked.shape == inp.x.shape[:2]


def test_exported_weights_are_small_load_close_and_refuse_resume(data, tmp_path):
    from airan.core.errors import StoreError

    src, dst = tmp_path / "full", tmp_path / "export"
    cfg = PretrainConfig(steps=4, batch_size=8, seed=0)
    pretrain(data, src, cfg)
    meta = checkpoint.export_weights(src, dst, "float16")
    assert meta["weights_dtype"] == "float16" and meta["exported_from"] == str(src)
    assert (dst / "ckpt.pt").stat().st_size < 0.4 * (src / "ckpt.pt").stat().st_size  # no AdamW state, 2 bytes
    full, _, _ = checkpoint.load(src)
    small, state, _ = checkpoint.load(dst)
    assert "opt" not in state and next(small.parameters()).dtype == torch.float32
    h = torch.randn(2, 8, 4, 16, dtype=torch.complex64)
    p_full, _, _ = reconstruct(full, h, "temporal", 0.25)
    p_small, _, _ = reconstruct(small, h, "temporal", 0.25)
    assert torch.linalg.norm(p_small - p_full) / torch.linalg.norm(p_full) < 1e-2
    with pytest.raises(ConfigError, match="weights only"):
        pretrain(data, dst, PretrainConfig(steps=6, batch_size=8), resume=True)
    with pytest.raises(StoreError, match="'int8'"):
        checkpoint.export_weights(src, tmp_path / "x", "int8")
    with pytest.raises(StoreError, match="source checkpoint"):
        checkpoint.export_weights(src, src)
