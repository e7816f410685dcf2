"""``airan bench fm``: the foundation model and the baselines on the same data, masks and noise."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer
from rich.table import Table

from airan.cli.output import Format, console, emit_json, err_console, fail
from airan.core.errors import AiranError

app = typer.Typer(help="Benchmarks.", no_args_is_help=True)


@app.command("fm")
def fm(
    checkpoint: Path | None = typer.Option(None, "--checkpoint", help="checkpoint dir (omit: baselines only)"),
    data: Path | None = typer.Option(None, "--data", help="an existing dataset directory"),
    family: str | None = typer.Option(None, "--family", help="or a family name / JSON file to generate now"),
    samples: int = typer.Option(64, "--samples", min=1, help="samples to generate with --family"),
    task: str = typer.Option("time", "--task", help="time | freq | estimation"),
    shots: str = typer.Option("zero", "--shots", help="zero (fine-tuned shots are not implemented yet)"),
    snr_db: float = typer.Option(20.0, "--snr-db"),
    seed: int = typer.Option(0, "--seed", min=0),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """NMSE (clean and noisy target), parameters, GFLOPs and CPU latency per model and config."""
    from airan.data.datagen import generate_dataset
    from airan.data.families import load_family
    from airan.fm import checkpoint as ckpt
    from airan.fm.bench import run_bench

    if shots != "zero":
        fail(f"--shots {shots!r} is not implemented yet (fine-tuning lands with the task heads); use zero")
    if task not in ("time", "freq", "estimation"):
        fail(f"--task {task!r}: choose time, freq or estimation")
    if (data is None) == (family is None):
        fail("give exactly one of --data DIR or --family NAME|FILE")
    try:
        model = ckpt.load(checkpoint)[0] if checkpoint is not None else None
        split = "test"
        if family is not None:
            data = Path(tempfile.mkdtemp(prefix="airan-bench-"))
            with err_console.status(f"generating {samples} samples of {family} ..."):
                generate_dataset(load_family(family), samples, data, seed=seed + 1000, shard_size=64)
            split = "all"
        rows = run_bench(data, task, model=model, snr_db=snr_db, split=split, seed=seed)
    except AiranError as e:
        fail(str(e))
    if fmt is Format.json:
        emit_json({"rows": rows})
        return
    t = Table(title=f"task {task}, SNR {snr_db:g} dB")
    for col in ("model", "config", "NMSE clean [dB]", "NMSE noisy [dB]", "params", "GFLOPs", "ms p50"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["model"], r["config"], f"{r['nmse_db_clean']:.2f}", f"{r['nmse_db_noisy']:.2f}",
                  f"{r['params']:,}", f"{r['gflops']:.4f}", f"{r['latency_ms_p50']:.2f}")
    console.print(t)
