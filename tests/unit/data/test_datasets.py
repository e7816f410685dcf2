import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from airan.cli.main import app
from airan.core.errors import ConfigError, StoreError
from airan.data.datagen import generate_dataset, plan_jobs
from airan.data.families import CsiConfig, family_names, load_family
from airan.data.reader import CsiDataset
from airan.data.shards import complete_shard, shard_paths


@pytest.fixture(scope="module")
def tiny_ds(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds")
    summary = generate_dataset(load_family("ci-tiny"), 48, out, seed=3, shard_size=8)
    return out, summary


def test_families_load_and_predict_matches_llm4cp():
    assert {"hetero", "predict", "feedback", "sensing", "ci-tiny"} <= set(family_names())
    pred = load_family("predict")
    c = pred.config("predict-uma-fdd")
    assert c.shape == (20, 32, 96)  # 16 past + 4 future slots, 4x4 dual-pol, 96 RBs
    assert (c.carrier_hz, c.slot_s, c.model, c.los) == (2.4e9, 0.5e-3, "uma", "nlos")
    assert (c.ul_subcarriers, c.dl_subcarriers) == ((0, 48), (48, 96))
    assert pred.config("predict-umi-fdd-zeroshot").held_out
    het = load_family("hetero")
    assert any(c.held_out for c in het.configs) and len({c.shape for c in het.configs}) > 5
    assert min(c.carrier_hz for c in het.configs) <= 0.9e9 and max(c.carrier_hz for c in het.configs) >= 60e9
    fb = load_family("feedback")
    assert all(c.num_antennas == 32 and c.ad_taps == 32 for c in fb.configs)


def test_bad_configs_name_the_value(tmp_path):
    with pytest.raises(ConfigError, match="'moon'"):
        CsiConfig("x", "moon", 3.5e9, 16, 30e3, 4, 1e-3, 1, 1)
    with pytest.raises(ConfigError, match="slot_s 30.0"):
        CsiConfig("x", "umi", 3.5e9, 16, 30e3, 4, 30e3 / 1e3, 1, 1)  # slot given in ms by mistake
    with pytest.raises(ConfigError, match="nope"):
        load_family("nope")
    bad = tmp_path / "fam.json"
    bad.write_text(json.dumps({"configs": [{"name": "a", "model": "umi", "colour": 1}]}))
    with pytest.raises(ConfigError, match="colour"):
        load_family(bad)


def test_generation_shards_manifest_and_labels(tiny_ds):
    out, summary = tiny_ds
    assert summary["samples"] == 48 and summary["samples_generated"] == 48
    assert {c["name"]: c["samples"] for c in summary["configs"]} == {"tiny-a": 12, "tiny-b": 12, "tiny-held": 12,
                                                                    "tiny-track": 12}
    ds = CsiDataset(out)
    s = ds.sample(0)
    assert s["h"].shape == (8, 4, 16) and s["h"].dtype == np.complex64
    assert {"ue_xyz", "velocity", "los", "best_beam_4", "best_beam_8", "ad", "bs_id"} <= set(s)
    assert s["ad"].shape == (4, 8)
    meta = json.loads(shard_paths(out, "tiny-a", 0)[1].read_text())
    assert meta["config"]["name"] == "tiny-a" and meta["seed"] == 3 and meta["shapes"]["h"] == [8, 8, 4, 16]
    track = ds.shard("tiny-track/shard-00000.h5")
    assert track["h"].shape == (8, 12, 2, 8) and track["h_ul"].shape == (8, 12, 2, 8)
    assert track["h_nb"].shape == (8, 2, 12, 2, 8) and track["nb_id"].shape == (8, 2)


def test_resume_skips_complete_shards_and_ignores_partial(tiny_ds, tmp_path):
    out, _ = tiny_ds
    again = generate_dataset(load_family("ci-tiny"), 48, out, seed=3, shard_size=8)
    assert again["samples_generated"] == 0 and again["resumed_shards"] == 8
    # a partial shard (h5 without meta) is not complete and is regenerated
    d2 = tmp_path / "d2"
    generate_dataset(load_family("ci-tiny"), 48, d2, seed=3, shard_size=8)
    h5, meta = shard_paths(d2, "tiny-b", 1)
    meta.unlink()
    h5.write_bytes(b"partial")
    assert complete_shard(d2, "tiny-b", 1) is None
    third = generate_dataset(load_family("ci-tiny"), 48, d2, seed=3, shard_size=8)
    assert third["resumed_shards"] == 7 and third["samples_generated"] == 4
    a = CsiDataset(out).shard("tiny-b/shard-00001.h5")["h"]
    b = CsiDataset(d2).shard("tiny-b/shard-00001.h5")["h"]
    assert np.array_equal(a, b)  # same seed -> same data, wherever it was generated


def test_no_manifest_is_never_read(tmp_path):
    with pytest.raises(StoreError, match="manifest"):
        CsiDataset(tmp_path)


def test_splits_and_bucketed_batches(tiny_ds):
    out, _ = tiny_ds
    ds = CsiDataset(out)
    sp = ds.split("sample", seed=1)
    held = {i for i, r in enumerate(ds.refs) if r.config == "tiny-held"}
    assert set(sp["zero_shot"]) == held and not held & set(sp["train"])
    assert not set(sp["train"]) & set(sp["test"])
    by_cfg = ds.split("config")
    assert {ds.refs[i].config for i in by_cfg["test"]} >= {"tiny-held"}
    clients = ds.split("bs")
    assert len(clients) >= 2 and sum(map(len, clients.values())) == 36
    shapes = set()
    for batch in ds.batches(sp["train"] + sp["val"] + sp["test"], batch_size=5, snr_db=20.0, labels=("los",),
                            pilots=(2, 4)):
        assert batch["pilot_mask"].shape == (batch["h"].shape[1], batch["h"].shape[3])
        assert torch.count_nonzero(batch["y_pilot"][:, 1]) == 0  # odd slots carry no pilots
        shapes.add(tuple(batch["h"].shape[1:]))
        assert len({ds.configs[c].shape for c in batch["config"]}) == 1  # one shape per batch, no padding
        p = batch["h_clean"].abs().pow(2).mean(dim=(1, 2, 3))
        assert np.allclose(p.numpy(), 1.0, atol=1e-4)
        assert batch["los"].shape[0] == batch["h"].shape[0]
    assert shapes == {(8, 4, 16), (6, 4, 8), (12, 2, 8)}


def test_plan_rejects_too_few_samples():
    with pytest.raises(ConfigError, match="2"):
        plan_jobs(load_family("ci-tiny"), 2, 0)


def test_cli_datagen_info_quality(tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["datagen", "--family", "ci-tiny", "--samples", "12", "--out", str(tmp_path / "d"),
                            "--format", "json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert {"samples", "bytes", "seconds", "samples_per_s", "configs"} <= set(s) and s["samples"] == 12
    assert {"name", "samples", "shape", "held_out"} <= set(s["configs"][0])
    info = json.loads(runner.invoke(app, ["data", "info", str(tmp_path / "d"), "--format", "json"]).stdout)
    assert info["samples"] == 12 and info["configs"] == s["configs"]
    q = json.loads(runner.invoke(app, ["data", "quality", str(tmp_path / "d"), "--format", "json"]).stdout)
    assert q["nonfinite_values"] == 0 and q["completeness"]["shards_present"] == 4
    assert 0.0 <= q["los_ratio"] <= 1.0 and (tmp_path / "d" / "quality.png").exists()
    bad = runner.invoke(app, ["datagen", "--family", "nope", "--samples", "3", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "nope" in bad.output
