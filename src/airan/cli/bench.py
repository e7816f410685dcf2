"""``airan bench fm``: the foundation model and the baselines on the same data, masks and noise."""

from __future__ import annotations

import dataclasses
import platform
import sys
import tempfile
from pathlib import Path

import typer
from rich.table import Table

from airan.cli.output import Format, console, emit_json, err_console, fail
from airan.core.errors import AiranError

app = typer.Typer(help="Benchmarks.", no_args_is_help=True)


def _machine() -> str:
    import os

    import torch

    dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{platform.machine()} {os.cpu_count()} CPUs, {dev}, torch {torch.__version__}"


@app.command("fm")
def fm(
    checkpoint: Path | None = typer.Option(None, "--checkpoint", help="our pretrained checkpoint (omit: baselines)"),
    wifo_checkpoint: Path | None = typer.Option(None, "--wifo-checkpoint",
                                                help="a WiFo-style MAE replica checkpoint to compare against"),
    compare: list[str] = typer.Option([], "--compare-checkpoint",
                                      help="NAME=DIR: another pretrained checkpoint to run under NAME (e.g. an "
                                           "ablation); repeatable"),
    data: Path | None = typer.Option(None, "--data", help="an existing dataset directory"),
    family: str | None = typer.Option(None, "--family", help="or a family name / JSON file to generate now"),
    samples: int = typer.Option(64, "--samples", min=1, help="samples to generate with --family"),
    split: str = typer.Option("", "--split", help="test | zero_shot | all (default: test with --data, all with "
                                                  "--family)"),
    task: str = typer.Option("time", "--task", help="time | freq | estimation"),
    shots: str = typer.Option("zero", "--shots", help="zero | 1pct | 10pct | full"),
    finetune_mode: str = typer.Option("lora", "--finetune-mode", help="full | head | lora (with --shots)"),
    finetune_steps: int = typer.Option(300, "--finetune-steps", min=1),
    finetune_batch: int = typer.Option(32, "--finetune-batch", min=1, help="samples per fine-tuning step"),
    finetune_val: float = typer.Option(0.0, "--finetune-val", min=0.0, max=0.9,
                                       help="share of the fine-tuning samples held out to keep the best step (0: "
                                            "keep the last)"),
    prior_interp: str = typer.Option("", "--prior-interp",
                                     help="linear | adaptive: swap the classical prior's subcarrier filling of a "
                                          "prior-conditioned --checkpoint (it has no weights; default: as saved)"),
    learned_steps: int = typer.Option(150, "--learned-steps", min=1, help="training steps of learned baselines"),
    llm4cp_width: str = typer.Option("small", "--llm4cp-width",
                                     help="small (CPU) | paper (GPT-2 6x768) | small,paper (both)"),
    max_samples: int = typer.Option(256, "--max-samples", min=1, help="evaluated samples per config"),
    snr_db: float = typer.Option(20.0, "--snr-db"),
    seed: int = typer.Option(0, "--seed", min=0),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """NMSE (clean and noisy target), SE, parameters, GFLOPs and CPU latency per model and config."""
    from airan.data.datagen import generate_dataset
    from airan.data.families import load_family
    from airan.fm import checkpoint as ckpt
    from airan.fm.bench import SHOTS, TASKS, run_bench

    if shots not in SHOTS:
        fail(f"--shots {shots!r}: choose one of {', '.join(SHOTS)}")
    if task not in TASKS:
        fail(f"--task {task!r}: choose one of {', '.join(TASKS)}")
    if (data is None) == (family is None):
        fail("give exactly one of --data DIR or --family NAME|FILE")
    try:
        model = ckpt.load(checkpoint)[0] if checkpoint is not None else None
        if prior_interp:
            if model is None or not getattr(model.cfg, "prior", False):
                fail(f"--prior-interp {prior_interp!r} needs a prior-conditioned --checkpoint")
            model.cfg = dataclasses.replace(model.cfg, prior_interp=prior_interp)
        extra = {"WiFo-style MAE": ckpt.load(wifo_checkpoint)[0]} if wifo_checkpoint is not None else {}
        for spec in compare:
            name, sep, path = spec.partition("=")
            if not sep or not name.strip() or not path.strip():
                fail(f"--compare-checkpoint {spec!r}: expected NAME=DIR")
            if name.strip() in extra or name.strip() == "airan-fm":
                fail(f"--compare-checkpoint {spec!r}: the name {name.strip()!r} is taken")
            extra[name.strip()] = ckpt.load(path.strip())[0]
        if family is not None:
            data = Path(tempfile.mkdtemp(prefix="airan-bench-"))
            with err_console.status(f"generating {samples} samples of {family} ..."):
                generate_dataset(load_family(family), samples, data, seed=seed + 1000, shard_size=64)
        with err_console.status("benchmarking ...") as status:
            rows = run_bench(data, task, model=model, extra_models=extra, snr_db=snr_db,
                             split=split or ("all" if family is not None else "test"), shots=shots,
                             finetune_mode=finetune_mode, finetune_steps=finetune_steps, max_samples=max_samples,
                             seed=seed, learned_steps=learned_steps, llm4cp_width=llm4cp_width,
                             finetune_batch=finetune_batch, finetune_val=finetune_val,
                             on_progress=lambda m: status.update(f"benchmarking: {m}"))
    except AiranError as e:
        fail(str(e))
    command = "airan " + " ".join(sys.argv[1:]) if sys.argv and sys.argv[0].endswith("airan") else "airan bench fm"
    for r in rows:
        r["machine"], r["command"] = _machine(), command
        r["checkpoint"] = str(checkpoint) if checkpoint is not None else None
    if fmt is Format.json:
        emit_json({"rows": rows})
        return
    t = Table(title=f"task {task}, shots {shots}, SNR {snr_db:g} dB")
    for col in ("model", "config", "NMSE clean [dB]", "NMSE noisy [dB]", "SE", "params", "GFLOPs", "ms p50"):
        t.add_column(col)
    for r in rows:
        se = f"{r['se']:.2f}" if "se" in r else "-"
        t.add_row(r["model"], r["config"], f"{r['nmse_db_clean']:.2f}", f"{r['nmse_db_noisy']:.2f}", se,
                  f"{r['params']:,}", f"{r['gflops']:.4f}", f"{r['latency_ms_p50']:.2f}")
    console.print(t)
