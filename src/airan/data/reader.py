"""Read a CSI dataset: sample references, splits (by sample, by config for zero-shot, by base station for
federated learning), and torch batches bucketed by shape so different sizes train together without padding."""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from airan.core.errors import ConfigError
from airan.data.families import CsiConfig
from airan.data.shards import read_manifest, read_shard
from airan.twin.csi import add_noise, pilot_mask


@dataclass(frozen=True)
class SampleRef:
    config: str
    shard: str  # path relative to the dataset dir
    row: int
    bs_id: int


class CsiDataset:
    """A generated dataset (only shards listed in its manifest are read)."""

    def __init__(self, path: str | Path, cache_shards: int = 8) -> None:
        self.path = Path(path)
        self.manifest = read_manifest(self.path)
        self.configs = {c["name"]: CsiConfig.from_dict(c) for c in self.manifest["family"]["configs"]}
        self.refs: list[SampleRef] = []
        for s in self.manifest["shards"]:
            bs = s["shard"] % self.configs[s["config"]].num_bs
            self.refs.extend(SampleRef(s["config"], s["path"], r, bs) for r in range(s["samples"]))
        self._cache: OrderedDict[str, dict[str, np.ndarray]] = OrderedDict()
        self._cache_size = cache_shards

    def __len__(self) -> int:
        return len(self.refs)

    def shard(self, rel: str) -> dict[str, np.ndarray]:
        if rel in self._cache:
            self._cache.move_to_end(rel)
            return self._cache[rel]
        data = read_shard(self.path, rel)
        self._cache[rel] = data
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return data

    def sample(self, i: int) -> dict[str, Any]:
        ref = self.refs[i]
        data = self.shard(ref.shard)
        return {k: v[ref.row] for k, v in data.items()} | {"config": ref.config}

    def split(self, by: str = "sample", fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
              seed: int = 0) -> dict[str, list[int]]:
        """Indices for train/val/test. ``by="sample"``: random over samples of non-held-out configs, with all
        held-out configs in ``zero_shot``; ``by="config"``: whole configs per split (held-out ones -> test);
        ``by="bs"``: one list per base station id (federated clients), key ``bs<k>``."""
        if abs(sum(fractions) - 1.0) > 1e-9 or any(f < 0 for f in fractions):
            raise ConfigError(f"split fractions must be >= 0 and sum to 1, got {fractions!r}")
        rng = np.random.default_rng(seed)
        held = {n for n, c in self.configs.items() if c.held_out}
        if by == "bs":
            out: dict[str, list[int]] = defaultdict(list)
            for i, r in enumerate(self.refs):
                if r.config not in held:
                    out[f"bs{r.bs_id}"].append(i)
            return dict(out)
        if by == "sample":
            idx = np.array([i for i, r in enumerate(self.refs) if r.config not in held])
            rng.shuffle(idx)
            a, b = int(fractions[0] * len(idx)), int((fractions[0] + fractions[1]) * len(idx))
            return {"train": sorted(idx[:a].tolist()), "val": sorted(idx[a:b].tolist()),
                    "test": sorted(idx[b:].tolist()),
                    "zero_shot": [i for i, r in enumerate(self.refs) if r.config in held]}
        if by == "config":
            names = sorted(n for n in self.configs if n not in held)
            rng.shuffle(names)
            a = max(1, int(round(fractions[0] * len(names))))
            b = a + int(round(fractions[1] * len(names)))
            groups = {"train": set(names[:a]), "val": set(names[a:b]), "test": set(names[b:]) | held}
            return {k: [i for i, r in enumerate(self.refs) if r.config in v] for k, v in groups.items()}
        raise ConfigError(f"split by must be sample, config or bs, got {by!r}")

    def batches(self, indices: list[int] | None = None, batch_size: int = 32, *, shuffle: bool = True,
                seed: int = 0, snr_db: float | None = None, normalize: bool = True,
                labels: tuple[str, ...] = (), pilots: tuple[int, int] | None = None) -> Iterator[dict[str, Any]]:
        """Yield batches bucketed by sample shape: {"config", "h": [B, T, A, S] complex64 tensor, labels...}.

        ``normalize`` scales each sample to unit mean power (path loss removed); ``snr_db`` adds noise at read
        time (the stored data stays clean); the clean target is returned as ``h_clean`` when noise is added.
        ``pilots=(slot_every, sc_every)`` adds ``pilot_mask`` [T, S] bool and ``y_pilot`` [B, T, A, S] (the
        received channel on pilot REs, zero elsewhere) for channel-estimation tasks."""
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size!r}")
        rng = np.random.default_rng(seed)
        idx = list(range(len(self.refs))) if indices is None else list(indices)
        buckets: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for i in idx:
            buckets[self.configs[self.refs[i].config].shape].append(i)
        plan = []
        for members in buckets.values():
            m = np.array(members)
            if shuffle:
                rng.shuffle(m)
            plan.extend(m[k:k + batch_size].tolist() for k in range(0, len(m), batch_size))
        if shuffle:
            rng.shuffle(plan)
        for group in plan:
            samples = [self.sample(i) for i in group]
            h = np.stack([s["h"] for s in samples])  # [B, T, A, S]
            if normalize:
                h = h / np.sqrt(np.mean(np.abs(h) ** 2, axis=(1, 2, 3), keepdims=True))
            batch: dict[str, Any] = {"config": [s["config"] for s in samples], "index": group}
            if snr_db is not None:
                batch["h_clean"] = torch.from_numpy(h.astype(np.complex64))
                h = add_noise(h, snr_db, rng)
            batch["h"] = torch.from_numpy(h.astype(np.complex64))
            if pilots is not None:
                mask = pilot_mask(h.shape[1], h.shape[3], slot_every=pilots[0], sc_every=pilots[1])
                batch["pilot_mask"] = torch.from_numpy(mask)
                batch["y_pilot"] = batch["h"] * torch.from_numpy(mask)[None, :, None, :]
            for k in labels:
                batch[k] = torch.from_numpy(np.stack([s[k] for s in samples]))
            yield batch
