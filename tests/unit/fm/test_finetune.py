"""Fine-tuning on ci-tiny at tiny size (CPU): config validation, shots, head/LoRA freezing, the task loss
falls, estimation input fill, save/load round trip, predict shapes and errors."""

import json

import numpy as np
import pytest
import torch

from airan.core.errors import ConfigError, ShapeError
from airan.data.datagen import generate_dataset
from airan.data.families import load_family
from airan.data.reader import CsiDataset
from airan.fm import checkpoint
from airan.fm.baselines import last_slot, linear_interp
from airan.fm.bench import known_mask
from airan.fm.finetune import (
    DECODER_PARTS,
    FinetuneConfig,
    build,
    finetune,
    load_predictor,
    shots_indices,
    zero_shot,
)
from airan.fm.heads import hold_fill, interp_fill
from airan.fm.model import CsiMAE, fm_config


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("ftdata")
    generate_dataset(load_family("ci-tiny"), 96, out, seed=5, shard_size=48)
    return out


@pytest.fixture(scope="module")
def backbone():
    torch.manual_seed(0)
    return CsiMAE(fm_config("tiny"))


def _encoder_state(m):
    return {n: p.detach().clone() for n, p in m.named_parameters() if n.split(".")[0] not in DECODER_PARTS}


def _eval_batch(data, task, snr_db=10.0):
    ds = CsiDataset(data)
    idx = [i for i in ds.split("sample", seed=0)["val"] if ds.refs[i].config == "tiny-a"]
    b = next(ds.batches(idx, batch_size=len(idx), shuffle=False, snr_db=snr_db, seed=3))
    return b["h"], b["h_clean"], known_mask(task, b["h"].shape[1], b["h"].shape[3])


def test_config_errors_name_the_value():
    for kw, bad in [({"task": "beam"}, "'beam'"), ({"mode": "adapter"}, "'adapter'"), ({"steps": 0}, "0"),
                    ({"lr": -1.0}, "-1.0"), ({"lora_rank": 0}, "0"), ({"snr_db": float("nan")}, "nan")]:
        with pytest.raises(ConfigError, match=bad):
            FinetuneConfig(**kw)


def test_shots_are_deterministic_nested_subsets():
    idx = list(range(100, 600))
    one, ten, full = (shots_indices(idx, s, seed=4) for s in ("1pct", "10pct", "full"))
    assert shots_indices(idx, "zero", 4) == []
    assert len(one) == 5 and len(ten) == 50 and full == idx
    assert set(one) <= set(ten) <= set(idx) and one == shots_indices(idx, "1pct", seed=4)
    assert shots_indices(idx, "10pct", seed=5) != ten
    assert len(shots_indices(idx[:3], "1pct", 0)) == 1  # never empty
    with pytest.raises(ConfigError, match="'half'"):
        shots_indices(idx, "half", 0)


def test_finetune_lowers_the_task_loss(data, backbone):
    y, clean, known = _eval_batch(data, "time")
    before = build(backbone, "time", "full")
    with torch.no_grad():
        loss0 = float(before.loss(y, clean, known))
    ft = finetune(backbone, data, FinetuneConfig(task="time", mode="full", steps=40, batch_size=16, lr=2e-3,
                                                 snr_db=10.0, val_fraction=0.1))
    with torch.no_grad():
        loss1 = float(ft.loss(y, clean, known))
    assert loss1 < 0.7 * loss0, (loss0, loss1)
    hist = ft.meta["history"]
    assert len(hist) == 40 and np.mean(hist[-5:]) < np.mean(hist[:5])
    # a tenth of the training samples was held out; the kept weights are those of the best validation step
    val = dict((s, v) for s, v in ft.meta["val_history"])
    assert ft.meta["val_samples"] >= 1 and sorted(val) == [0, 25, 40]
    assert val[ft.meta["best_step"]] == min(val.values())
    assert ft.trainable_params == ft.params  # full: the encoder and the head train


