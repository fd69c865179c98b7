"""`headstart index` and `headstart search`: a FAISS index over a store, queried by
images, texts or vectors."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import typer

from headstart import api
from headstart.cli.common import _choice, app, console

KINDS = ("auto", "flat", "ivf", "hnsw")


@app.command()
def index(
    store: Path,
    out: Path = typer.Option(..., "--out", "-o", help="new folder for the index"),
    kind: str = typer.Option(
        "auto", callback=_choice(KINDS), help="auto: exact up to 50,000 vectors, else ivf"
    ),
    recall: float = typer.Option(0.95, help="recall@10 the search depth is tuned to reach"),
) -> None:
    """Index a store's vectors for cosine search (FAISS; the [index] extra)."""
    built = api.build_index(store, out, kind, recall)
    plan = built.meta["plan"]
    depth = f", depth {plan['depth']}" if plan.get("depth") is not None else ""
    console.print(
        f"indexed {built.meta['n']:,} vectors ({plan['kind']}{depth}, measured recall@10 "
        f"{plan['measured_recall']:.3f}) in {plan['build_seconds']:.1f} s to {out}",
        markup=False,
    )


@app.command()
def search(
    index: Path,
    queries: list[str] = typer.Argument(None, help="image files or texts, per the index"),
    k: int = typer.Option(10, "-k", min=1, help="neighbours per query"),
    vectors: Path | None = typer.Option(
        None, help=".npy/.npz/.parquet of query vectors, or a store of the same encoder"
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="CSV of neighbours"),
) -> None:
    """Nearest items of an index to each query: CSV of query, rank, id, label, score."""
    rows = api.search_index(index, queries or [], k, vectors)
    fields = ["query", "rank", "id", "label", "score"]
    if out is None:
        csv.DictWriter(sys.stdout, fields).writeheader()
        csv.DictWriter(sys.stdout, fields).writerows(rows)
        return
    with open(out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fields)
        writer.writeheader()
        writer.writerows(rows)
    console.print(f"wrote {len(rows):,} neighbours to {out}", markup=False)
