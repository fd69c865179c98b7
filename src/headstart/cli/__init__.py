"""The `headstart` command line. Each command parses, calls one `headstart.api` verb, prints.

Commands live beside their siblings: data quality in `cli/quality.py`, adaptation in
`cli/adapt.py`, multiple-instance learning in `cli/mil.py`, store inspection and import in
`cli/store.py`; the apps and parsing helpers in `cli/common.py`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from headstart import api
from headstart.cli.common import (
    _options,
    _print_grid,
    _split,
    _table,
    app,
    console,
)
from headstart.exceptions import HeadstartError


@app.command()
def datasets() -> None:
    """List registered datasets."""
    console.print(_table("datasets", api.list_datasets()))


@app.command()
def encoders(
    card: str | None = typer.Option(None, "--card", help="print one encoder's full card as JSON"),
) -> None:
    """List registered encoders with their cards (dimension, input, weights)."""
    if card:
        print(json.dumps(api.encoder_card(card), indent=1))
        return
    table = Table(title="encoders")
    for column in ("name", "dim", "input", "weights", "description"):
        table.add_column(column, style="bold" if column == "name" else None)
    for row in api.encoder_cards():
        info = row["card"] or {}
        weights = info.get("weights", "") + (
            f" (sha256 {info['weights_sha256'][:12]})" if info.get("weights_sha256") else ""
        )
        table.add_row(
            row["name"],
            str(info.get("output_dim", "")),
            f"{info['input_size']} px" if info.get("input_size") else "",
            weights or row["problem"],
            row["summary"],
        )
    console.print(table)


@app.command()
def embed(
    dataset: str = typer.Argument(..., help="registered name, image folder, or CSV manifest"),
    encoder: str = typer.Option("efficientnet-lite0", "--encoder", "-e"),
    out: Path | None = typer.Option(None, "--out", "-o", help="store folder (default: cache)"),
    limit: int | None = typer.Option(None, min=1, help="class-balanced items per split to keep"),
    seed: int = typer.Option(0, help="seed for --limit"),
    path: Path | None = typer.Option(None, help="where the dataset's files are"),
    dataset_option: list[str] = typer.Option([], "--dataset-option", help="key=value"),
    encoder_option: list[str] = typer.Option([], "--encoder-option", help="key=value"),
    device: str = typer.Option("cpu"),
    batch_size: int | None = typer.Option(None, min=1),
    shard_size: int = typer.Option(1024, min=1),
    workers: int | None = typer.Option(None, min=1, help="decoding threads"),
    threads: int | None = typer.Option(None, min=1, help="torch intra-op threads"),
    decode: str = typer.Option("threads", help="decode in 'threads' or 'processes'"),
    overwrite: bool = typer.Option(
        False, help="replace a store of another encoder/dataset (once the new one is complete)"
    ),
    views: int = typer.Option(
        1,
        min=1,
        help="views per non-test image, the plain one included (random resized crop + flip)",
    ),
    views_seed: int = typer.Option(0, help="seed of the augmented views"),
    engine: str = typer.Option("local", help="local, or ray (Ray Data; the [ray] extra)"),
    ray_address: str | None = typer.Option(None, help="existing Ray cluster (default: local)"),
    concurrency: int = typer.Option(1, min=1, help="ray: encoder actors"),
    num_gpus: float | None = typer.Option(
        None, min=0, help="ray: GPUs per actor (default: 1 if any)"
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
) -> None:
    """Embed a dataset into a provenance-keyed store (a second run is a cache hit)."""
    dataset_options = _options(dataset_option)
    if path is not None:
        dataset_options["path"] = path
    try:
        result = api.embed(
            dataset,
            encoder,
            out,
            limit=limit,
            seed=seed,
            dataset_options=dataset_options,
            encoder_options={"device": device, **_options(encoder_option)},
            batch_size=batch_size,
            shard_size=shard_size,
            num_workers=workers,
            num_threads=threads,
            decode=decode,
            overwrite=overwrite,
            progress=not quiet,
            views=views,
            views_seed=views_seed,
            engine=engine,
            engine_options=_engine_options(engine, ray_address, concurrency, num_gpus),
        )
    except KeyboardInterrupt:
        message = f"interrupted: the shards finished so far are kept for {out}"
        console.print(f"{message}; rerun the same command to resume from them", markup=False)
        raise typer.Exit(130) from None
    console.print(result.summary(), markup=False, highlight=False, soft_wrap=True)


def _engine_options(
    engine: str, address: str | None, concurrency: int, num_gpus: float | None = None
) -> dict:
    """The --ray-* options, for the ray engine only (the local one has its own flags)."""
    if engine != "ray":
        return {}
    return {"address": address, "concurrency": concurrency, "num_gpus": num_gpus}


@app.command()
def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", "-o"),
    limit: int = typer.Option(500, min=1, help="items per split"),
    seeds: int = typer.Option(3, min=1),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
    as_json: bool = typer.Option(False, "--json", help="print the best heads and summary as JSON"),
) -> None:
    """The main job: embed a real dataset, run the k-shot grid for every head, write a report."""
    outcome = api.demo(out, limit=limit, seeds=seeds, progress=not quiet)
    notes = Console(stderr=True) if as_json else console  # stdout holds only the JSON
    notes.print(outcome["embed"], markup=False, highlight=False, soft_wrap=True)
    _print_grid(outcome["results"], "accuracy", f"k-shot accuracy, {seeds} seeds", as_json)
    notes.print(f"report: {outcome['report'].resolve()}")


@app.command()
def fit(
    store: Path,
    head: str = typer.Option("gda", "--head", help="registered head name"),
    out: Path = typer.Option(..., "--out", "-o", help="folder for the fitted model"),
    param: list[str] = typer.Option([], "--param", help="head parameter key=value"),
    transforms: str = typer.Option("", help="comma-separated: l2-normalize,center,pca-whiten"),
    reject: str | None = typer.Option(
        None, help="open-set score (mls, knn, ...): predict answers 'unknown' above a threshold"
    ),
    reject_tpr: float = typer.Option(0.95, min=0.5, max=0.999, help="known items kept"),
    extend: Path | None = typer.Option(
        None, help="a saved teen/prototype/gda model: add this store's classes to it"
    ),
    overwrite: bool = typer.Option(
        False, help="replace the model saved in --out (once the new one is written)"
    ),
    all_rows: bool = typer.Option(
        False, help="train on every labelled row, test rows too (none left to check on)"
    ),
) -> None:
    """Fit a head on a store's training rows (without a split: the 70% eval trains on);
    saves JSON + safetensors (never pickle). With --extend MODEL, add the store's classes to
    that model instead, without a refit."""
    if extend is not None:
        folder = api.extend(extend, store, out, overwrite, all_rows)
        console.print(f"added the classes of {store} to {extend}; saved to {folder}")
        return
    options, steps = _options(param), _split(transforms)
    folder = api.fit(store, head, out, options, steps, reject, reject_tpr, overwrite, all_rows)
    console.print(f"saved {head} to {folder}")


@app.command()
def predict(
    model: Path,
    inputs: str = typer.Argument(..., help="a store folder, an image folder or a CSV manifest"),
    out: Path = typer.Option(Path("predictions.csv"), "--out", "-o"),
    top_k: int = typer.Option(3, "--top-k", min=1),
    allow_other_encoder: bool = typer.Option(
        False, help="predict on features from another encoder than the model's"
    ),
    reject: str | None = typer.Option(
        None, help="open-set score: answer 'unknown' above a threshold set on training data"
    ),
    reject_tpr: float = typer.Option(0.95, min=0.5, max=0.999, help="known items kept"),
    engine: str = typer.Option("local", help="local, or ray (Ray Data; the [ray] extra)"),
    ray_address: str | None = typer.Option(None, help="existing Ray cluster (default: local)"),
    concurrency: int = typer.Option(1, min=1, help="ray: model actors"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Write top-k classes and probabilities per item to a CSV."""
    rows = api.predict(
        model,
        inputs,
        out,
        top_k=top_k,
        progress=not quiet,
        allow_other_encoder=allow_other_encoder,
        reject=reject,
        reject_tpr=reject_tpr,
        engine=engine,
        engine_options=_engine_options(engine, ray_address, concurrency),
    )
    console.print(rows.summary(out), markup=False, highlight=False, soft_wrap=True)