def test_head_mode_freezes_the_encoder_and_lora_trains_only_its_factors(data, backbone):
    enc0 = _encoder_state(backbone)
    head = finetune(backbone, data, FinetuneConfig(task="freq", mode="head", steps=5, batch_size=8))
    for n, p in _encoder_state(head.backbone).items():
        assert torch.equal(p, enc0[n]), n
    assert head.trainable_params == sum(p.numel() for p in head.head.parameters())
    assert not any(p.requires_grad for p in head.parameters())  # frozen for inference

    lora = finetune(backbone, data, FinetuneConfig(task="freq", mode="lora", steps=5, batch_size=8, lora_rank=2))
    moved = [n for n, p in _encoder_state(lora.backbone).items() if not torch.equal(p, enc0[n])]
    # only the adapted (now merged) linear weights moved: no bias, norm or position table
    assert "encoder.layers.0.self_attn.in_proj_weight" in moved
    assert all(n.endswith("weight") and "norm" not in n and not n.startswith("pos.") for n in moved), moved
    assert head.trainable_params < lora.trainable_params < lora.params
    assert lora.params == head.params  # LoRA merged: inference costs what the base costs
    assert _encoder_state(backbone).keys() == enc0.keys()  # the caller's backbone is untouched
    assert all(torch.equal(p, enc0[n]) for n, p in _encoder_state(backbone).items())


def test_same_seed_same_finetune(data, backbone):
    cfg = FinetuneConfig(task="estimation", mode="lora", steps=3, batch_size=8, lora_rank=2, augment=True)
    a, b = finetune(backbone, data, cfg), finetune(backbone, data, cfg)
    c = finetune(backbone, data, FinetuneConfig(**{**cfg.__dict__, "seed": 1}))
    assert a.meta["history"] == b.meta["history"] != c.meta["history"]
    y, _, known = _eval_batch(data, "estimation")
    assert torch.equal(a.predict(y, known), b.predict(y, known))


def test_estimation_input_is_interpolated_and_untrained_head_returns_it(data, backbone):
    y, clean, known = _eval_batch(data, "estimation")
    assert torch.allclose(interp_fill(y * known[None, :, None, :], known), linear_interp(y, known), atol=1e-5)
    ft = build(backbone, "estimation", "head")
    est = ft.predict(y, known)
    assert torch.allclose(est, linear_interp(y, known), atol=1e-4)  # residual over the interpolated pilots
    with pytest.raises(ConfigError, match="estimation"):
        zero_shot(backbone, "estimation")


def test_hold_fill_repeats_the_last_known_slot():
    g = torch.Generator().manual_seed(0)
    y = torch.complex(torch.randn(2, 8, 3, 16, generator=g), torch.randn(2, 8, 3, 16, generator=g))
    known = known_mask("time", 8, 16)
    assert torch.equal(hold_fill(y * known[None, :, None, :], known), last_slot(y, known))
    k2 = torch.zeros(4, 2, dtype=torch.bool)
    k2[2, 0] = True  # subcarrier 0 known only in slot 2, subcarrier 1 never
    out = hold_fill(y[:, :4, :, :2], k2)
    assert torch.equal(out[:, :, :, 0], y[:, 2:3, :, 0].expand(-1, 4, -1))  # earlier slots take slot 2
    assert torch.equal(out[:, :, :, 1], y[:, :4, :, 1])


def test_save_load_and_predict_on_an_unseen_shape(data, backbone, tmp_path):
    ck = tmp_path / "base"
    checkpoint.save(ck, backbone, {}, {"step": 0})
    ft = finetune(ck, data, FinetuneConfig(task="time", mode="lora", steps=3, batch_size=8, seed=2),
                  train_idx=[0, 1, 2, 3])
    ft.save(tmp_path / "ft")
    meta = json.loads((tmp_path / "ft" / "meta.json").read_text())["finetune"]
    assert meta["mode"] == "lora" and meta["task"] == "time" and meta["base_checkpoint"] == str(ck)
    assert meta["train_samples"] == 4 and len(meta["history"]) == 3 and meta["data"] == str(data)
    back = load_predictor(tmp_path / "ft")
    g = torch.Generator().manual_seed(0)
    y = torch.complex(torch.randn(3, 10, 6, 20, generator=g), torch.randn(3, 10, 6, 20, generator=g)) * 7.0
    known = known_mask("time", 10, 20)
    out = ft.predict(y, known)
    assert out.shape == y.shape and out.dtype == torch.complex64
    assert torch.allclose(back.predict(y, known), out, atol=1e-5)
    assert torch.equal(out[:, known.nonzero()[:, 0].unique()], y[:, known.nonzero()[:, 0].unique()])
    assert not torch.allclose(out[:, -2:], y[:, -2:])
    with pytest.raises(ConfigError, match="'freq'"):
        load_predictor(tmp_path / "ft", task="freq")
    with pytest.raises(ConfigError, match="fine-tuned"):
        finetune(tmp_path / "ft", data, FinetuneConfig(steps=1))
    with pytest.raises(ShapeError, match=r"\(10, 21\)"):
        ft.predict(y, torch.ones(10, 21, dtype=torch.bool))
    with pytest.raises(ShapeError, match="complex"):
        ft.predict(y.real, known)


