"""The same datagen command on Ray: a private local instance bound to 127.0.0.1, shut down afterwards."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from airan.cli.main import app
from airan.data.datagen import generate_dataset
from airan.data.families import load_family
from airan.data.reader import CsiDataset

ray = pytest.importorskip("ray")


@pytest.mark.slow
def test_ray_local_generates_the_same_data_as_the_process_pool(tmp_path):
    r = CliRunner().invoke(app, ["datagen", "--family", "ci-tiny", "--samples", "12", "--out", str(tmp_path / "ray"),
                                 "--ray-address", "local", "--workers", "2", "--seed", "5", "--shard-size", "2",
                                 "--format", "json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["samples"] == 12 and summary["ray_address"] == "local"
    assert not ray.is_initialized()
    generate_dataset(load_family("ci-tiny"), 12, tmp_path / "local", seed=5, shard_size=2)
    a, b = CsiDataset(tmp_path / "ray"), CsiDataset(tmp_path / "local")
    for rel in ("tiny-a/shard-00001.h5", "tiny-held/shard-00000.h5"):
        assert np.array_equal(a.shard(rel)["h"], b.shard(rel)["h"])
