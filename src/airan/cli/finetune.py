"""``airan finetune``: adapt a pretrained foundation-model checkpoint to a task (full, head-only or LoRA)."""

from __future__ import annotations

from pathlib import Path

import typer

from airan.cli.output import Format, console, emit_json, fail, progress_bar
from airan.core.errors import AiranError


def finetune(
    checkpoint: Path = typer.Option(..., "--checkpoint", help="pretrained checkpoint directory (airan pretrain)"),
    data: Path = typer.Option(..., "--data", help="dataset directory from `airan datagen`"),
    task: str = typer.Option("time", "--task", help="time | freq | estimation"),
    mode: str = typer.Option("lora", "--mode", help="full | head | lora"),
    shots: str = typer.Option("full", "--shots", help="share of the training split: 1pct | 10pct | full"),
    steps: int = typer.Option(300, "--steps", min=1),
    batch_size: int = typer.Option(32, "--batch-size", min=1),
    lr: float = typer.Option(1e-3, "--lr"),
    snr_db: float = typer.Option(20.0, "--snr-db", help="SNR [dB] of the noisy training inputs"),
    lora_rank: int = typer.Option(8, "--lora-rank", min=1),
    val_fraction: float = typer.Option(0.0, "--val-fraction", help="share of the training samples held out to "
                                                                   "keep the best step (0: off)"),
    augment: bool = typer.Option(True, "--augment/--no-augment", help="random global phase per training sample"),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda:0"),
    seed: int = typer.Option(0, "--seed", min=0),
    out: Path = typer.Option(..., "--out", help="directory for the fine-tuned checkpoint"),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """Fine-tune on the task's masking (noisy inputs, clean targets) and save a checkpoint for `airan predict`."""
    from airan.data.reader import CsiDataset
    from airan.fm.finetune import FinetuneConfig, shots_indices
    from airan.fm.finetune import finetune as run

    if shots == "zero":
        fail("--shots zero trains nothing: use the pretrained checkpoint with `airan predict` directly")
    try:
        cfg = FinetuneConfig(task=task, mode=mode, steps=steps, batch_size=batch_size, lr=lr, snr_db=snr_db,
                             lora_rank=lora_rank, val_fraction=val_fraction, augment=augment, seed=seed,
                             device=device)
        train = CsiDataset(data).split("sample", seed=seed)["train"]
        idx = shots_indices(train, shots, seed)
        progress = progress_bar()
        with progress:
            bar = progress.add_task(f"fine-tuning {task} ({mode})", total=steps)

            def on_step(step: int, loss: float) -> None:
                progress.update(bar, completed=step + 1, description=f"fine-tuning {task} ({mode}, NMSE {loss:.3f})")

            ft = run(checkpoint, data, cfg, train_idx=idx, on_step=on_step)
        ft.meta["shots"] = shots
        ft.save(out)
    except AiranError as e:
        fail(str(e))
    summary = {k: v for k, v in ft.meta.items() if k != "history"} | {"checkpoint": str(out)}
    if fmt is Format.json:
        emit_json(summary)
    else:
        console.print(f"{task} ({mode}, {shots}: {summary['train_samples']} samples): task NMSE "
                      f"{summary['loss_first']:.3f} -> {summary['loss_last']:.3f} in {steps} steps; "
                      f"{summary['trainable_params']:,} of {summary['params']:,} parameters trained; "
                      f"checkpoint {out}")
