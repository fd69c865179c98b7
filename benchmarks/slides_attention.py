"""Issue 29: does attention MIL trained on slide labels find the planted regions?

Generated slides (`headstart slides make`): 40 slides of 8,192² px at 0.5 µm/px, about two
thirds of the patients with two slides; positive patients' slides carry planted regions of a
different tissue. Patches of 256 px at 1 µm/px, embedded by efficientnet-lite0 and by raw
pixels. Attention MIL (attention, gated) is trained on slide labels only, in patient-grouped
5-fold cross-validation, 3 repetitions; on every held-out positive slide, the attention AUROC
of planted patches (≥ half planted) against patches with no planted pixel (boundary patches
left out). Reported: the mean over slides (each slide's AUROC averaged over repetitions) with a
95% bootstrap interval over slides, and the slide-level AUC of the same models.

Run: python benchmarks/slides_attention.py [--slides 40 --size 8192]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from headstart import api
from headstart.mil import MILClassifier, load_bags
from headstart.mil.bag_store import read_bag_record
from headstart.protocol.mil_cv import mil_folds
from headstart.slides.synthetic import planted_labels, read_layout

OUT = Path(__file__).parent / "out" / "slides-attention"


def attention_aurocs(bags, folder: Path, size0: int, aggregator: str, repeats: int) -> dict:
    """Held-out attention AUROC per positive slide (mean over repetitions), slide-level AUC."""
    positive = bags.class_names.index("positive")
    per_slide: dict[str, list[float]] = {}
    slide_auc = []
    for repeat in range(repeats):
        proba = np.zeros(len(bags))
        for train, test in mil_folds(bags, 5, repeat):
            model = MILClassifier(aggregator, epochs=100, random_state=repeat)
            model.fit(bags.subset(train))
            held = bags.subset(test)
            proba[test] = model.predict_proba(held)[:, list(model.classes_).index(positive)]
            for i, scores in enumerate(model.instance_scores(held)):
                if held.labels[i] != positive:
                    continue
                rows = slice(held.offsets[i], held.offsets[i + 1])
                truth = planted_labels(read_layout(folder, held.ids[i]), held.coords[rows], size0)
                kept = truth >= 0
                if len(set(truth[kept])) == 2:
                    auroc = roc_auc_score(truth[kept], scores[kept])
                    per_slide.setdefault(held.ids[i], []).append(auroc)
        slide_auc.append(roc_auc_score(bags.labels == positive, proba))
    means = np.array([np.mean(v) for v in per_slide.values()])
    rng = np.random.default_rng(0)
    boot = [rng.choice(means, len(means)).mean() for _ in range(10_000)]
    return {
        "attention_auroc": round(float(means.mean()), 3),
        "interval": [round(float(q), 3) for q in np.quantile(boot, [0.025, 0.975])],
        "slides_scored": len(means),
        "worst_slide": round(float(means.min()), 3),
        "slide_auc": round(float(np.mean(slide_auc)), 3),
        "slide_auc_per_repeat": [round(float(a), 3) for a in slide_auc],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slides", type=int, default=40)
    parser.add_argument("--size", type=int, default=8192)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--encoders", default="efficientnet-lite0,raw-pixels")
    args = parser.parse_args()
    folder = OUT / "slides"
    if not (folder / "labels.csv").is_file():
        api.make_slides(folder, args.slides, args.size, seed=7)
    report: dict = {"slides": args.slides, "size": args.size, "patch": "256 px at 1 µm/px"}
    for encoder in args.encoders.split(","):
        started = time.perf_counter()
        bag_store = OUT / f"bags-{encoder}"
        api.embed_slides(folder, encoder, bag_store, size=256, mpp=1.0, progress=False)
        record = read_bag_record(bag_store)
        size0 = int(record["slides"][0]["patch_size_level0"])
        bags = load_bags(str(bag_store), labels=folder / "labels.csv")
        report[encoder] = {
            "patches": len(bags.instances),
            "patients": len(set(bags.groups)),
            "embed_seconds": round(time.perf_counter() - started, 1),
        }
        for aggregator in ("attention", "gated"):
            result = attention_aurocs(bags, folder, size0, aggregator, args.repeats)
            report[encoder][aggregator] = result
            print(encoder, aggregator, result, flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "attention.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