@app.command()
def explain(
    model: Path,
    images: list[Path] = typer.Argument(..., help="image files or folders of images"),
    out: Path = typer.Option(..., "--out", "-o", help="folder for the heat maps"),
    methods: str = typer.Option(
        "gradient,input-x-gradient,integrated-gradients,smoothgrad", help="attribution methods"
    ),
    seed: int = typer.Option(0, help="SmoothGrad's noise"),
) -> None:
    """Heat maps of what a fitted model looks at in each image (input attributions)."""
    folder = api.explain(model, images, out, _split(methods), seed)
    console.print(f"heat maps and {folder / 'index.html'} written to {folder}", markup=False)


@app.command()
def prompts(
    store: Path,
    templates: str = typer.Option(..., help="candidate templates with {}: a file or 'a|b|c'"),
    delta: float = typer.Option(0.05, help="the bound holds with probability 1 − delta"),
) -> None:
    """Rank zero-shot prompt templates by a PAC-Bayes bound (uniform prior) on training data."""
    candidates = api.class_texts(templates=templates).templates or ()
    table = Table(title=f"PAC-Bayes bound on the test error (δ = {delta}); best first")
    for column in ("template", "train error", "KL", "bound", "test error"):
        table.add_column(column)
    for row in api.rank_templates(store, list(candidates), delta):
        table.add_row(
            row["template"],
            f"{row['train_error']:.3f}",
            f"{row['kl']:.2f}",
            f"{row['bound']:.3f}",
            f"{row['test_error']:.3f}",
        )
    console.print(table)


