"""Describe the machine a benchmark ran on (every result JSON names it)."""

from __future__ import annotations

import json
import os
import platform
import resource
from pathlib import Path


def machine_info() -> dict:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = None
    try:
        with open("/proc/meminfo") as f:
            mem_gib = round(int(f.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    gpu = None
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except Exception:
        pass
    return {"hostname": platform.node(), "cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem_gib,
            "gpu": gpu, "python": platform.python_version(), "platform": platform.platform()}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_result(name: str, tag: str, out: dict) -> Path:
    """Write a benchmark's JSON to ``bench/results/NAME[_TAG].json``; returns the path."""
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"{name}{'_' + tag if tag else ''}.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    return path
