"""The verbs of headstart. The CLI, the service and the scale-out engine call only these."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from headstart import workflow
from headstart.api.adapt import (
    AdaptSettings,
    TuneSettings,
    adapt,
    adapt_settings,
    evaluate_adapted,
    transform,
    tune_encoder,
)
from headstart.api.bench import BenchResult, bench
from headstart.api.embedding import cache_root, embed, prepare_dataset
from headstart.api.evaluation import class_texts, evaluate, learning_curve, rank_templates
from headstart.api.explain import explain
from headstart.api.index import build_index
from headstart.api.index import search as search_index
from headstart.api.mil import mil_evaluate, mil_fit, mil_predict
from headstart.api.open_set import evaluate_incremental, evaluate_open_set, extend
from headstart.api.quality import DETECTORS, FIXES, AuditResult, audit
from headstart.api.slides import embed_slides, make_slides, slide_heatmaps
from headstart.bench import suite_from_names
from headstart.datasets import list_datasets, load_dataset
from headstart.encoders import ENCODERS, create_encoder, list_encoders
from headstart.exceptions import DataError, HeadstartError
from headstart.heads import create_head, list_heads, needs_class_texts
from headstart.heads.tags import head_tags
from headstart.output import check_outputs
from headstart.protocol import PROTOCOLS, parse_shots
from headstart.protocol.incremental import INCREMENTAL_HEADS
from headstart.protocol.metrics import CALIBRATED_METRICS
from headstart.protocol.metrics import METRICS as SCORED_METRICS
from headstart.protocol.metrics import OPEN_SET as OPEN_SET_METRICS
from headstart.protocol.mil_cv import MIL_METRICS
from headstart.protocol.open_set import DEFAULT_SCORES
from headstart.protocol.results import FIT_SECONDS
from headstart.protocol.sampling import SHOTS_POLICIES
from headstart.report import write_report
from headstart.report.terminal import grid_tables
from headstart.scale import ENGINES
from headstart.store import Store, read_vectors_file, write_vectors
from headstart.vector_index import unit_rows
from headstart.workflow.run import run_protocol

METRICS = (  # what `eval --metric` can show
    *SCORED_METRICS,
    *CALIBRATED_METRICS,
    FIT_SECONDS,
    *OPEN_SET_METRICS,
    "closed_accuracy",
    *(f"far_{m}" for m in OPEN_SET_METRICS),
    "accuracy_all",
    "accuracy_base",
    "accuracy_new",
    "harmonic_mean",
    "accuracy_base_per_class",
    "accuracy_new_per_class",
    "harmonic_mean_per_class",
)

__all__ = [
    "DEFAULT_SCORES",
    "DETECTORS",
    "FIXES",
    "INCREMENTAL_HEADS",
    "METRICS",
    "MIL_METRICS",
    "PROTOCOLS",
    "SHOTS_POLICIES",
    "AdaptSettings",
    "AuditResult",
    "BenchResult",
    "TuneSettings",
    "adapt",
    "adapt_settings",
    "audit",
    "bench",
    "build_index",
    "cache_root",
    "class_texts",
    "demo",
    "embed",
    "embed_slides",
    "encoder_card",
    "encoder_cards",
    "evaluate",
    "evaluate_adapted",
    "evaluate_incremental",
    "evaluate_open_set",
    "explain",
    "extend",
    "fit",
    "grid_tables",
    "import_vectors",
    "learning_curve",
    "list_datasets",
    "list_encoders",
    "make_slides",
    "mil_evaluate",
    "mil_fit",
    "mil_predict",
    "nearest_class_mean_accuracy",
    "open_store",
    "parse_shots",
    "predict",
    "prepare_dataset",
    "rank_templates",
    "report",
    "run_protocol",
    "search_index",
    "slide_heatmaps",
    "store_info",
    "suite_from_names",
    "transform",
    "tune_encoder",
]


def encoder_card(name: str, **options: Any) -> dict[str, Any]:
    """The full card of encoder `name` (builds the encoder, so weights must be reachable)."""
    return create_encoder(name, **options).card.to_dict()


def encoder_cards() -> list[dict[str, Any]]:
    """Every registered encoder with its card; prefix adapters (`timm:<name>`) have none until
    a model is named, and an encoder whose weights are missing says why."""
    rows = []
    for (name, summary), entry in zip(list_encoders(), ENCODERS, strict=True):
        row: dict[str, Any] = {"name": name, "summary": summary, "card": None, "problem": ""}
        if not entry.prefix:
            try:
                row["card"] = encoder_card(name)
            except HeadstartError as error:
                row["problem"] = str(error)
        rows.append(row)
    return rows


def open_store(path: str | Path, allow_partial: bool = False) -> Store:
    """Open an embedding store folder."""
    return Store(path, allow_partial=allow_partial)


def store_info(path: str | Path, verify: bool = False) -> dict[str, Any]:
    """Summary of a store (partial stores included); `verify` re-hashes every shard."""
    store = Store(path, allow_partial=True)
    info = store.info()
    if verify:
        info["problems"] = store.verify()
    return info


def import_vectors(
    path: str | Path, out: str | Path, name: str | None = None, overwrite: bool = False
) -> Store:
    """Build a store from a user's .npy / .npz / .parquet vectors (never unpickled)."""
    data = read_vectors_file(path)
    return write_vectors(
        out,
        data.pop("vectors"),
        name=name or Path(path).stem,
        source=str(path),
        overwrite=overwrite,
        **data,
    )


