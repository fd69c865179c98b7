"""The multiple-instance verbs of headstart: cross-validate, fit and predict bag models.
Re-exported by `headstart.api`, which the front ends call."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from headstart import workflow
from headstart.mil import MILClassifier, load_bags
from headstart.output import check_outputs
from headstart.protocol import Results
from headstart.workflow.run import run_protocol


def mil_evaluate(
    dataset: str,
    models: Sequence[str] = ("attention", "gated"),
    regularizers: Sequence[str] = ("none",),
    folds: int = 10,
    repeats: int = 5,
    out: str | Path | None = None,
    progress: bool = True,
    **params: Any,
) -> Results:
    """Cross-validate every aggregator × regularizer combination on one bag set (plug-ins
    that read attention are left out for aggregators without it). With `out`, the first
    attention model's weights on a few held-out bags are saved for the report's figure."""
    known = {"epochs", "encoder", "labels"}
    return run_protocol(
        "mil-cv",
        dataset,
        out,
        progress,
        models=list(models),
        regularizers=list(regularizers),
        folds=folds,
        repeats=repeats,
        **{k: v for k, v in params.items() if k in known},
        params={k: v for k, v in params.items() if k not in known},
    )


def mil_fit(
    dataset: str,
    out: str | Path,
    model: str = "attention",
    regularizers: Sequence[str] = (),
    labels: str | Path | None = None,
    **params: Any,
) -> Path:
    """Fit a MIL model on every labelled bag of `dataset` and save it (JSON + safetensors);
    `labels`: the slide label CSV of a bag store or feature folder."""
    check_outputs(out)
    bags = load_bags(dataset, **({"labels": labels} if labels else {}))
    return MILClassifier(model, regularizers=tuple(regularizers), **params).fit(bags).save(out)


def mil_predict(
    model_dir: str | Path,
    dataset: str,
    out: str | Path | None = None,
    labels: str | Path | None = None,
) -> list[dict[str, Any]]:
    """Bag predictions (id, predicted class, its probability, label) of a saved MIL model."""
    check_outputs(out)
    model = MILClassifier.load(model_dir)
    bags = load_bags(dataset, **({"labels": labels} if labels else {}))
    proba = model.predict_proba(bags)
    rows = [
        {
            "id": bag_id,
            "predicted": model.classes_[p.argmax()].item(),
            "probability": round(float(p.max()), 6),
            "label": int(label),
        }
        for bag_id, p, label in zip(bags.ids, proba, bags.labels, strict=True)
    ]
    if out is not None:
        workflow.write_csv(rows, out)
    return rows
