"""Issue 14: how long `headstart audit` takes on a 70,000-item store (Fashion-MNIST train +
test, EfficientNet-Lite0 1280-d), on this machine's 2 cores; goal under 2 minutes.

Measured in the same run: the whole audit (label errors with 5-fold GDA per split, three
detectors, duplicates, outliers, CSVs and the page), and its parts alone — reading the store,
the cross-fit, the near-duplicate search screened in 128 principal directions (the default),
through FAISS IVF, and in full dimension (the baseline), kNN neighbours screened and in full —
and cleanlab's Datalab `find_issues` (label, outlier and near-duplicate
checks) on the same features and the same cross-fitted probabilities, the tool users reach for
today (benchmark-only dependency).

Needs `pip install -e ".[bench]"` for Datalab. Run:
python benchmarks/audit_speed.py [--store STORE] [--skip-exact] [--skip-datalab]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from headstart import api
from headstart.heads import create_head
from headstart.quality import near_groups, out_of_fold_proba
from headstart.store import Store
from headstart.vector_index import nearest_neighbours

HERE = Path(__file__).parent


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    default = Path("/tmp/headstart-bench-stores/fashion-mnist-efficientnet-lite0-full")
    parser.add_argument("--store", type=Path, default=default)
    parser.add_argument("--skip-exact", action="store_true")
    parser.add_argument("--skip-datalab", action="store_true")
    args = parser.parse_args()
    out: dict = {}
    folder = Path(tempfile.mkdtemp())
    try:
        result, out["audit_seconds"] = timed(api.audit, args.store, folder / "a", progress=False)
        out["audit_summary"] = {k: v for k, v in result.summary.items() if k != "feature_bias"}
        print(f"audit: {out['audit_seconds']:.1f} s", out["audit_summary"]["flagged"])
    finally:
        shutil.rmtree(folder)
    store = Store(args.store)
    X, out["read_seconds"] = timed(store.vectors)
    out["items"] = len(X)
    train = np.asarray(store.split) == "train"
    proba, out["cross_fit_train_seconds"] = timed(
        out_of_fold_proba, create_head("gda"), X[train], store.labels[train]
    )
    groups, out["near_projected_seconds"] = timed(near_groups, X, 0.97, "projected")
    out["near_projected_groups"] = len(groups)
    ivf, out["near_ivf_seconds"] = timed(near_groups, X, 0.97, "ivf")
    out["near_ivf_groups"] = len(ivf)
    _, out["knn_projected_seconds"] = timed(nearest_neighbours, X[train], 10, 128)
    if not args.skip_exact:
        exact, out["near_exact_seconds"] = timed(near_groups, X, 0.97, "exact")
        out["near_exact_groups"] = len(exact)
        out["projected_equals_exact"] = sorted(groups) == sorted(exact)
        found = {frozenset(g) for g in ivf}
        out["ivf_recall_of_exact_groups"] = float(np.mean([frozenset(g) in found for g in exact]))
        _, out["knn_exact_seconds"] = timed(nearest_neighbours, X[train], 10)
    print(json.dumps({k: v for k, v in out.items() if k != "audit_summary"}, indent=1))
    if not args.skip_datalab:
        from cleanlab import Datalab

        data = {"label": store.labels[train]}
        lab = Datalab(data, label_name="label", verbosity=0)
        issue_types = {"label": {}, "outlier": {}, "near_duplicate": {}}
        _, out["datalab_seconds"] = timed(
            lab.find_issues, features=X[train], pred_probs=proba, issue_types=issue_types
        )
        out["datalab_items"] = int(train.sum())
        print(f"datalab on {train.sum()} training items: {out['datalab_seconds']:.1f} s")
    target = HERE / "out" / "audit_speed.json"
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(out, indent=1, default=str))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
