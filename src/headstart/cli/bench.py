"""`headstart bench`: a suite of encoders × datasets × tasks, from a TOML file or names."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from headstart import api
from headstart.cli.common import _split, app, console
from headstart.exceptions import DataError


@app.command()
def bench(
    suite: Path | None = typer.Argument(None, help="a suite TOML file (or give the names below)"),
    out: Path = typer.Option(..., "--out", "-o", help="folder for cells, rows and leaderboard"),
    datasets: str | None = typer.Option(None, help="short form: datasets, comma-separated"),
    encoders: str | None = typer.Option(None, help="short form: encoders, comma-separated"),
    tasks: str | None = typer.Option(None, help="short form: tasks (protocols), comma-separated"),
    seeds: int | None = typer.Option(None, min=1, help="short form: seeds per task"),
    shots: str | None = typer.Option(None, help="short form: shots per class, e.g. 1,4,16"),
    limit: int | None = typer.Option(None, min=1, help="short form: items per split"),
    engine: str = typer.Option("local", help="local, or ray (cells as Ray tasks)"),
    ray_address: str | None = typer.Option(None, help="an existing Ray cluster (--engine ray)"),
    as_json: bool = typer.Option(False, "--json", help="print the leaderboard as JSON"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bars"),
) -> None:
    """Compare encoders across datasets and tasks on the same samples; resumable."""
    if ray_address and engine != "ray":
        raise DataError("--ray-address applies to --engine ray only")
    run = {"engine": engine, "engine_options": {"address": ray_address} if ray_address else None}
    names = {"datasets": datasets, "encoders": encoders, "tasks": tasks}
    short = {k: v for k, v in names.items() if v is not None}
    if suite is not None and (short or seeds or shots or limit):
        given = ", ".join(f"--{k}" for k in short) or "--seeds/--shots/--limit"
        raise DataError(f"give a suite file or the short form, not both (got {suite} and {given})")
    if suite is None:
        missing = [f"--{k}" for k in names if k not in short]
        if missing:
            raise DataError(f"give a suite file, or the short form with {', '.join(missing)}")
        suite_spec = api.suite_from_names(
            _split(datasets or ""),
            _split(encoders or ""),
            _split(tasks or ""),
            seeds,
            api.parse_shots(shots) if shots else None,
            limit,
        )
        result = api.bench(suite_spec, out, progress=not quiet, **run)
    else:
        result = api.bench(suite, out, progress=not quiet, **run)
    if as_json:
        print(json.dumps(result.as_dict(), indent=1, default=str))  # NaN already None
        return
    for board in result.boards:
        console.print(board.sentence(), highlight=False)
    console.print(_board_table(result))
    for cell in result.run.failures:
        console.print(
            f"[red]failed[/] {cell.dataset} · {cell.encoder} · {cell.task}: {cell.reason}",
            highlight=False,
        )
    console.print(f"leaderboard: {result.report.resolve()}")


def _board_table(result: api.BenchResult) -> Table:
    table = Table(title="mean over datasets (average rank)")
    table.add_column("encoder", style="bold")
    for board in result.boards:
        table.add_column(f"{board.task}\n{board.metric}", justify="right")
    for encoder in [e.label for e in result.run.suite.encoders]:
        cells = []
        for board in result.boards:
            row = next((r for r in board.overall if r["encoder"] == encoder), None)
            cells.append("—" if row is None else f"{row['mean']:.3f} ({row['average_rank']:.2f})")
        table.add_row(encoder, *cells)
    return table
