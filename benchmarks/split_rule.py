"""Issue 26: which rows train, before and after the one split rule, on stores without an
official split (where the five old rules disagreed).

For each store: the rows `eval` trains and tests on, the rows `fit` trains on (and the
fitted model's accuracy on eval's held-out rows — a number that was not honest before when
`fit` had trained on them), the sanity score's rows and accuracy, the rows an adapter trains
on and the rows `tune_encoder` reads. Counts are taken from what each command does (its
provenance, or the arrays handed to the trainer), so the script runs unchanged on the code
before and after the rule. Run: python benchmarks/split_rule.py --out runs/split_rule_X.json
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from headstart import api
from headstart.store import Store, write_vectors
from headstart.workflow.splits import train_test_rows

adapt_module = sys.modules["headstart.api.adapt"]  # not `api.adapt`: that name is the verb


class StopError(Exception):
    """Raised after recording what a trainer was handed (the training itself is not needed)."""


def recorded(name: str, seen: dict, count):
    def record(*args, **kwargs):
        seen[name] = count(*args)
        raise StopError

    return record


def measure(store: Store, root: Path, texts: str | None = None) -> dict:
    """What every consumer of the split does on `store`."""
    out = {"store": store.manifest.dataset.get("name"), "rows": len(store.labels)}
    results = api.evaluate(store.root, ["prototype"], ["all"], 1, progress=False)
    out["eval"] = {k: results.provenance[k] for k in ("n_train", "n_test")}
    model = api.fit(store.root, "prototype", root / "model")
    trained = json.loads((model / "provenance.json").read_text())["trained_rows"]
    _, test, rule = train_test_rows(store)
    api.predict(model, str(store.root), root / "p.csv", progress=False)
    with open(root / "p.csv", newline="") as handle:  # the CSV: the same on both sides
        predicted = np.asarray([r["class_1"] for r in csv.DictReader(handle)])
    names = np.asarray(store.class_names)[store.labels]
    out["fit"] = {
        "trained_rows": trained,
        "accuracy_on_eval_test_rows": float(np.mean(predicted[test] == names[test])),
        "eval_rule": rule,
    }
    out["sanity"] = api.nearest_class_mean_accuracy(store)
    seen: dict = {}
    adapt_module.fit_adapter = recorded("adapter", seen, lambda X, *rest: len(X))
    with contextlib.suppress(StopError):
        settings = api.AdaptSettings(epochs=1, batch_size=32)
        api.adapt(store.root, root / "adapter", settings, progress=False)
    out["adapter_rows"] = seen.get("adapter")
    if texts:
        adapt_module.tune_sentence_body = recorded("tune", seen, lambda m, t, *rest: len(t))
        with contextlib.suppress(StopError):
            api.tune_encoder(str(store.root), root / "tuned", progress=False)
        out["tune_rows"] = seen.get("tune")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    found = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        digits = api.embed("digits", "raw-pixels", root / "digits", progress=False).store
        found.append(measure(digits, root / "d"))
        rng = np.random.default_rng(0)  # a store with unlabelled rows and no split
        y = np.repeat(np.arange(4), 50)
        X = rng.normal(size=(200, 8)) + 3 * rng.normal(size=(4, 8))[y]
        labels = [f"c{c}" if i % 5 else None for i, c in enumerate(y)]  # every 5th unlabelled
        vectors = write_vectors(root / "vectors", X, labels=labels, name="vectors-20%-unlabelled")
        found.append(measure(vectors, root / "v"))
        texts = api.embed("reuters-r8", "minilm", root / "r8", limit=40, progress=False).store
        found.append(measure(texts, root / "t", texts="yes"))
    args.out.write_text(json.dumps(found, indent=1, default=str))
    print(json.dumps(found, indent=1, default=str))


if __name__ == "__main__":
    main()
