"""`headstart mil eval|fit|predict`: multiple-instance learning on bags."""

from __future__ import annotations

from pathlib import Path

import typer

from headstart import api
from headstart.cli.common import _split, console, mil_app

BAG_SET = typer.Option(
    ...,
    help="bag set (musk1, elephant, mnist-bags, ...), a classic CSV, a Parquet of instances, "
    "a bag store (headstart slides embed), or a CLAM/TRIDENT folder of <slide>.h5 files",
)
ENCODER = typer.Option("mlp", help="instance encoder: mlp (vectors) or lenet (28×28 images)")
LABELS = typer.Option(
    None, help="slide labels (slide_id,label[,patient]) of a bag store or feature folder"
)


@mil_app.command("fit")
def mil_fit(
    dataset: str = BAG_SET,
    model: str = typer.Option("attention", help="aggregator: mean,max,attention,gated,acmil,mamba"),
    regularizers: str = typer.Option("", help="plug-ins: aem,mhim,scmil (optionally name:value)"),
    epochs: int = typer.Option(100, min=1),
    encoder: str = ENCODER,
    labels: Path | None = LABELS,
    out: Path = typer.Option(..., "--out", "-o", help="folder for the fitted model"),
) -> None:
    """Fit a MIL model on all bags of a set; saves JSON + safetensors (never pickle)."""
    folder = api.mil_fit(
        dataset, out, model, _split(regularizers), labels, epochs=epochs, encoder=encoder
    )
    console.print(f"saved {model} to {folder}")


@mil_app.command("predict")
def mil_predict(
    model: Path,
    dataset: str = typer.Option(..., help="bag set or classic CSV to predict"),
    out: Path | None = typer.Option(None, "--out", "-o", help="CSV of bag predictions"),
    labels: Path | None = LABELS,
) -> None:
    """Predict every bag of a set with a saved MIL model."""
    rows = api.mil_predict(model, dataset, out, labels)
    console.print(f"{len(rows)} bags predicted" + (f" → {out}" if out else ""))
