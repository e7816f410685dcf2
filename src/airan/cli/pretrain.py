"""``airan pretrain``: self-supervised pretraining of the CSI foundation model on a generated dataset."""

from __future__ import annotations

from pathlib import Path

import typer

from airan.cli.output import Format, console, emit_json, fail, progress_bar
from airan.core.errors import AiranError


def pretrain(
    data: Path = typer.Option(..., "--data", help="dataset directory from `airan datagen`"),
    size: str = typer.Option("tiny", "--size", help="tiny | small | base"),
    arch: str = typer.Option("airan", "--arch", help="airan (our backbone) | wifo (WiFo-style MAE baseline)"),
    prior: bool = typer.Option(False, "--prior/--no-prior",
                               help="prior-conditioned backbone: refine the classical estimate (interpolation, "
                                    "PAD) instead of reconstructing from a mask token (arch airan only)"),
    denoise: bool = typer.Option(True, "--denoise/--no-denoise",
                                 help="with --prior: the prior first denoises the observed REs along slots, antennas "
                                      "and subcarriers with the sample's own covariance (fm.prior)"),
    loss: str = typer.Option("nmse", "--loss",
                             help="nmse (the batch's linear NMSE) | nmse_db (mean per-sample NMSE in dB, so a "
                                  "masking or SNR with a small error still pulls its weight)"),
    prior_interp: str = typer.Option("linear", "--prior-interp",
                                     help="with --prior: linear | adaptive (Wiener with the sample's own delay "
                                          "profile where it predicts held-out pilots better; fm.wiener)"),
    out: Path = typer.Option(..., "--out", help="checkpoint directory"),
    steps: int = typer.Option(200, "--steps", min=1),
    batch_size: int = typer.Option(32, "--batch-size", min=1),
    lr: float = typer.Option(1e-3, "--lr"),
    grad_accum: int = typer.Option(1, "--grad-accum", min=1),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda:0"),
    seed: int = typer.Option(0, "--seed", min=0),
    resume: bool = typer.Option(False, "--resume", help="continue from the checkpoint in --out"),
    prep_workers: int = typer.Option(0, "--prep-workers", min=0,
                                     help="threads that prepare batches ahead (masks, noise, classical prior); use "
                                          "them on a GPU, where the model waits for the CPU otherwise"),
    cache_shards: int = typer.Option(8, "--cache-shards", min=1,
                                     help="dataset shards kept in memory (as many as the dataset has: read once)"),
    export: Path | None = typer.Option(None, "--export",
                                       help="also write a weights-only float16 copy here (no optimiser state; "
                                            "the form to ship)"),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """Pretrain the masked-autoencoder backbone (random, temporal and frequency masking)."""
    from airan.fm.pretrain import PretrainConfig
    from airan.fm.pretrain import pretrain as run

    try:
        cfg = PretrainConfig(size=size, steps=steps, batch_size=batch_size, lr=lr, grad_accum=grad_accum,
                             device=device, seed=seed, arch=arch, prior=prior,
                             prior_denoise=denoise, loss=loss, prior_interp=prior_interp,
                             prep_workers=prep_workers)
        progress = progress_bar()
        with progress:
            task = progress.add_task("pretraining", total=steps)

            def on_step(step: int, loss: float) -> None:
                progress.update(task, completed=step + 1, description=f"pretraining (NMSE {loss:.3f})")

            summary = run(data, out, cfg, resume=resume, on_step=on_step, cache_shards=cache_shards)
        if export is not None:
            from airan.fm.checkpoint import export_weights

            summary["export"] = {"path": str(export), "bytes": export_weights(out, export, "float16")["bytes"]}
    except AiranError as e:
        fail(str(e))
    summary.pop("history")
    if fmt is Format.json:
        emit_json(summary)
    else:
        unit = " [dB]" if loss == "nmse_db" else ""
        console.print(f"{summary['params']:,} parameters; masked NMSE{unit} {summary['loss_first']:.3f} -> "
                      f"{summary['loss_last']:.3f} over steps {summary['start_step']}..{summary['steps']}; "
                      f"{summary['samples_per_s']:.0f} samples/s; checkpoint {summary['checkpoint']}")
