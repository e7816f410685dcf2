"""The ``airan`` command line: one module per command, registered here."""

from __future__ import annotations

import typer

from airan.cli.audit import audit
from airan.cli.bench import app as bench_app
from airan.cli.calibrate import calibrate
from airan.cli.data import app as data_app
from airan.cli.datagen import datagen
from airan.cli.demo import demo
from airan.cli.finetune import finetune
from airan.cli.heal import heal
from airan.cli.intent import app as intent_app
from airan.cli.predict import predict
from airan.cli.pretrain import pretrain
from airan.cli.replay import replay
from airan.cli.scenarios import scenarios
from airan.cli.simulate import simulate
from airan.cli.suite import app as suite_app

app = typer.Typer(help="airan: AI-native 6G RAN platform (network digital twin on TR 38.901 / Sionna).",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
app.command("scenarios")(scenarios)
app.command("simulate")(simulate)
app.command("calibrate")(calibrate)
app.command("demo")(demo)
app.command("datagen")(datagen)
app.add_typer(data_app, name="data")
app.command("pretrain")(pretrain)
app.command("finetune")(finetune)
app.command("predict")(predict)
app.add_typer(bench_app, name="bench")
app.command("replay")(replay)
app.add_typer(intent_app, name="intent")
app.add_typer(suite_app, name="suite")
app.command("heal")(heal)
app.command("audit")(audit)

if __name__ == "__main__":
    app()
