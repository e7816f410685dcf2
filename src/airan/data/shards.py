"""CSI dataset storage: HDF5 shards, a meta.json beside each, and a manifest written last.

Layout: ``DIR/<config>/shard-00000.h5`` + ``shard-00000.meta.json``; ``DIR/manifest.json``.
A shard is complete iff its meta.json exists: the .h5 is written to a temporary name and renamed first, the
meta.json (with a checksum of the .h5) after it. Resuming skips complete shards; readers use only shards
listed in the manifest, so a partial shard is never read.

Datasets in a shard (N samples): ``h`` [N, T, A, S] complex64 (unit-less channel incl. path loss);
``ue_xyz`` [N, 3] float32 m; ``velocity`` [N, 3] float32 m/s; ``los`` [N] bool; ``path_gain_db`` [N] float32 dB;
``delay_spread_s`` [N] float32 s; ``bs_id`` [N] int32; ``serving_cell`` [N] int32 (sector of that BS);
``best_beam_<B>`` [N] int64 per DFT codebook size B; ``ad`` [N, A, taps] complex64 angular-delay form;
optionally ``h_nb`` [N, K, T, A, S] complex64 + ``nb_id`` [N, K] int32 + ``nb_gain_db`` [N, K] float32
(strongest neighbour sectors) and ``h_ul`` [N, T, A, S] complex64 (separate-carrier FDD uplink).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from airan import __version__
from airan.core.errors import StoreError

UNITS = {"h": "1 (complex baseband gain, path loss included)", "ue_xyz": "m", "velocity": "m/s", "los": "bool",
         "path_gain_db": "dB", "delay_spread_s": "s", "bs_id": "index", "serving_cell": "index",
         "best_beam_*": "index into the DFT codebook", "ad": "1 (angular-delay domain)",
         "h_nb": "1 (neighbour-sector links)", "nb_id": "index of the neighbour sector (1..6)", "nb_gain_db": "dB",
         "h_ul": "1 (FDD uplink band)"}


def shard_paths(out: Path, config: str, index: int) -> tuple[Path, Path]:
    base = out / config / f"shard-{index:05d}"
    return base.with_suffix(".h5"), base.with_suffix(".meta.json")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_shard(out: Path, config: dict[str, Any], index: int, arrays: dict[str, np.ndarray], seed: int,
                extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write one shard atomically; return its meta record."""
    h5, meta_path = shard_paths(out, config["name"], index)
    h5.parent.mkdir(parents=True, exist_ok=True)
    tmp = h5.with_suffix(f".{os.getpid()}.tmp")
    with h5py.File(tmp, "w") as f:
        for k, v in arrays.items():
            f.create_dataset(k, data=v)
    os.replace(tmp, h5)
    n = int(arrays["h"].shape[0])
    meta = {"config": config, "shard": index, "samples": n, "seed": seed, "code_version": __version__,
            "shapes": {k: list(v.shape) for k, v in arrays.items()},
            "dtypes": {k: str(v.dtype) for k, v in arrays.items()}, "units": UNITS,
            "file": h5.name, "bytes": h5.stat().st_size, "sha256": _sha256(h5), "created": time.time(),
            **(extra or {})}
    tmp_meta = meta_path.with_suffix(f".{os.getpid()}.tmp")
    tmp_meta.write_text(json.dumps(meta, indent=1))
    os.replace(tmp_meta, meta_path)
    return meta


def complete_shard(out: Path, config: str, index: int) -> dict[str, Any] | None:
    """The shard's meta if the shard is complete (meta present, file size matches), else None."""
    h5, meta_path = shard_paths(out, config, index)
    if not meta_path.exists() or not h5.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError:
        return None
    return meta if h5.stat().st_size == meta.get("bytes") else None


def write_manifest(out: Path, family: dict[str, Any], shards: list[dict[str, Any]], seed: int) -> dict[str, Any]:
    """Write ``manifest.json`` last (atomically)."""
    manifest = {"family": family, "seed": seed, "code_version": __version__, "created": time.time(),
                "shards": [{k: s[k] for k in ("file", "shard", "samples", "bytes", "sha256")}
                           | {"config": s["config"]["name"], "path": f"{s['config']['name']}/{s['file']}"}
                           for s in shards]}
    tmp = out / f"manifest.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, out / "manifest.json")
    return manifest


def read_manifest(out: str | Path) -> dict[str, Any]:
    path = Path(out) / "manifest.json"
    if not path.exists():
        raise StoreError(f"no manifest.json in {str(out)!r}: not a dataset, or its generation did not finish")
    return json.loads(path.read_text())


def read_shard(out: str | Path, rel_path: str, keys: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    with h5py.File(Path(out) / rel_path, "r") as f:
        return {k: f[k][()] for k in (keys or tuple(f.keys()))}
