"""`headstart store info|import`: inspecting a store, bringing your own vectors."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from headstart import api
from headstart.cli.common import console, store_app


@store_app.command("info")
def store_info(
    directory: Path,
    verify: bool = typer.Option(False, help="re-hash every shard"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Describe a store: encoder, dataset, rows, splits, failures; with --verify, exit code 1
    when a shard fails its checksum."""
    info = api.store_info(directory, verify=verify)
    if as_json:
        print(json.dumps(info, indent=1))
    else:
        table = Table(title=f"store {directory}", show_header=False)
        for key, value in info.items():
            table.add_row(key, json.dumps(value) if isinstance(value, dict | list) else str(value))
        console.print(table)
    if info.get("problems"):
        Console(stderr=True).print(
            f"{directory} failed verification: {len(info['problems'])} problem(s)", highlight=False
        )
        raise typer.Exit(1)


@store_app.command("import")
def store_import(
    file: Path,
    out: Path = typer.Option(..., "--out", "-o"),
    name: str | None = typer.Option(None),
    overwrite: bool = typer.Option(False),
) -> None:
    """Build a store from your own vectors (.npy, .npz, .parquet)."""
    store = api.import_vectors(file, out, name=name, overwrite=overwrite)
    console.print(f"imported {len(store):,} vectors of dimension {store.dim} into {out}")
