"""The Ilse et al. (2018) protocol on the classic MIL sets: 10-fold cross-validation repeated
5 times on all bags of Musk1, Musk2 and Elephant; attention and gated-attention MIL, and every
regularizer plug-in on top of attention MIL (plus ACMIL's multi-branch attention).

Every model sees the same folds (stratified, seeded by the repeat; headstart's own
`cross_validate_mil`), so differences between models are paired. Reported: mean test accuracy
over the 50 folds with its 95% corrected resampled t interval (Nadeau & Bengio 2003: the
folds' training sets overlap, so a t over 50 "independent" scores is ~2.6× too narrow), and
the standard error of the 5 repeat means (Ilse et al.'s ±); paired differences against
attention MIL likewise. Attention and gated MIL also run with Ilse et al.'s three-layer
embedding network (`encoder="ilse-mlp"`: fc-256, fc-128, fc-64). Hyper-parameters are fixed
in advance (Adam, lr 5e-4, weight decay
5e-4, at most 100 epochs with early stopping on 10% of the training bags), none tuned on test
folds; regularizers keep their papers' default strengths.

Instance-level classifiers (`--instance ins,self-training`, from `INSTANCE_CLASSIFIERS`) run at
their own defaults beside them on the same folds; their bag AUC is reported too, since INS
ranks bags by its bag head and self-training by its top instance.

Run: python benchmarks/mil_classic.py [--repeats 5 --folds 10 --regularizers none,aem,...]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from headstart.mil import INSTANCE_CLASSIFIERS, MILClassifier, load_bags
from headstart.protocol.mil_cv import cross_validate_mil, model_grid
from headstart.protocol.results import FIT_SECONDS

OUT = Path(__file__).parent / "out"
SETTINGS = {
    "hidden": 128,
    "attention_dim": 64,
    "lr": 5e-4,
    "weight_decay": 5e-4,
    "epochs": 100,
    "patience": 10,
    "batch_size": 8,
}


def accuracy_table(
    rows: list[dict], model: str, repeats: int, folds: int, metric: str = "accuracy"
) -> np.ndarray:
    """(repeats, folds) test accuracies (or `metric`) of one model, indexed by the seed."""
    table = np.full(repeats * folds, np.nan)
    for row in rows:
        if row["head"] == model and row["metric"] == metric:
            table[row["seed"]] = row["value"]
    return table.reshape(repeats, folds)


def standard_error(values: np.ndarray) -> float | None:
    """Standard error of repeat-level values; None with a single repeat."""
    if len(values) < 2:
        return None
    return round(float(values.std(ddof=1) / np.sqrt(len(values))), 3)


def cross_validate(
    name: str,
    models: list[str],
    regularizers: list[str],
    plain: list[str],
    ilse: list[str],
    instance: list[str],
    repeats: int,
    folds: int,
) -> dict:
    bags = load_bags(name)
    start = time.perf_counter()
    estimators = model_grid(models, regularizers, **SETTINGS)
    estimators |= model_grid(plain, ["none"], **SETTINGS)
    for model in ilse:
        estimators[f"{model}/ilse-mlp"] = MILClassifier(
            model, encoder="ilse-mlp", **{**SETTINGS, "hidden": 64}
        )
    estimators |= {name: INSTANCE_CLASSIFIERS.create(name) for name in instance}
    results = cross_validate_mil(bags, estimators, folds, repeats)
    intervals = {s["head"]: s for s in results.summary() if s["metric"] == "accuracy"}
    paired = {p["head"]: p for p in results.paired(models[0], "accuracy")}
    report: dict = {"bags": len(bags), "seconds": round(time.perf_counter() - start, 1)}

    def tables_of(metric: str) -> dict[str, np.ndarray]:
        return {m: accuracy_table(results.rows, m, repeats, folds, metric) for m in estimators}

    tables, aucs, seconds = (tables_of(m) for m in ("accuracy", "auc", FIT_SECONDS))
    reference = tables[models[0]]
    for model, table in tables.items():
        per_repeat = table.mean(axis=1)
        difference = (table - reference).mean(axis=1)
        report[model] = {
            "accuracy": round(float(table.mean()), 3),
            "ci95_corrected": [round(intervals[model][k], 3) for k in ("ci_low", "ci_high")],
            "se_over_repeats": standard_error(per_repeat),
            "per_repeat": [round(float(v), 3) for v in per_repeat],
            f"minus_{models[0]}": round(float(difference.mean()), 3),
            f"minus_{models[0]}_se": standard_error(difference),
            "auc": round(float(np.nanmean(aucs[model])), 3),
            "fit_seconds": round(float(seconds[model].mean()), 2),
        }
        if model in paired:
            report[model][f"minus_{models[0]}_ci95_corrected"] = [
                round(paired[model][k], 3) for k in ("ci_low", "ci_high")
            ]
    report["interval"] = results.interval
    print(name, json.dumps(report), flush=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--models", default="attention", help="crossed with --regularizers")
    parser.add_argument("--regularizers", default="none,aem,mhim,scmil")
    parser.add_argument("--plain", default="gated,acmil", help="models without regularizers")
    parser.add_argument("--ilse", default="attention,gated", help="also with ilse-mlp")
    parser.add_argument(
        "--instance", default="", help="instance-level classifiers, e.g. ins,self-training"
    )
    parser.add_argument("--sets", default="musk1,musk2,elephant")
    parser.add_argument("--name", default="mil_classic")
    args = parser.parse_args()
    models, regularizers = args.models.split(","), args.regularizers.split(",")
    plain = [m for m in args.plain.split(",") if m]
    ilse = [m for m in args.ilse.split(",") if m]
    instance = [m for m in args.instance.split(",") if m]
    report = {"date": time.strftime("%Y-%m-%d"), "settings": SETTINGS}
    for name in args.sets.split(","):
        report[name] = cross_validate(
            name, models, regularizers, plain, ilse, instance, args.repeats, args.folds
        )
    out = Path(os.environ.get("OUT", OUT))
    out.mkdir(exist_ok=True)
    (out / f"{args.name}.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