@app.command()
def report(
    results: Path = typer.Argument(..., help="a results folder (headstart eval ... -o FOLDER)"),
    out: Path = typer.Option(Path("report.html"), "--out", "-o"),
    learning_curve: Path | None = typer.Option(
        None, help="results of headstart eval learning-curve"
    ),
    confusion: str | None = typer.Option(None, help="head,shots for the confusion matrix"),
    explanations: Path | None = typer.Option(
        None, help="a folder of heat maps written by headstart explain"
    ),
    slides: Path | None = typer.Option(
        None, help="a folder of slide heat maps written by headstart slides heatmap"
    ),
) -> None:
    """Write one self-contained HTML report of an evaluation."""
    choice = tuple(_split(confusion)) if confusion else None
    path = api.report(results, out, learning_curve, choice, explanations, slides)
    console.print(f"report: {path.resolve()}")


from headstart.cli import adapt as _adapt_commands  # noqa: E402,F401  (registers them)
from headstart.cli import bench as _bench_commands  # noqa: E402,F401
from headstart.cli import evaluate as _evaluate_commands  # noqa: E402,F401
from headstart.cli import index as _index_commands  # noqa: E402,F401
from headstart.cli import mil as _mil_commands  # noqa: E402,F401
from headstart.cli import quality as _quality_commands  # noqa: E402,F401
from headstart.cli import serve as _serve_commands  # noqa: E402,F401
from headstart.cli import slides as _slides_commands  # noqa: E402,F401
from headstart.cli import store as _store_commands  # noqa: E402,F401


def main() -> None:
    """Entry point that turns headstart errors into one clear line and exit code 2."""
    try:
        app()
    except HeadstartError as error:
        Console(stderr=True).print(f"[bold red]error:[/] {error}", highlight=False)
        sys.exit(2)