def test_finetune_on_tensors_and_bad_inputs(backbone, tmp_path):
    g = torch.Generator().manual_seed(0)
    h = torch.complex(torch.randn(6, 8, 2, 8, generator=g), torch.randn(6, 8, 2, 8, generator=g))
    ft = finetune(backbone, [h], FinetuneConfig(task="estimation", mode="head", steps=3, batch_size=4,
                                                val_fraction=0.0))
    assert ft.meta["train_samples"] == 6 and len(ft.meta["history"]) == 3 and ft.meta["val_samples"] == 0
    known = known_mask("estimation", 8, 8)
    back = load_predictor(ft.save(tmp_path / "est"), "estimation")
    assert back.head.prefill == "interp" and back.head.residual
    assert torch.allclose(back.predict(h, known), ft.predict(h, known), atol=1e-5)
    with pytest.raises(ConfigError, match=r"\(6, 8, 2\)"):
        finetune(backbone, h[..., 0], FinetuneConfig(steps=1))
    with pytest.raises(ConfigError, match="empty"):
        finetune(backbone, "/nonexistent-but-unused", FinetuneConfig(steps=1), train_idx=[])
    with pytest.raises(ConfigError, match="got int"):
        finetune(3, [h], FinetuneConfig(steps=1))


def test_finetune_the_wifo_replica_and_reload(tmp_path):
    from airan.fm.wifo import WifoMAE

    torch.manual_seed(0)
    wifo = WifoMAE(fm_config("tiny"))
    g = torch.Generator().manual_seed(1)
    h = torch.complex(torch.randn(8, 8, 2, 16, generator=g), torch.randn(8, 8, 2, 16, generator=g))
    ft = finetune(wifo, [h], FinetuneConfig(task="time", mode="lora", steps=2, batch_size=4, lora_rank=2))
    assert ft.head.positions == "sincos" and ft.head.has_dec_norm and 0 < ft.trainable_params < ft.params
    checkpoint.save(tmp_path / "wifo", wifo, {}, {})
    ft.meta["base_checkpoint"] = str(tmp_path / "wifo")
    back = load_predictor(ft.save(tmp_path / "ft"))
    known = known_mask("time", 8, 16)
    assert torch.allclose(back.predict(h, known), ft.predict(h, known), atol=1e-5)



def test_prior_backbone_heads_start_from_the_prior_fine_tune_and_reload(data, tmp_path):
    import dataclasses

    torch.manual_seed(0)
    prior_bb = CsiMAE(dataclasses.replace(fm_config("tiny"), prior=True))
    y, _, known = _eval_batch(data, "estimation")
    untrained = build(prior_bb, "estimation", "head")
    assert untrained.head.prefill == "classical" and untrained.head.residual
    assert torch.allclose(untrained.predict(y, known), linear_interp(y, known), atol=1e-4)  # pilots: interpolation
    # its decoder was pretrained on interpolated pilots, so zero-shot estimation is offered (and starts there too)
    assert torch.allclose(zero_shot(prior_bb, "estimation").predict(y, known), linear_interp(y, known), atol=1e-4)
    ft = finetune(prior_bb, data, FinetuneConfig(task="estimation", mode="full", steps=4, batch_size=8))
    est = ft.predict(y, known)
    assert torch.isfinite(est.real).all() and not torch.allclose(est, linear_interp(y, known), atol=1e-4)
    ft.save(tmp_path / "ft")
    assert json.loads((tmp_path / "ft" / "meta.json").read_text())["finetune"]["head"]["prefill"] == "classical"
    assert torch.allclose(load_predictor(tmp_path / "ft").predict(y, known), est, atol=1e-5)
