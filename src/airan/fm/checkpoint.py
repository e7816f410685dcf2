"""Checkpoints: ``ckpt.pt`` (model, optimiser, scheduler, step, RNG) + ``meta.json`` (model config, architecture,
training config, data, code version, step, loss history), both written atomically so an interrupted save never
leaves a half file. ``meta["arch"]`` (``airan`` or ``wifo``; missing in older checkpoints = ``airan``) picks the
class ``load`` rebuilds. ``export_weights`` writes the shippable form: the model's weights alone (float16 by
default; ``load`` casts them back), which ``load`` reads like any checkpoint and ``pretrain --resume`` refuses."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import torch

from airan import __version__
from airan.core.errors import StoreError
from airan.fm.model import CsiMAE, FMConfig
from airan.fm.wifo import WifoMAE

ARCH_CLASSES: dict[str, type[CsiMAE] | type[WifoMAE]] = {"airan": CsiMAE, "wifo": WifoMAE}


def arch_of(model: torch.nn.Module) -> str:
    """The architecture name recorded for ``model`` (``wifo`` for the WiFo replica, else ``airan``)."""
    return "wifo" if isinstance(model, WifoMAE) else "airan"


def save(out: Path, model: CsiMAE | WifoMAE, state: dict[str, Any], meta: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f"ckpt.{os.getpid()}.tmp"
    torch.save({"model": model.state_dict(), **state}, tmp)
    os.replace(tmp, out / "ckpt.pt")
    meta = {**meta, "arch": arch_of(model), "model_config": model.cfg.to_dict(), "code_version": __version__,
            "saved": time.time(),
            "params": sum(p.numel() for p in model.parameters()), "bytes": (out / "ckpt.pt").stat().st_size}
    tmp_meta = out / f"meta.{os.getpid()}.tmp"
    tmp_meta.write_text(json.dumps(meta, indent=1))
    os.replace(tmp_meta, out / "meta.json")


def load(out: str | Path, device: str = "cpu") -> tuple[CsiMAE | WifoMAE, dict[str, Any], dict[str, Any]]:
    """(model, saved state, meta) from a checkpoint directory."""
    out = Path(out)
    if not (out / "ckpt.pt").exists() or not (out / "meta.json").exists():
        raise StoreError(f"no checkpoint (ckpt.pt + meta.json) in {str(out)!r}")
    meta = json.loads((out / "meta.json").read_text())
    arch = meta.get("arch", "airan")
    if arch not in ARCH_CLASSES:
        raise StoreError(f"checkpoint in {str(out)!r} has unknown arch {arch!r}; "
                         f"expected one of {sorted(ARCH_CLASSES)}")
    model = ARCH_CLASSES[arch](FMConfig(**meta["model_config"])).to(device)
    state = torch.load(out / "ckpt.pt", map_location=device, weights_only=False)
    model.load_state_dict(state.pop("model"))
    return model, state, meta


EXPORT_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def export_weights(src: str | Path, dst: str | Path, dtype: str = "float16") -> dict[str, Any]:
    """Write a weights-only copy of the checkpoint in ``src`` to ``dst`` (no optimiser, step or RNG state, so it
    cannot be resumed; floating-point tensors stored as ``dtype``, which ``load`` casts back to float32): the
    form to ship. A ``small`` model (5.4 M parameters) is 65 MB with its AdamW state and 11 MB exported as
    float16. Returns the new meta (``exported_from``, ``weights_dtype``, ``bytes``)."""
    if dtype not in EXPORT_DTYPES:
        raise StoreError(f"unknown export dtype {dtype!r}; choose one of {sorted(EXPORT_DTYPES)}")
    model, _, meta = load(src, "cpu")
    dst = Path(dst)
    if dst.resolve() == Path(src).resolve():
        raise StoreError(f"export destination {str(dst)!r} is the source checkpoint; pick another directory")
    dst.mkdir(parents=True, exist_ok=True)
    state = {k: v.to(EXPORT_DTYPES[dtype]) if v.is_floating_point() else v for k, v in model.state_dict().items()}
    tmp = dst / f"ckpt.{os.getpid()}.tmp"
    torch.save({"model": state}, tmp)
    os.replace(tmp, dst / "ckpt.pt")
    meta = {**meta, "exported_from": str(src), "weights_dtype": dtype, "saved": time.time(),
            "bytes": (dst / "ckpt.pt").stat().st_size}
    tmp_meta = dst / f"meta.{os.getpid()}.tmp"
    tmp_meta.write_text(json.dumps(meta, indent=1))
    os.replace(tmp_meta, dst / "meta.json")
    return meta
