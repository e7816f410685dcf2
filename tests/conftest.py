"""Shared fixtures: a seed, a reset ci-tiny twin, and the gpu marker (skipped without CUDA)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except Exception:  # pragma: no cover
        has_gpu = False
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords and not has_gpu:
            item.add_marker(skip)


@pytest.fixture
def seed() -> int:
    return 1234


@pytest.fixture
def tiny_twin():
    """A ci-tiny twin reset with seed 3 (the Sionna drop is cached per process, so this is cheap after once)."""
    from airan.twin.env import NetworkTwin

    env = NetworkTwin("ci-tiny")
    env.reset(seed=3)
    return env
