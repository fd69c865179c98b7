"""What every command module of the CLI shares: the typer apps and the small parsing helpers."""

from __future__ import annotations

import difflib
import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from headstart import api

app = typer.Typer(
    help="Turn pretrained representations into recognizers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
store_app = typer.Typer(help="Inspect and build embedding stores.", no_args_is_help=True)
app.add_typer(store_app, name="store")
mil_app = typer.Typer(help="Multiple-instance learning on bags.", no_args_is_help=True)
app.add_typer(mil_app, name="mil")
console = Console()


def _options(pairs: list[str]) -> dict[str, Any]:
    """`key=value` pairs → dict, values parsed as JSON when they parse (numbers, booleans)."""
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"expected key=value, got {pair!r}")
        try:
            result[key.replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            result[key.replace("-", "_")] = value
    return result


def _table(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title)
    table.add_column("name", style="bold")
    table.add_column("description")
    for row in rows:
        table.add_row(*row)
    return table


def _choice(choices: tuple[str, ...]) -> Any:
    """A typer callback that accepts one of `choices` and suggests the closest otherwise."""

    def check(value: str | None) -> str | None:
        if value is not None and value not in choices:
            close = difflib.get_close_matches(value, choices, n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}{hint}")
        return value

    return check


def _print_grid(results: Any, metric: str, title: str, as_json: bool = False) -> None:
    """The results grid per store (full intervals when the terminal is wide enough), or
    with --json the best heads and the summary for scripts."""
    if as_json:
        summary = {"best": results.best(metric), "summary": results.summary()}
        print(json.dumps({"metric": metric, "interval": results.interval, **summary}, indent=1))
        return
    for table in api.grid_tables(results, metric, title, console.width):
        console.print(table)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]
