"""``airan datagen``: generate a CSI dataset family (local process pool, or a Ray cluster)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from airan.cli.output import Format, console, emit_json, fail, progress_bar
from airan.core.errors import AiranError


def datagen(
    family: str = typer.Option(..., "--family", help="built-in family name or a family .json file"),
    samples: int = typer.Option(..., "--samples", min=1, help="total samples, split evenly over configs"),
    out: Path = typer.Option(..., "--out", help="dataset directory (resumes if it exists)"),
    workers: int = typer.Option(1, "--workers", min=1, help="local worker processes (or Ray CPUs)"),
    ray_address: str | None = typer.Option(None, "--ray-address", help="'local', 'auto' or ray://host:port"),
    seed: int = typer.Option(0, "--seed", min=0),
    shard_size: int = typer.Option(256, "--shard-size", min=1),
    fmt: Format = typer.Option(Format.table, "--format", help="json or table"),
) -> None:
    """Generate TR 38.901 CSI samples H[time, antenna, subcarrier] with labels into HDF5 shards."""
    from airan.data.datagen import generate_dataset, plan_jobs
    from airan.data.families import load_family

    try:
        fam = load_family(family)
        total = len(plan_jobs(fam, samples, seed, shard_size))
    except AiranError as e:
        fail(str(e))
    progress = progress_bar()
    with progress:
        task = progress.add_task(f"{fam.name}: shards", total=total)
        try:
            summary = generate_dataset(fam, samples, out, seed=seed, workers=workers, ray_address=ray_address,
                                       shard_size=shard_size,
                                       on_shard=lambda meta, n: progress.update(task, advance=1))
        except AiranError as e:
            fail(str(e))
    if fmt is Format.json:
        emit_json(summary)
        return
    print_summary(summary)


def print_summary(summary: dict) -> None:
    t = Table(title=f"{summary['family']}: {summary['samples']} samples, {summary['bytes'] / 2**20:.1f} MiB")
    for col in ("config", "samples", "shape [T, A, S]", "held out"):
        t.add_column(col)
    for c in summary["configs"]:
        t.add_row(c["name"], str(c["samples"]), str(c["shape"]), "yes" if c["held_out"] else "")
    console.print(t)
    if "samples_per_s" in summary:
        console.print(f"{summary['samples_generated']} generated in {summary['seconds']:.1f} s "
                      f"({summary['samples_per_s']:.1f} samples/s); {summary['resumed_shards']} shards resumed")
