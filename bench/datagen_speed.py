"""CSI generation speed -> bench/results/datagen_speed.json.

Serving-link samples/s and coefficients/s (coefficients = time x antenna x subcarrier per sample) and peak RSS
for: the issue's reference shape (32 BS antennas = 4x4 dual-pol, 32 subcarriers, 8 slots, UMa 3.5 GHz), and
the ``hetero`` and ``predict`` families end to end (HDF5 shards, labels). Target on the 2-core CPU:
>= 150 samples/s of the reference shape with peak RSS <= 8 GiB.

    .venv/bin/python bench/datagen_speed.py [--samples N]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from machine import machine_info, peak_rss_mib  # noqa: E402

from airan.core.rng import make_rng  # noqa: E402
from airan.data.datagen import generate_dataset  # noqa: E402
from airan.data.families import load_family  # noqa: E402
from airan.twin.adapter.csi import generate_csi  # noqa: E402

OUT = Path(__file__).parent / "results" / "datagen_speed.json"


def children_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def reference(n: int, model: str) -> dict:
    generate_csi(model, 3.5e9, 4, 4, True, 8, 0.5e-3, 32, 30e3, 64, (3, 120), (35, 500), "random", 0.5,
                 make_rng(1))  # warm-up
    t = time.perf_counter()
    b = generate_csi(model, 3.5e9, 4, 4, True, 8, 0.5e-3, 32, 30e3, n, (3, 120), (35, 500), "random", 0.5,
                     make_rng(2))
    dt = time.perf_counter() - t
    return {"model": model, "shape": list(b.h.shape[1:]), "samples": n, "seconds": dt, "samples_per_s": n / dt,
            "coefficients_per_s": n * int(np.prod(b.h.shape[1:])) / dt}


def family_run(name: str, n: int, workers: int) -> dict:
    d = Path(tempfile.mkdtemp(prefix=f"airan-{name}-"))
    try:
        s = generate_dataset(load_family(name), n, d, seed=0, workers=workers, shard_size=64)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    coeffs = sum(c["samples"] * int(np.prod(c["shape"])) for c in s["configs"])
    return {"family": name, "workers": workers, "samples": s["samples"], "seconds": s["seconds"],
            "samples_per_s": s["samples_per_s"], "coefficients_per_s": coeffs / s["seconds"], "bytes": s["bytes"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=1024)
    args = ap.parse_args()
    res: dict = {"machine": machine_info(), "command": " ".join(["python", "bench/datagen_speed.py", *sys.argv[1:]])}
    res["reference_32ant_32sc_8slots"] = [reference(args.samples, m) for m in ("uma", "umi")]
    res["families"] = [family_run("hetero", 13 * 64, 2), family_run("predict", 3 * 128, 2)]
    res["peak_rss_mib"] = max(peak_rss_mib(), children_rss_mib())
    best = max(r["samples_per_s"] for r in res["reference_32ant_32sc_8slots"])
    uma = res["reference_32ant_32sc_8slots"][0]["samples_per_s"]
    res["target"] = ">= 150 serving-link samples/s (32x32x8) with peak RSS <= 8 GiB on the 2-core CPU"
    res["meets_target"] = {"uma_samples_per_s": uma >= 150, "best_samples_per_s": best >= 150,
                           "peak_rss": res["peak_rss_mib"] <= 8192}
    res["gpu_note"] = "No GPU was available to this session; the GPU run of this benchmark is left to do."
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps({k: res[k] for k in ("reference_32ant_32sc_8slots", "families", "peak_rss_mib", "meets_target")},
                     indent=1))


if __name__ == "__main__":
    main()
