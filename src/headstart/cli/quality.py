"""`headstart audit`: the data-quality command."""

from __future__ import annotations

from pathlib import Path

import typer

from headstart import api
from headstart.cli.common import _choice, _split, app, console


@app.command()
def audit(
    store: Path,
    out: Path = typer.Option(..., "--out", "-o", help="folder for the tables and the page"),
    head: str = typer.Option("gda", help="head whose out-of-fold probabilities are used"),
    detectors: str = typer.Option(
        "confident-learning,small-loss,knn", help=f"any of {','.join(api.DETECTORS.names())}"
    ),
    primary: str = typer.Option("confident-learning", help="detector whose flags --fix uses"),
    folds: int = typer.Option(5, min=2, max=20),
    threshold: float = typer.Option(0.97, min=0.5, max=1.0, help="near-duplicate cosine"),
    attributes: Path | None = typer.Option(None, help="CSV of id + attribute columns"),
    image_stats: bool = typer.Option(False, help="feature bias of brightness and contrast"),
    fix: str | None = typer.Option(None, help="relabel or drop", callback=_choice(api.FIXES)),
    fix_out: Path | None = typer.Option(None, help="folder of the fixed store"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Find label errors, duplicates (and train/test leaks), outliers and, with --attributes,
    feature bias in a store; --fix writes a cleaned copy, never changing the store."""
    result = api.audit(
        store,
        out,
        head=head,
        detectors=_split(detectors),
        primary=primary,
        folds=folds,
        threshold=threshold,
        attributes=attributes,
        image_stats=image_stats,
        fix=fix,
        fix_out=fix_out,
        progress=not quiet,
    )
    s = result.summary
    flagged = ", ".join(f"{n} {c}" for n, c in s["flagged"].items()) or "none (no labels)"
    console.print(
        f"flagged: {flagged}; {s['near_duplicate_groups']} duplicate groups "
        f"({s['train_test_leaks']} across train/test); {s['outliers']} outliers",
        markup=False,
    )
    for note in s["notes"]:
        console.print(f"note: {note}", markup=False)
    if result.fixed:
        console.print(f"fixed store ({fix}): {result.fixed}", markup=False)
    console.print(f"wrote {result.out / 'audit.html'}", markup=False)
