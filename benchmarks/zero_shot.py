"""Zero-shot and training-free heads on real data (issue 4's benchmark), one run:

A. Text, MiniLM embeddings of 20 Newsgroups and Reuters R8 (official splits):
   zero-shot from the class names; Lbl2Vec from keywords taken from the class names (no
   labels); few-shot grid 1–16 shots for the plain and the text-conditioned heads; a
   LinearProbe on all training documents.
B. Fashion-MNIST in the ConSE joint space (EfficientNet-Lite0 ImageNet posteriors × MiniLM
   name embeddings): zero-shot accuracy; Tip-Adapter, Tip-Adapter-F, GDA + zero-shot and TFUP
   over 1–16 shots next to the plain heads. The ConSE vectors are computed from a stored
   Lite0 *feature* store through Lite0's own classifier layer (logits = features·Wᵀ + b, checked
   against the full network on a few images), so the 70k images are not run through the CNN
   twice.

C. Support views (issue 10): Tip-Adapter, Tip-Adapter-F and GDA + zero-shot with and
   without 10 augmented views per support image (random resized crop + flip, view 0 plain;
   `embed --views 10`) on Fashion-MNIST in the ConSE space (1,000 train items, 100 per class,
   as the support pool; 1,000 test items; the same samples with and without views), and
   without views on R8 and 20 Newsgroups (texts have no augmentation recipe).

Run: python benchmarks/zero_shot.py --fmnist-store STORE [--seeds 10]
(STORE from: headstart embed fashion-mnist -e efficientnet-lite0 -o STORE)
     python benchmarks/zero_shot.py --views-only [--seeds 10]   (part C alone)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path

import numpy as np
import torch

from headstart.datasets import load_dataset
from headstart.embedding import embed_dataset, view_recipe
from headstart.encoders import create_encoder
from headstart.encoders.conse import conse_combine
from headstart.heads import create_head
from headstart.prompts import class_embeddings, description_embeddings
from headstart.protocol import evaluate_few_shot
from headstart.store import Store
from headstart.workflow import train_test, train_test_rows

OUT = Path(__file__).parent / "out"
PLAIN = ("linear-probe", "gda", "prototype", "knn")
TRAINING_FREE = ("tip-adapter", "tip-adapter-f", "gda-zero-shot", "tfup")
SHOTS = (0, 1, 2, 4, 8, 16)


def readable(name: str) -> str:
    """A class name as words: "comp.sys.ibm.pc.hardware" → "comp sys ibm pc hardware"."""
    return re.sub(r"[._/-]+", " ", name).strip()


def summary(results) -> dict:
    """head → shots → mean accuracy and macro-F1."""
    table: dict = {}
    for row in results.summary():
        if row["metric"] in ("accuracy", "macro_f1"):
            cell = table.setdefault(row["head"], {}).setdefault(str(row["shots"]), {})
            cell[row["metric"]] = round(row["mean"], 4)
    return table


def heads_with(texts: np.ndarray, names) -> dict:
    out = {}
    for name in names:
        params = {"class_embeddings": texts} if name in TRAINING_FREE or name == "zero-shot" else {}
        out[name] = create_head(name, **params)
    return out


def text_part(corpus: str, stores: Path, seeds: int) -> dict:
    encoder = create_encoder("minilm")
    data = load_dataset(corpus)
    start = time.perf_counter()
    result = embed_dataset(data, encoder, stores / f"{corpus}-minilm", progress=False)
    embed_s = time.perf_counter() - start
    X_train, y_train, X_test, y_test, _ = train_test(result.store)
    names = [readable(n) for n in data.class_names]
    texts = class_embeddings(encoder, names)  # bare names: MiniLM's own format
    report: dict = {"documents": len(data), "embed_s": round(embed_s, 1)}
    # Lbl2Vec: keywords are the words of each class name; documents of the training split
    keywords = {n: n.split() for n in names}
    seeds_vectors = description_embeddings(encoder, names, keywords, pattern="{descriptor}")
    lbl2vec = create_head("lbl2vec", class_embeddings=seeds_vectors).fit(X_train)
    predicted = lbl2vec.predict(X_test)
    report["lbl2vec"] = _scores(predicted, y_test, len(names))
    zero = create_head("zero-shot", class_embeddings=texts).fit(texts, np.arange(len(names)))
    report["zero_shot"] = _scores(zero.predict(X_test), y_test, len(names))
    start = time.perf_counter()
    full = create_head("linear-probe").fit(X_train, y_train)
    report["linear_probe_all"] = {
        **_scores(full.predict(X_test), y_test, len(names)),
        "C": full.C_,
        "fit_s": round(time.perf_counter() - start, 1),
    }
    heads = heads_with(texts, ("zero-shot", *PLAIN, *TRAINING_FREE))
    start = time.perf_counter()
    grid = evaluate_few_shot(
        X_train, y_train, X_test, y_test, heads, shots=SHOTS, seeds=seeds, dataset=corpus
    )
    report["grid_s"] = round(time.perf_counter() - start, 1)
    report["grid"] = summary(grid)
    print(corpus, json.dumps({k: v for k, v in report.items() if k != "grid"}), flush=True)
    return report


def _scores(predicted: np.ndarray, y: np.ndarray, k: int) -> dict:
    from headstart.protocol.metrics import classification_metrics

    proba = np.eye(k)[predicted]
    metrics = classification_metrics(proba, y)
    return {"accuracy": round(metrics["accuracy"], 4), "macro_f1": round(metrics["macro_f1"], 4)}


def conse_from_features(store: Store, top: int = 10) -> tuple[np.ndarray, object]:
    """ConSE vectors of every row of a Lite0 feature store, and the ConSE encoder."""
    encoder = create_encoder("conse", top=top)
    lite0 = encoder.image.module
    with torch.inference_mode():
        logits = lite0.classify(torch.from_numpy(store.vectors())).numpy()
        # the decomposition is exact: check it on images run through the whole network
        probe = load_dataset("fashion-mnist").take(8, seed=0)
        direct = encoder.image.encode(list(probe.items))
        features = create_encoder("efficientnet-lite0").encode(list(probe.items))
        via = lite0.classify(torch.from_numpy(features)).numpy()
    assert np.abs(direct - via).max() < 1e-3 * np.abs(direct).max(), "logits decomposition"
    return conse_combine(logits, encoder.name_vectors, top), encoder


def conse_part(store_dir: Path, seeds: int) -> dict:
    store = Store(store_dir)
    vectors, encoder = conse_from_features(store)
    labels, split = store.labels, store.split.astype(str)
    train, test = split == "train", split == "test"
    names = store.class_names
    texts = class_embeddings(encoder, names)  # bare names: ConSE's own format
    report: dict = {"chance": round(1 / len(names), 4)}
    heads = heads_with(texts, ("zero-shot", *PLAIN, *TRAINING_FREE))
    start = time.perf_counter()
    grid = evaluate_few_shot(
        vectors[train],
        labels[train],
        vectors[test],
        labels[test],
        heads,
        shots=SHOTS,
        seeds=seeds,
        dataset="fashion-mnist",
        encoder="conse",
    )
    report["grid_s"] = round(time.perf_counter() - start, 1)
    report["grid"] = summary(grid)
    X_train, y_train, X_test, y_test, _ = train_test(store)
    plain = evaluate_few_shot(
        X_train,
        y_train,
        X_test,
        y_test,
        {n: create_head(n) for n in PLAIN},
        shots=SHOTS[1:],
        seeds=seeds,
        encoder="efficientnet-lite0",
    )
    report["lite0_features_grid"] = summary(plain)
    zero = report["grid"]["zero-shot"]["0"]["accuracy"]
    report["zero_shot_over_chance"] = round(zero / report["chance"], 2)
    print("fashion-mnist conse", json.dumps({k: v for k, v in report.items() if "grid" not in k}))
    return report


VIEW_HEADS = ("zero-shot", "tip-adapter", "tip-adapter-f", "gda-zero-shot")


def views_part(stores: Path, seeds: int, views: int = 10) -> dict:
    """Part C: the view-using heads with and without augmented support views."""
    report: dict = {}
    for corpus in ("reuters-r8", "20newsgroups"):
        encoder = create_encoder("minilm")
        data = load_dataset(corpus)
        store = embed_dataset(data, encoder, stores / f"{corpus}-minilm", progress=False).store
        X_train, y_train, X_test, y_test, _ = train_test(store)
        texts = class_embeddings(encoder, [readable(n) for n in data.class_names])
        grid = evaluate_few_shot(
            X_train, y_train, X_test, y_test, heads_with(texts, VIEW_HEADS), SHOTS[1:], seeds
        )
        report[corpus] = {"without views": summary(grid)}
        print(corpus, json.dumps(report[corpus]), flush=True)
    data = load_dataset("fashion-mnist").take(1000, seed=0)
    encoder = create_encoder("conse")
    start = time.perf_counter()
    store = embed_dataset(
        data,
        encoder,
        stores / f"fmnist-1000-conse-views{views}",
        views=view_recipe(views),
        progress=False,
    ).store
    embed_s = time.perf_counter() - start
    train, test, _ = train_test_rows(store)
    vectors, labels = store.vectors(), store.labels
    texts = class_embeddings(encoder, store.class_names)
    heads = heads_with(texts, VIEW_HEADS)
    report["fashion-mnist-conse"] = {"embed_s": round(embed_s, 1), "views": views}
    with_views = store.views(train, vectors)
    for name, extra in (("without views", None), (f"with {views} views", with_views)):
        grid = evaluate_few_shot(
            vectors[train],
            labels[train],
            vectors[test],
            labels[test],
            heads,
            SHOTS[1:],
            seeds,
            views_train=extra,
        )
        report["fashion-mnist-conse"][name] = summary(grid)
    print("fashion-mnist conse views", json.dumps(report["fashion-mnist-conse"]), flush=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fmnist-store", type=Path)
    parser.add_argument("--views-only", action="store_true", help="part C alone")
    parser.add_argument("--stores", type=Path, default=Path("/tmp/headstart-bench-stores"))
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--skip-text", action="store_true")
    args = parser.parse_args()
    report: dict = {"date": time.strftime("%Y-%m-%d"), "seeds": args.seeds, "shots": SHOTS}
    out = Path(os.environ.get("OUT", OUT))
    out.mkdir(exist_ok=True)
    if args.views_only:
        report["views"] = views_part(args.stores, args.seeds)
        (out / "zero_shot_views.json").write_text(json.dumps(report, indent=1))
        return
    if args.fmnist_store is None:
        parser.error("--fmnist-store is required (or --views-only)")
    if not args.skip_text:
        for corpus in ("reuters-r8", "20newsgroups"):
            report[corpus] = text_part(corpus, args.stores, args.seeds)
    report["fashion-mnist-conse"] = conse_part(args.fmnist_store, args.seeds)
    report["views"] = views_part(args.stores, args.seeds)
    (out / "zero_shot.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
