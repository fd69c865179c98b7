"""Issue 15: does a contrastive adapter beat frozen features on classes it never saw?

Base → novel (`headstart eval base-novel`): per seed, half the classes are base; an adapter is
trained on their training rows (labels, or neighbours for the self-supervised losses), then
prototype and linear-probe heads are fitted on k shots of the *novel* classes, on frozen and
on adapted features, same samples — the difference is paired per seed (mean, 95% t CI).
Fashion-MNIST (EfficientNet-Lite0, 5 / 5 classes) and 20 Newsgroups (MiniLM, 10 / 10), each
with `--per-class` training items per class and the full test split. Losses that need
something these stores lack are reported with the reason (transitive: augmented views;
SepCLR: a background store).

Then the temperature sweep of Wang & Liu (CVPR 2021, Fig. 3): InfoNCE adapters trained
without labels (neighbour positives) on Fashion's training rows at τ ∈ {0.03 … 1}; the
uniformity and tolerance of the test embeddings (all classes) against τ, with the hard
contrastive loss beside it (figures/adapt_tau_sweep.png).

Run: python benchmarks/adapt.py [--seeds 10 --only fashion|20ng|sweep]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from store_subsets import train_test  # benchmarks/ is on sys.path when run as a script

from headstart import api
from headstart.adapt.metrics import tolerance, uniformity
from headstart.adapt.train import fit_adapter
from headstart.store import Store, write_vectors

HERE = Path(__file__).parent
STORES = Path("/tmp/headstart-bench-stores")
SHOTS = [1, 5, 16]
HEADS = ["prototype", "linear-probe"]
LOSSES = {  # loss → options; positives follow each loss's needs ("auto")
    "info-nce": {},
    "hard-contrastive": {},
    "supcon": {},
    "mochi": {},
    "mlcd": {"clusters": 64},
    "proto-triplet": {},
    "icnn": {},
    "simlap": {},
}
NOT_RUN = {
    "transitive": "needs a store embedded with augmented views (--views); these have none",
    "sepclr": "contrasts a target with a background store; no base → novel reading",
}
TAUS = [0.03, 0.05, 0.1, 0.2, 0.5, 1.0]


def subset_store(path: Path, per_class: int | None, out: Path) -> Path:
    """The store with its training side cut to `per_class` items of every class (seeded)."""
    if out.exists():
        return out
    source = Store(path)
    X, y, X_test, y_test = train_test(path, per_class)
    names = source.class_names
    write_vectors(
        out,
        np.concatenate([X, X_test]),
        labels=[names[c] for c in np.r_[y, y_test]],
        split=["train"] * len(y) + ["test"] * len(y_test),
        class_names=names,
        name=source.card.name,
    )
    return out


def run(path: Path, seeds: int) -> dict:
    out = {"store": str(path), "losses": {}, "not_run": NOT_RUN}
    for loss, options in LOSSES.items():
        started = time.perf_counter()
        settings = api.AdaptSettings(loss=loss, loss_options=options, epochs=30, patience=5)
        results = api.evaluate_adapted(path, settings, HEADS, SHOTS, seeds, 0.5, progress=False)
        store = results.stores()[0]
        rows = {}
        for head in HEADS:
            for k in SHOTS:
                d = results.difference(f"{head} · {loss}", head, k, "accuracy", store)
                frozen = results.values(head, k, "accuracy", store)
                rows[f"{head}@{k}"] = {
                    "frozen": float(np.mean(list(frozen.values()))),
                    "difference": d["mean_difference"],
                    "ci": [d["ci_low"], d["ci_high"]],
                }
        seconds = time.perf_counter() - started
        out["losses"][loss] = {"rows": rows, "seconds": seconds}
        print(loss, f"{seconds:.0f} s", {k: round(v["difference"], 3) for k, v in rows.items()})
    return out


def sweep(path: Path) -> dict:
    """Uniformity and tolerance of the test embeddings vs τ (adapters trained without labels)."""
    X, _, X_test, y_test = train_test(path, 600)
    out = {}
    for loss in ("info-nce", "hard-contrastive"):
        out[loss] = []
        for tau in TAUS:
            settings = api.AdaptSettings(
                loss=loss, loss_options={"tau": tau}, positives="neighbours", epochs=30
            )
            adapter, _ = fit_adapter(X, None, settings)
            with torch.no_grad():
                Z = adapter(torch.as_tensor(X_test, dtype=torch.float32)).numpy()
            out[loss].append(
                {
                    "tau": tau,
                    "uniformity": uniformity(Z),
                    "tolerance": tolerance(Z, y_test),
                }
            )
            print(loss, tau, out[loss][-1])
    unit = X_test / np.linalg.norm(X_test, axis=1, keepdims=True)
    out["frozen"] = {"uniformity": uniformity(unit), "tolerance": tolerance(unit, y_test)}
    figure(out, HERE / "figures" / "adapt_tau_sweep.png")
    return out


def figure(out: dict, target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, metric in zip(axes, ("uniformity", "tolerance"), strict=True):
        for loss, style in (("info-nce", "o-"), ("hard-contrastive", "s--")):
            ax.plot(TAUS, [p[metric] for p in out[loss]], style, label=loss)
        ax.axhline(out["frozen"][metric], color="grey", lw=1, label="frozen")
        ax.set_xscale("log")
        ax.set_xlabel("temperature τ")
        ax.set_title(metric + (" (lower: more uniform)" if metric == "uniformity" else ""))
    axes[0].legend(fontsize=8)
    fig.suptitle(
        "Fashion-MNIST test set, Lite0 + adapter trained without labels (neighbour positives)"
    )
    fig.tight_layout()
    target.parent.mkdir(exist_ok=True)
    fig.savefig(target, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--fashion", type=Path, default=STORES / "fashion-mnist-efficientnet-lite0-full"
    )
    parser.add_argument("--news", type=Path, default=STORES / "20newsgroups-minilm")
    parser.add_argument("--per-class", type=int, default=300, help="training items per class")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--only", choices=["fashion", "20ng", "sweep"])
    args = parser.parse_args()
    target = HERE / "out" / "adapt.json"
    results = json.loads(target.read_text()) if target.is_file() and args.only else {}
    started = time.perf_counter()
    scratch = Path("/tmp/headstart-bench-adapt")
    scratch.mkdir(exist_ok=True)
    if args.only in (None, "fashion"):
        store = subset_store(args.fashion, args.per_class, scratch / f"fashion-{args.per_class}")
        results["fashion-mnist · efficientnet-lite0"] = run(store, args.seeds)
    if args.only in (None, "20ng"):
        store = subset_store(args.news, args.per_class, scratch / f"20ng-{args.per_class}")
        results["20newsgroups · minilm"] = run(store, args.seeds)
    if args.only in (None, "sweep"):
        results["tau_sweep"] = sweep(args.fashion)
    results["seeds"] = args.seeds
    results["seconds_last_run"] = time.perf_counter() - started
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(results, indent=1))
    print(f"wrote {target} in {results['seconds_last_run']:.0f} s")


if __name__ == "__main__":
    main()
