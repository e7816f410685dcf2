"""Explicit random generators. Library code takes a ``np.random.Generator``; children come from
``SeedSequence.spawn`` so that adding a consumer never shifts another consumer's stream."""

from __future__ import annotations

import numpy as np


def make_rng(seed: int | np.random.SeedSequence | None) -> np.random.Generator:
    """A PCG64 generator from a seed or seed sequence."""
    if isinstance(seed, bool) or (seed is not None and not isinstance(seed, (int, np.random.SeedSequence))):
        raise TypeError(f"seed must be an int, SeedSequence or None, got {seed!r}")
    if isinstance(seed, int) and seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed!r}")
    return np.random.Generator(np.random.PCG64(seed))


def spawn_rngs(seed: int, names: tuple[str, ...]) -> dict[str, np.random.Generator]:
    """Named, independent child generators of one seed (stable: child i depends only on seed and i)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {name: np.random.Generator(np.random.PCG64(child)) for name, child in zip(names, children)}


def torch_seed_from(rng: np.random.Generator) -> int:
    """Draw a 63-bit seed for a torch/Sionna generator from a numpy generator."""
    return int(rng.integers(0, 2**63 - 1))