def nearest_class_mean_accuracy(store: Store) -> dict[str, Any]:
    """A quick sanity score: cosine nearest-class-mean fitted on the split rule's training
    rows, scored on its test rows (`workflow.splits`)."""
    vectors, labels = store.vectors(), store.labels
    rows = workflow.store_rows(store)
    train, test, protocol = rows.train, rows.test, rows.rule
    unit = unit_rows(vectors)
    classes = np.unique(labels[train])
    means = np.stack([unit[train[labels[train] == c]].mean(axis=0) for c in classes])
    means = unit_rows(means)
    predicted = classes[np.argmax(unit[test] @ means.T, axis=1)]
    return {
        "accuracy": float(np.mean(predicted == labels[test])),
        "train": len(train),
        "test": len(test),
        "protocol": protocol,
    }


# The demo keeps to its time budget with a shorter C grid and step cap for the linear heads
DEMO_HEAD_PARAMS = {
    name: {"Cs": (0.1, 1.0, 10.0), "max_iter": 100} for name in ("linear-probe", "linear-svm")
}
# the zero-shot row of the demo: heads on the ConSE joint space (Lite0 posteriors × MiniLM)
DEMO_TEXT_HEADS = ("zero-shot", "tip-adapter", "gda-zero-shot", "tfup")


def demo(
    out: str | Path = "runs/demo",
    limit: int = 500,
    seeds: int = 3,
    shots: Sequence[int | str] = (1, 4, 16, "all"),
    progress: bool = True,
    heads: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The main job on bundled data: embed Fashion-MNIST (else MNIST-5k) with
    EfficientNet-Lite0, run the k-shot grid for every head; embed it in the ConSE joint space
    and add zero-shot (0 shots) and training-free heads; write one HTML report."""
    check_outputs(out)
    try:
        data = prepare_dataset("fashion-mnist", limit=limit)
    except DataError:
        data = prepare_dataset("mnist5k", limit=limit)
    out = Path(out)
    embedded = embed(
        data, "efficientnet-lite0", out / f"{data.name}-efficientnet-lite0", progress=progress
    )
    plain = [n for n, _ in list_heads() if not needs_class_texts(n)]
    # the demo's labels are clean and balanced and carry no groups: the session, noisy-label
    # and group-aware heads sit out
    special = ("incremental", "robust", "groups")
    names = list(heads or [n for n in plain if head_tags(create_head(n)).family not in special])
    results = evaluate(
        embedded.store.root, names, shots, seeds, progress=progress, head_params=DEMO_HEAD_PARAMS
    )
    joint = embed(data, "conse", out / f"{data.name}-conse", progress=progress)
    zero_shot = evaluate(
        joint.store.root,
        list(DEMO_TEXT_HEADS),
        [0, *(s for s in shots if s != 0)],
        seeds,
        progress=progress,
    )
    results.extend(zero_shot, "conse")
    results.save(out / "results")
    path = report(out / "results", out / "report.html")
    return {"embed": embedded.summary(), "results": results, "report": path}


def fit(
    store: str | Path,
    head: str,
    out: str | Path,
    params: dict[str, Any] | None = None,
    transforms: Sequence[str] = (),
    reject: str | None = None,
    reject_tpr: float = 0.95,
    overwrite: bool = False,
    all_rows: bool = False,
) -> Path:
    """Fit a head on a store's training rows (the split rule's: without an official split,
    the 70% that `eval` trains on; `all_rows`: every labelled row) and save it (JSON +
    safetensors) to `out`, a new folder or, with `overwrite`, a saved model (replaced once
    the new one is written); `reject` names an open-set score whose threshold (accepting
    `reject_tpr` of held-out training items) is saved with it, so `predict` answers
    "unknown" above it."""
    check_outputs(out)
    return workflow.fit_store(
        Store(store), head, out, params, transforms, reject, reject_tpr, overwrite, all_rows
    )


def predict(
    model: str | Path,
    inputs: str | Path,
    out: str | Path | None = None,
    top_k: int = 3,
    progress: bool = True,
    allow_other_encoder: bool = False,
    reject: str | None = None,
    reject_tpr: float = 0.95,
    engine: str = "local",
    engine_options: dict[str, Any] | None = None,
) -> workflow.Predictions:
    """Top-k predictions for a store, or for images (embedded with the model's encoder);
    inputs that could not be read are listed in `.skipped` (and `<out>.skipped.csv`).
    A store from another encoder than the model's is refused unless `allow_other_encoder`.
    `reject` (an open-set score): items above the threshold that keeps `reject_tpr` of the
    model's held-out training items are answered "unknown" (chosen once, saved with it).
    `engine` "ray" embeds the inputs and predicts with Ray Data (see `embed`)."""
    check_outputs(out)
    runner = ENGINES.create(engine, **(engine_options or {}))
    if reject is not None:
        workflow.ensure_reject(model, reject, reject_tpr)
    source = Path(inputs)
    if (source / "manifest.json").exists():
        store = Store(source)
    else:
        recipe = workflow.model_recipe(model)
        data = load_dataset(str(inputs))
        store = embed(
            data,
            recipe["name"],
            encoder_options=recipe["options"],
            progress=progress,
            engine=engine,
            engine_options=engine_options,
        ).store
    if not allow_other_encoder:
        workflow.check_same_encoder(model, store.manifest.encoder)
    rows = runner.predict(model, store.vectors(), store.ids, top_k)
    predictions = workflow.Predictions(rows, store.failures)
    if out is not None:
        predictions.write(out)
    return predictions


def report(
    results: str | Path,
    out: str | Path,
    learning_curve: str | Path | None = None,
    confusion_for: tuple[str, str] | None = None,
    explanations: str | Path | None = None,
    slides: str | Path | None = None,
) -> Path:
    """Write the self-contained HTML report of saved evaluation results (with the heat maps
    `explain` wrote to `explanations`, when given)."""
    check_outputs(out)
    return write_report(results, out, learning_curve, confusion_for, explanations, slides)
