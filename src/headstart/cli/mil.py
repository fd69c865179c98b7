"""`headstart mil eval|fit|predict`: multiple-instance learning on bags."""

from __future__ import annotations

from pathlib import Path

import typer

from headstart import api
from headstart.cli.common import _choice, _print_grid, _split, console, mil_app

BAG_SET = typer.Option(
    ...,
    help="bag set (musk1, elephant, mnist-bags, ...), a classic CSV, a Parquet of instances, "
    "or a CLAM/TRIDENT folder of <slide>.h5 files with labels.csv (slide_id,label[,group])",
)
ENCODER = typer.Option("mlp", help="instance encoder: mlp (vectors) or lenet (28×28 images)")


@mil_app.command("eval")
def mil_eval(
    dataset: str = BAG_SET,
    models: str = typer.Option("attention,gated", help="aggregators, e.g. mean,attention,gated"),
    regularizers: str = typer.Option("none", help="none and/or plug-ins: none,aem,aem:0.05"),
    folds: int = typer.Option(10, min=2),
    repeats: int = typer.Option(5, min=1),
    epochs: int = typer.Option(100, min=1),
    encoder: str = ENCODER,
    out: Path | None = typer.Option(None, "--out", "-o"),
    metric: str = typer.Option(
        "accuracy", help="metric shown in the table", callback=_choice(api.MIL_METRICS)
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
    as_json: bool = typer.Option(False, "--json", help="print the best heads and summary as JSON"),
) -> None:
    """Repeated stratified k-fold CV of MIL models (same folds for all): mean ± 95% CI."""
    results = api.mil_evaluate(
        dataset,
        _split(models),
        _split(regularizers),
        folds,
        repeats,
        out,
        epochs=epochs,
        encoder=encoder,
        progress=not quiet,
    )
    _print_grid(results, metric, f"{dataset}: {folds}-fold CV × {repeats}", as_json)


@mil_app.command("fit")
def mil_fit(
    dataset: str = BAG_SET,
    model: str = typer.Option("attention", help="aggregator: mean,max,attention,gated,acmil,mamba"),
    regularizers: str = typer.Option("", help="plug-ins: aem,mhim,scmil (optionally name:value)"),
    epochs: int = typer.Option(100, min=1),
    encoder: str = ENCODER,
    out: Path = typer.Option(..., "--out", "-o", help="folder for the fitted model"),
) -> None:
    """Fit a MIL model on all bags of a set; saves JSON + safetensors (never pickle)."""
    folder = api.mil_fit(dataset, out, model, _split(regularizers), epochs=epochs, encoder=encoder)
    console.print(f"saved {model} to {folder}")


@mil_app.command("predict")
def mil_predict(
    model: Path,
    dataset: str = typer.Option(..., help="bag set or classic CSV to predict"),
    out: Path | None = typer.Option(None, "--out", "-o", help="CSV of bag predictions"),
) -> None:
    """Predict every bag of a set with a saved MIL model."""
    rows = api.mil_predict(model, dataset, out)
    console.print(f"{len(rows)} bags predicted" + (f" → {out}" if out else ""))
