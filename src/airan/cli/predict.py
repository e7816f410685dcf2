"""``airan predict``: run a pretrained (zero-shot) or fine-tuned checkpoint on a user's own CSI array."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import typer

from airan.cli.output import Format, console, emit_json, fail
from airan.core.errors import AiranError, ShapeError


def _read_input(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """(h complex [T, A, S] or [B, T, A, S], known [T, S] bool or None) from an .npy or .npz file."""
    if not path.is_file():
        raise ShapeError(f"--input {str(path)!r} is not a file")
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise ShapeError(f"--input {str(path)!r} is not a readable .npy/.npz array file ({e})") from e
    if isinstance(data, np.ndarray):
        return data, None
    with data:
        if "h" not in data.files:
            raise ShapeError(f"--input {str(path)!r} has keys {sorted(data.files)}; expected 'h' (and optional "
                             f"'known')")
        return data["h"], (data["known"] if "known" in data.files else None)


def _check_h(h: np.ndarray) -> np.ndarray:
    if not np.iscomplexobj(h):
        raise ShapeError(f"the channel must be a complex array, got dtype {h.dtype}")
    if h.ndim not in (3, 4) or 0 in h.shape:
        raise ShapeError(f"the channel must be complex [T, A, S] or [B, T, A, S], got shape {h.shape}")
    if not np.isfinite(h).all():
        raise ShapeError("the channel contains NaN or infinite values")
    return h.astype(np.complex64)[None] if h.ndim == 3 else h.astype(np.complex64)


def _check_known(known: np.ndarray, t: int, s: int) -> np.ndarray:
    if known.dtype != np.bool_:
        if not np.issubdtype(known.dtype, np.integer) or not np.isin(known, (0, 1)).all():
            raise ShapeError(f"known must be a bool (or 0/1) array, got dtype {known.dtype}")
        known = known.astype(bool)
    if known.shape != (t, s):
        raise ShapeError(f"known must have shape [T, S] = {(t, s)} for this channel, got {known.shape}")
    if not known.any():
        raise ShapeError("known marks no RE: nothing to predict from")
    return known


def predict(
    checkpoint: Path = typer.Option(..., "--checkpoint", help="pretrained or fine-tuned checkpoint directory"),
    input_file: Path = typer.Option(..., "--input", help=".npy complex [T,A,S] or [B,T,A,S], or .npz with 'h' "
                                                         "(and optional 'known' [T,S] bool)"),
    task: str | None = typer.Option(None, "--task", help="time | freq | estimation (default: the fine-tuned one)"),
    known_file: Path | None = typer.Option(None, "--known", help=".npy bool [T,S]: REs observed (default: the "
                                                                 "task's mask; then the input is the full channel)"),
    out: Path = typer.Option(..., "--out", help="where to write the prediction (.npy, same shape as the input)"),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda:0"),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """Predict the hidden REs (time, freq) or the whole channel from pilots (estimation); report NMSE over the
    hidden REs when the input holds the full channel there."""
    import torch

    from airan.fm.bench import known_mask
    from airan.fm.finetune import TASKS, load_predictor

    if task is not None and task not in TASKS:
        fail(f"--task {task!r}: choose one of {', '.join(TASKS)}")
    if out.suffix != ".npy":
        fail(f"--out {str(out)!r} must end in .npy")
    try:
        raw, known = _read_input(input_file)
        h = _check_h(raw)
        if known_file is not None:
            if known is not None:
                raise ShapeError(f"--known given but {str(input_file)!r} already holds 'known'; pass only one")
            known = np.load(known_file, allow_pickle=False) if known_file.is_file() else None
            if known is None:
                raise ShapeError(f"--known {str(known_file)!r} is not a file")
        model = load_predictor(checkpoint, task, device)
        spec = model.backbone.cfg.patch
        default_known = known is None
        kn = (known_mask(model.task, h.shape[1], h.shape[3], spec.pt, spec.ps) if default_known
              else torch.from_numpy(_check_known(known, h.shape[1], h.shape[3])))
        y = torch.from_numpy(h)
        pred = model.predict(y, kn)
    except (AiranError, ValueError) as e:
        fail(str(e))
    hidden = torch.ones_like(kn) if model.task == "estimation" else ~kn
    w = hidden[None, :, None, :].expand_as(y)
    full = bool(hidden.any()) and bool((y[w] != 0).all())  # the input holds the true channel on hidden REs
    nmse_db = None
    if full:
        err = float(((pred - y).abs() ** 2)[w].sum() / (y.abs() ** 2)[w].sum().clamp_min(1e-30))
        nmse_db = 10 * math.log10(max(err, 1e-12))
    result = pred.numpy()
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, result[0] if raw.ndim == 3 else result)
    summary = {"checkpoint": str(checkpoint), "task": model.task, "mode": model.mode, "input": str(input_file),
               "shape": list(raw.shape), "known_res": int(kn.sum()), "hidden_res": int(hidden.sum()),
               "known_from": "task mask" if default_known else "input", "nmse_db_hidden": nmse_db, "out": str(out)}
    if fmt is Format.json:
        emit_json(summary)
    else:
        tail = f"; NMSE over hidden REs {nmse_db:.2f} dB" if nmse_db is not None else ""
        console.print(f"{model.task} ({model.mode}) on {tuple(raw.shape)}: {summary['hidden_res']} of "
                      f"{kn.numel()} (slot, subcarrier) REs predicted{tail}; wrote {out}")
