"""The fuzz table of issue 11: bad and odd inputs as a user types them on the command line,
each with what must happen — a clear error (exit code, message fragment), items skipped and
reported, or a correct result (checked on the files written). Inputs come from
tests/fuzz_inputs.py. `{t}` is the inputs folder, `{x}` a fresh output path for the case,
`{s}` a digits store, `{m}` a prototype model fitted on it, `{o}` a store of another encoder.

`outcome` sorts what happened into the issue's families of results; tests/test_fuzz.py
requires the expected one for every row and benchmarks/fuzz_outcomes.py counts them for an
older headstart too."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable
from contextlib import chdir, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Case:
    family: str
    name: str
    args: str
    expect: str  # "error", "skip" or "ok"
    fragment: str = ""  # must appear in the output
    check: Callable[[Path], bool] | None = None  # on the case's output path {x}
    code: int = 2  # exit code of an expected error


def error(family: str, name: str, args: str, fragment: str, code: int = 2) -> Case:
    return Case(family, name, args, "error", fragment, code=code)


def ok(family: str, name: str, args: str, check=None, fragment: str = "") -> Case:
    return Case(family, name, args, "ok", fragment, check)


def skip(family: str, name: str, args: str, fragment: str, check=None) -> Case:
    return Case(family, name, args, "skip", fragment, check)


# ---- checks on what a case wrote ------------------------------------------------------------


def _bench_failed(x: Path, dataset: str) -> bool:
    """The failed cell is listed in the leaderboard, the other dataset's cell finished."""
    board = json.loads((x / "leaderboard.json").read_text())
    failed = [c["dataset"] for c in board["failed"]]
    return failed == [dataset] and board["cells"] == 2 and (x / "rows.parquet").is_file()


def _store(x: Path):
    from headstart.store import Store

    return Store(x)


def rows(n: int, classes: list[str] | None = None) -> Callable[[Path], bool]:
    """The store at {x} has n rows, finite vectors and (optionally) these class names."""

    def check(x: Path) -> bool:
        store = _store(x)
        names_ok = classes is None or store.class_names == classes
        return len(store) == n and names_ok and bool(np.isfinite(store.vectors()).all())

    return check


def item(name: str, test: Callable[[np.ndarray], bool]) -> Callable[[Path], bool]:
    """The vector of item `name` in the store at {x} passes `test`."""

    def check(x: Path) -> bool:
        store = _store(x)
        return name in store.ids and bool(test(store.vectors()[store.ids.index(name)]))

    return check


def labels(expected: list[int], classes: list[str]) -> Callable[[Path], bool]:
    def check(x: Path) -> bool:
        store = _store(x)
        return store.labels.tolist() == expected and store.class_names == classes

    return check


def splits(expected: set[str]) -> Callable[[Path], bool]:
    return lambda x: {str(s) for s in _store(x).split} == expected


def predictions(n: int, skipped: int = 0) -> Callable[[Path], bool]:
    """{x} is a predictions CSV of n rows with finite probabilities (and a skipped list)."""

    def check(x: Path) -> bool:
        with open(x) as handle:
            table = list(csv.DictReader(handle))
        probabilities = [float(v) for r in table for k, v in r.items() if k.startswith("p")]
        listed = Path(f"{x}.skipped.csv")
        skipped_ok = skipped == 0 or (
            listed.exists() and len(listed.read_text().splitlines()) == skipped + 1
        )
        return len(table) == n and bool(np.isfinite(probabilities).all()) and skipped_ok

    return check


def summary(test: Callable[[dict], bool]) -> Callable[[Path], bool]:
    return lambda x: test(json.loads((x / "summary.json").read_text()))


def exists(x: Path) -> bool:
    return x.exists()


# ---- the table ------------------------------------------------------------------------------

EMBED = "embed {t}/img/{case} -e raw-pixels -o {x}"
OPTIONS = [
    error(
        "options",
        "batch-size-1",
        "embed digits -e raw-pixels -o {x} --batch-size -1",
        "Invalid value",
    ),
    error(
        "options",
        "batch-size-4",
        "embed digits -e raw-pixels -o {x} --batch-size -4",
        "Invalid value",
    ),
    error("options", "limit-0", "embed digits -e raw-pixels -o {x} --limit 0", "Invalid value"),
    error("options", "threads-0", "embed digits -e raw-pixels -o {x} --threads 0", "Invalid value"),
    error("options", "workers-0", "embed digits -e raw-pixels -o {x} --workers 0", "Invalid value"),
    error(
        "options",
        "shard-size-0",
        "embed digits -e raw-pixels -o {x} --shard-size 0",
        "Invalid value",
    ),
    error("options", "views-0", "embed digits -e raw-pixels -o {x} --views 0", "Invalid value"),
    error("options", "seeds-0", "eval {s} --seeds 0", "Invalid value"),
    error("options", "seeds-3", "eval {s} --seeds -3", "Invalid value"),
    error("options", "top-k-0", "predict {m} {s} -o {x} --top-k 0", "Invalid value"),
    error("options", "top-k-1", "predict {m} {s} -o {x} --top-k -1", "Invalid value"),
    error("options", "metric", "eval {s} --metric acc", "did you mean 'accuracy'"),
    error(
        "options",
        "shots-policy",
        "eval {s} --shots-policy some",
        "is not one of error, up-to, drop",
    ),
    error("options", "shots-negative", "eval {s} --shots 1,-2", "integers ≥ 0 or 'all'"),
    error("options", "shots-word", "eval {s} --shots abc", "got 'abc'"),
    error("options", "mil-folds-1", "mil eval --dataset musk1 --folds 1", "Invalid value"),
    error("options", "mil-epochs-0", "mil eval --dataset musk1 --epochs 0", "Invalid value"),
    error("options", "mil-repeats-0", "mil eval --dataset musk1 --repeats 0", "Invalid value"),
    error("options", "mil-metric", "mil eval --dataset musk1 --metric acc", "did you mean 'auc'"),
    error(
        "options",
        "device-cuda",
        "embed digits -e raw-pixels -o {x} --device cuda",
        "no CUDA device",
    ),
    ok(
        "options",
        "limit-batch",
        "embed digits -e raw-pixels -o {x} --limit 10 --batch-size 3",
        rows(10),
    ),
    ok(
        "options",
        "one-seed",
        "eval {s} --shots 1 --heads prototype --seeds 1 -o {x}",
        summary(lambda s: s["provenance"]["seeds"] == 1),
    ),
]
NAMES = [
    error("names", "encoder", "embed digits -e mobilenet -o {x}", "Did you mean 'mobilenetv2'"),
    error("names", "dataset", "embed digitz -e raw-pixels -o {x}", "unknown dataset 'digitz'"),
    error(
        "names",
        "encoder-option",
        "embed digits -e raw-pixels -o {x} --encoder-option sise=8",
        "did you mean 'size'",
    ),
    error(
        "names",
        "encoder-option-value",
        "embed digits -e raw-pixels -o {x} --encoder-option size=abc",
        "size",
    ),
    error(
        "names",
        "dataset-option",
        "embed digits -e raw-pixels -o {x} --dataset-option foo=1",
        "has no option 'foo'",
    ),
    error(
        "names",
        "precision",
        "embed digits -e efficientnet-lite0 -o {x} --encoder-option precision=fp8",
        "precision must be one of",
    ),
    error("names", "head", "eval {s} --heads protoype", "Did you mean 'prototype'"),
    error("names", "param", "fit {s} --head prototype -o {x} --param foo=1", "has no option 'foo'"),
    error("names", "param-no-value", "fit {s} --head prototype -o {x} --param foo", "key=value"),
    error(
        "names",
        "param-value",
        "fit {s} --head knn -o {x} --param n_neighbors=abc",
        "option 'n_neighbors' must be int",
    ),
    error("names", "fit-head", "fit {s} --head gdaa -o {x}", "Did you mean 'gda'"),
    error("names", "transform", "eval {s} --transforms whiten", "unknown transform"),
    error("names", "mil-set", "mil eval --dataset musk3", "unknown bag set 'musk3'"),
    error(
        "names",
        "mil-model",
        "mil eval --dataset musk1 --models atention",
        "Did you mean 'attention'",
    ),
    error("names", "mil-regularizer", "mil eval --dataset musk1 --regularizers aemm", "aem"),
    error("names", "mil-encoder", "mil eval --dataset musk1 --encoder cnn", "unknown"),
]
OUTPUTS = [
    error(
        "outputs", "embed-proc", "embed digits -e raw-pixels -o /proc/x", "system pseudo-filesystem"
    ),
    error(
        "outputs", "fit-sys", "fit {s} --head gda -o /sys/headstart-x", "system pseudo-filesystem"
    ),
    error(
        "outputs",
        "eval-under-file",
        "eval {s} --shots 1 --heads prototype -o {t}/file/r",
        "is a file, not a folder",
    ),
    error(
        "outputs", "fit-under-file", "fit {s} --head gda -o {t}/file/m", "is a file, not a folder"
    ),
    error(
        "outputs",
        "predict-under-file",
        "predict {m} {s} -o {t}/file/p.csv",
        "is a file, not a folder",
    ),
    error(
        "outputs",
        "mil-under-file",
        "mil eval --dataset musk1 -o {t}/file/cv",
        "is a file, not a folder",
    ),
    error(
        "outputs",
        "embed-into-folder",
        "embed digits -e raw-pixels -o {t}/csv",
        "is not a headstart store",
    ),
    error("outputs", "report-missing", "report {t}/nothing -o {x}.html", "holds no saved results"),
    error("outputs", "report-on-store", "report {s}", "holds no saved results"),
]
IMAGES = [
    skip("image folders", "zero", EMBED, "1 skipped", rows(4)),
    skip("image folders", "truncated", EMBED, "1 skipped", rows(4)),
    skip("image folders", "text", EMBED, "1 skipped", rows(4)),
    skip("image folders", "bomb", EMBED, "1 skipped", rows(4)),
    skip("image folders", "device", EMBED, "1 skipped", rows(4)),
    skip("image folders", "fifo", EMBED, "1 skipped", rows(4)),
    ok("image folders", "cmyk", EMBED, item("cat/c.jpg", lambda v: v.std() < 0.05)),
    ok(
        "image folders",
        "16bit",
        EMBED,
        item("cat/d.png", lambda v: abs(v.mean() - 156 / 255) < 0.02),
    ),
    ok("image folders", "palette", EMBED, item("cat/p.png", lambda v: np.all(v == 1.0))),
    ok("image folders", "rgba", EMBED, item("cat/a.png", lambda v: np.all(v == 1.0))),
    ok("image folders", "tiny", EMBED, rows(5)),
    ok("image folders", "gray", EMBED, rows(5)),
    ok("image folders", "float-tiff", EMBED, item("cat/f.tif", lambda v: v.max() - v.min() > 0.9)),
    ok("image folders", "loop", EMBED, rows(4, ["cat", "dog"])),
    ok(
        "image folders", "non-utf8", EMBED, item("cat/bad\\xff.png", lambda v: np.isfinite(v).all())
    ),
    ok("image folders", "hidden", EMBED, rows(4)),
    ok("image folders", "upper", EMBED, item("cat/0.PNG", lambda v: np.isfinite(v).all())),
    ok("image folders", "nested", EMBED, item("cat/more/x.png", lambda v: np.isfinite(v).all())),
    ok("image folders", "linked-sub", EMBED, item("cat/more/x.png", lambda v: v.size > 0)),
    ok("image folders", "one-class", EMBED, rows(2, ["cat"])),
    ok("image folders", "split", EMBED, splits({"train", "test"})),
    ok("image folders", "unicode", EMBED, rows(4, ["café", "日本"])),
    error("image folders", "empty-class", EMBED, "['emu'] hold no image files"),
    error("image folders", "mixed", EMBED, "are split names but ['extra'] are not"),
    error("image folders", "loose", EMBED, "['stray.png'] lie outside any class folder"),
    error("image folders", "flat", EMBED, "has no class sub-folders"),
    error("image folders", "nothing", EMBED, "has no class sub-folders"),
    error("image folders", "no-images", EMBED, "has no files ending in"),
    error("image folders", "missing", EMBED, "does not exist"),
]
CSV = "embed {t}/csv/{case}.csv -e raw-pixels -o {x}"
MANIFESTS = [
    error("csv manifests", "extra", CSV, "3 fields, the header has 2"),
    error("csv manifests", "missing", CSV, "1 fields, the header has 2"),
    error("csv manifests", "no-path", CSV, "'path'"),
    error("csv manifests", "semicolon", CSV, "'path'"),
    error("csv manifests", "header-only", CSV, "no rows"),
    error("csv manifests", "empty", CSV, "header"),
    error("csv manifests", "missing-file", CSV, "line 3"),
    error("csv manifests", "duplicate", CSV, "duplicate"),
    error("csv manifests", "bad-split", CSV, "validation"),
    error("csv manifests", "latin1", CSV, "not a UTF-8 text CSV (line 2:"),
    skip("csv manifests", "empty-text", "embed {t}/empty-text.csv -e minilm -o {x}", "1 skipped"),
    ok("csv manifests", "blank-label", CSV, labels([-1, 0, 1], ["cat", "dog"])),
    ok("csv manifests", "bom", CSV, rows(2, ["cat", "dog"])),
    ok("csv manifests", "good", CSV, rows(2, ["cat", "dog"])),
]
IMPORT = "store import {t}/vec/{case} -o {x}"
VECTORS = [
    error("imported vectors", "complex.npy", IMPORT, "vectors are complex"),
    error("imported vectors", "pickle.parquet", IMPORT, "not a readable Parquet"),
    error("imported vectors", "random.parquet", IMPORT, "not a readable Parquet"),
    error("imported vectors", "object.npy", IMPORT, "never unpickles"),
    error("imported vectors", "strings.parquet", IMPORT, "is string"),
    error("imported vectors", "list-strings.parquet", IMPORT, "expected a list of numbers"),
    error("imported vectors", "nan.npy", IMPORT, "is nan"),
    error("imported vectors", "inf.npy", IMPORT, "row 1, column 0 is inf"),
    error("imported vectors", "beyond-f32.npy", IMPORT, "is 1e+300, beyond float32's range"),
    error("imported vectors", "tiny.npz", IMPORT, "median length is"),
    error("imported vectors", "huge.npz", IMPORT, "outside 0.0001..1e+08"),
    error("imported vectors", "no-rows.parquet", IMPORT, "has no rows"),
    error("imported vectors", "empty.npy", IMPORT, "empty array"),
    error("imported vectors", "ragged.parquet", IMPORT, "row 1 has length 1"),
    error("imported vectors", "null-vector.parquet", IMPORT, "-1 = missing"),
    error("imported vectors", "one-d.npy", IMPORT, "expected a 2-D"),
    error("imported vectors", "three-d.npy", IMPORT, "expected a 2-D"),
    error("imported vectors", "no-vectors.npz", IMPORT, "no array named vectors"),
    error("imported vectors", "duplicate-ids.parquet", IMPORT, "ids are not unique"),
    error("imported vectors", "fractional.npz", IMPORT, "labels are fractional"),
    error("imported vectors", "short-labels.npz", IMPORT, "3 labels for 6 vectors"),
    error("imported vectors", "split-validation.parquet", IMPORT, "['validation'] are not among"),
    error("imported vectors", "extra-float.parquet", IMPORT, "['score'] are not feature columns"),
    error("imported vectors", "vectors.txt", IMPORT, "unsupported file type"),
    error("imported vectors", "none.npy", IMPORT, "does not exist"),
    ok("imported vectors", "null-labels.parquet", IMPORT, labels([0, -1, 1, 0, -1, 1], ["a", "b"])),
    ok("imported vectors", "nan-labels.npz", IMPORT, labels([0, 1, -1, 0, 1, -1], ["0", "1"])),
    ok("imported vectors", "wide.parquet", IMPORT, rows(6, ["a", "b"])),
    ok("imported vectors", "int.npy", IMPORT, item("5", lambda v: v.tolist() == [10.0, 11.0])),
    ok("imported vectors", "f16.npy", IMPORT, rows(6)),
]
STORES = [
    error("stores", "info-not-a-store", "store info {t}", "not a headstart store"),
    error("stores", "eval-not-a-store", "eval {t}/nothing", "not a headstart store"),
    error(
        "stores", "curve-not-a-store", "eval learning-curve {t}/nothing", "not a headstart store"
    ),
    error(
        "stores",
        "eval-tampered",
        "eval {t}/stores/tampered --shots 1 --heads prototype",
        "checksum mismatch",
    ),
    error(
        "stores", "predict-tampered", "predict {m} {t}/stores/tampered -o {x}", "checksum mismatch"
    ),
    error(
        "stores",
        "verify-tampered",
        "store info {t}/stores/tampered --verify",
        "failed verification",
        1,
    ),
    error(
        "stores",
        "eval-no-shard",
        "eval {t}/stores/no-shard --shots 1 --heads prototype",
        "shard-00000",
    ),
    error("stores", "info-bad-manifest", "store info {t}/stores/bad-manifest", "manifest.json"),
    error("stores", "eval-one-class", "eval {t}/stores/one-class --shots 1", "a single class"),
    error(
        "stores", "fit-one-class", "fit {t}/stores/one-class --head gda -o {x}", "a single class"
    ),
    error("stores", "eval-unlabelled", "eval {t}/stores/unlabelled --shots 1", "label"),
    error("stores", "no-text-side", "eval {s} --heads zero-shot --shots 0", "has no text side"),
    error("stores", "prompts-no-text", "prompts {s} --templates a_{{}}", "has no text side"),
    ok(
        "stores", "cache-hit", "embed digits -e raw-pixels -o {s} --limit 200", fragment="cache hit"
    ),
    ok("stores", "verify-intact", "store info {s} --verify", fragment="problems"),
]
EVAL = "eval {s} --heads prototype --seeds 2 -o {x} "
TAIL = "eval {t}/stores/long-tail --heads prototype --seeds 2 --shots 1,4 -o {x} --shots-policy "
HEADS = [
    error(
        "heads and eval",
        "no-head-runs",
        "eval {s} --shots 0 --heads linear-probe -o {x}",
        "no head among ['linear-probe'] has a result",
    ),
    error(
        "heads and eval",
        "short-classes",
        EVAL + "--shots 50",
        "fewer training items than the shots",
    ),
    error(
        "heads and eval",
        "knn-k-0",
        "fit {s} --head knn -o {x} --param n_neighbors=0",
        "n_neighbors must be at least 1",
    ),
    error("heads and eval", "fit-zero-shot", "fit {s} --head zero-shot -o {x}", "has no text side"),
    ok(
        "heads and eval",
        "up-to",
        TAIL + "up-to",
        summary(lambda s: s["provenance"].get("shots_policy") == "up-to"),
    ),
    ok(
        "heads and eval",
        "drop",
        TAIL + "drop",
        summary(lambda s: s["provenance"].get("shots_policy") == "drop"),
    ),
    error(
        "heads and eval",
        "drop-everything",
        EVAL + "--shots 1,50 --shots-policy drop",
        "leaves 0 class(es) at 50 shots",
    ),
    ok(
        "heads and eval",
        "fit-zero-shot-text",
        "fit {t}/text-store --head zero-shot -o {x}",
        lambda x: (x / "model.json").exists(),
    ),
    ok("heads and eval", "all-shots", EVAL + "--shots all", exists),
    ok(
        "heads and eval",
        "zero-and-one",
        "eval {s} --heads prototype,linear-probe --shots 0,1 -o {x}",
        exists,
    ),
]
PREDICT = "predict {t}/models/{case} {s} -o {x}"
MODELS = [
    error("model files", "invalid-json", PREDICT, "is not valid JSON"),
    error("model files", "unknown-param", PREDICT, "gda has no parameter 'foo'"),
    error("model files", "unknown-kind", PREDICT, "gdaa"),
    error("model files", "shadow", PREDICT, "'predict_proba' is not fitted state of gda"),
    error("model files", "hand-edited", PREDICT, "metadata checksum mismatch"),
    error("model files", "path-key", PREDICT, "'q_/../../outside_' is not fitted state"),
    error("model files", "no-weights", PREDICT, "arrays.safetensors is missing"),
    error("model files", "truncated", PREDICT, "checksum mismatch"),
    error("model files", "corrupt-header", PREDICT, "is not a readable safetensors file"),
    error("model files", "swapped", PREDICT, "checksum mismatch"),
    error("model files", "nan-weights", PREDICT, "'coef_' holds NaN or infinite values"),
    error("model files", "bad-provenance", PREDICT, "provenance.json is not valid JSON"),
    error("model files", "no-provenance", PREDICT, "provenance.json is missing"),
    error("model files", "not-a-model", "predict {t} {s} -o {x}", "not a saved headstart model"),
    error(
        "model files",
        "other-encoder",
        "predict {m} {o} -o {x}",
        "was fitted on 'raw-pixels' features",
    ),
    error("model files", "wider-input", "predict {t}/models/d8 {t}/stores/d16 -o {x}", "16"),
    ok(
        "model files",
        "allow-other-encoder",
        "predict {m} {o} -o {x} --allow-other-encoder",
        predictions(200),
    ),
    ok("model files", "gda", PREDICT, predictions(200)),
    skip(
        "model files",
        "images",
        "predict {t}/models/images {t}/img/to-predict -o {x}.csv",
        "2 input(s) skipped",
        lambda x: predictions(2, skipped=2)(Path(f"{x}.csv")),
    ),
]
MIL = "mil eval --dataset {t}/mil/{case} --folds 2 --repeats 1 --epochs 2 --models mean -o {x}"
BAGS = [
    error("mil bags", "null-bag.parquet", MIL, "row 1 has no 'bag'"),
    error("mil bags", "null-features.parquet", MIL, "row 1 has no 'features'"),
    error("mil bags", "nan-features.parquet", MIL, "row 0 has NaN, infinite or missing features"),
    error("mil bags", "conflict.parquet", MIL, "has rows with labels"),
    error("mil bags", "no-rows.parquet", MIL, "no rows"),
    error(
        "mil bags", "labels-0-3.parquet", MIL.replace("--folds 2", "--folds 3"), "have fewer bags"
    ),
    error("mil bags", "twice", MIL, "is listed again"),
    error("mil bags", "corrupt", MIL, "s2.h5 cannot be read as HDF5"),
    error("mil bags", "truncated", MIL, "s2.h5 cannot be read as HDF5"),
    error("mil bags", "no-features", MIL, "features"),
    error("mil bags", "missing-slide", MIL, "s2"),
    error("mil bags", "no-labels", MIL, "labels.csv"),
    error(
        "mil bags", "predict-not-a-model", "mil predict {t} --dataset musk1 -o {x}", "not a saved"
    ),
    ok("mil bags", "string-labels.parquet", MIL, exists),
    ok("mil bags", "clam", MIL, exists),
    ok("mil bags", "predict", "mil predict {t}/mil/model --dataset musk1 -o {x}", exists),
]
OPEN = "eval open-set {s} --heads prototype --shots 2 --seeds 2 -o {x} "
SESSIONS = "eval incremental {s} --heads prototype --seeds 2 -o {x} "
OPEN_SET = [  # issue 13's bad inputs (added after the before/after count of issue 11)
    error("open set", "score-name", OPEN + "--scores mahalanobs", "Did you mean"),
    error("open set", "sessions-too-many", SESSIONS + "--sessions 9:2:3", "the store has 10"),
    error("open set", "sessions-spec", SESSIONS + "--sessions 4:2", "B:N:K"),
    error("open set", "reject-name", "fit {s} --head gda -o {x} --reject mlss", "Did you mean"),
    error("open set", "extend-plain", "fit {s} --extend {m} -o {x}", "known to"),
    error("open set", "unknown-fraction", OPEN + "--unknown-fraction 1.5", "must be in (0, 1)"),
    error("open set", "far-missing", OPEN + "--far {t}/nothing", "not a headstart store"),
    error("open set", "far-other-card", OPEN + "--far {o}", "with another card"),
    error(
        "open set", "predict-reject-name", "predict {m} {s} -o {x} --reject mlss", "Did you mean"
    ),
    error(
        "open set",
        "reject-tpr",
        "fit {s} --head gda -o {x} --reject mls --reject-tpr 2",
        "Invalid value",
    ),
    error(
        "open set",
        "extend-not-incremental",
        "fit {s} --extend {t}/models/gda -o {x}",
        "cannot add classes without a refit",
    ),
    ok(
        "open set",
        "open-set",
        OPEN + "--scores mls,knn",
        summary(lambda s: s["provenance"]["protocol"] == "open-set"),
    ),
    ok(
        "open set",
        "sessions",
        SESSIONS + "--sessions 4:2:3",
        summary(lambda s: s["provenance"]["protocol"] == "incremental"),
    ),
    ok(
        "open set",
        "open-set-calibrated",
        OPEN + "--scores mls --calibrate",
        summary(
            lambda s: {"nll_calibrated", "ece_calibrated"} <= {r["metric"] for r in s["summary"]}
        ),
    ),
    error("open set", "old-open-set-flag", "eval {s} --open-set", "eval open-set STORE"),
]
# issue 26: an option given to a protocol that does not take it is an error, never ignored —
# one row per (protocol, option of another protocol) pair
NOT_FOR = {
    "open-set": [
        "--label-noise symmetric:0.2",
        "--imbalance 50",
        "--shots-policy drop",
        "--classnames a,b",
        "--sessions 4:2:3",
        "--base-fraction 0.5",
    ],
    "incremental": [
        "--shots 2",
        "--calibrate",
        "--label-noise symmetric:0.2",
        "--far {s}",
        "--scores mls",
    ],
    "few-shot": [
        "--scores mls",
        "--far {s}",
        "--unknown-fraction 0.3",
        "--sessions 4:2:3",
        "--loss supcon",
        "--sizes 1,2",
    ],
    "learning-curve": ["--heads gda", "--seeds 2", "--calibrate", "--shots 2"],
    "base-novel": ["--calibrate", "--transforms center", "--label-noise symmetric:0.2"],
    "knn": ["--seeds 2", "--heads gda"],
    "clustering": ["--heads gda", "--shots 2"],
    "retrieval": ["--seeds 2", "--heads gda"],
    "geometry": ["--heads gda"],
    "instance-retrieval": ["--seeds 2"],
}
OPEN_SET += [
    error(
        "protocol options",
        f"{protocol}{option.split()[0]}",
        f"eval {protocol} {{s}} -o {{x}} {option}",
        f"No such option: {option.split()[0]}",
    )
    for protocol, options in NOT_FOR.items()
    for option in options
]
OPEN_SET += [  # what a new user tried on the protocol commands (issue 26 review)
    error("protocol options", "sizes-word", "eval learning-curve {s} --sizes 1,x", "got 'x'"),
    error("protocol options", "sizes-too-big", "eval learning-curve {s} --sizes 5000", "≤"),
    error("protocol options", "no-scores", OPEN + "--scores ,", "give at least one name"),
    error("protocol options", "no-heads", "eval {s} --heads ,", "give at least one name"),
    error("protocol options", "out-is-a-file", EVAL + "--shots 1 -o {t}/file", "is a file"),
    error("protocol options", "metric-not-measured", OPEN + "--metric nll", "not measured"),
    error("protocol options", "options-first", "eval --seeds 0 {s}", "Invalid value"),
    error("protocol options", "retrieval-index", "eval retrieval {s} --index lsh", "lsh"),
    error("protocol options", "geometry-target", "eval geometry {s} --target-error 0", "> 0"),
    ok(
        "names",
        "tfidf-from-the-cli",
        "embed {t}/texts.csv -e tfidf -o {x} -q --encoder-option dim=4",
        lambda x: _store(x) is not None and _store(x).card.extra["fitted_on"] != "",
    ),
    error(
        "names",
        "tfidf-dim",
        "embed {t}/texts.csv -e tfidf -o {x} --encoder-option dim=0",
        "dim must be an integer ≥ 1",
    ),
    error(
        "protocol options",
        "instance-no-queries",
        "eval instance-retrieval {s}",
        "no query in the store by the id convention",
    ),
    error(
        "protocol options",
        "instance-truth-missing",
        "eval instance-retrieval {s} --ground-truth {t}/none.csv",
        "does not exist",
    ),
]
QUALITY = [  # issue 14's bad inputs
    ok("quality", "audit", "audit {s} -o {x} -q", lambda x: (x / "issues.csv").is_file()),
    ok(
        "quality",
        "audit-no-labels",
        "audit {t}/stores/unlabelled -o {x} -q",
        lambda x: (x / "audit.html").is_file(),
        fragment="no labels",
    ),
    error(
        "quality",
        "audit-short-class",
        "audit {t}/stores/long-tail -o {x}",
        "3 labelled item(s) in the store;",
    ),
    error(
        "quality",
        "audit-fix-existing",
        "audit {s} -o {x} --fix relabel --fix-out {t}/file",
        "exists already",
    ),
    error("quality", "audit-fix-name", "audit {s} -o {x} --fix clean", "is not one of"),
    error("quality", "audit-detector", "audit {s} -o {x} --detectors cleanlab", "unknown detector"),
    error(
        "quality",
        "audit-attributes-length",
        "audit {s} -o {x} --attributes {t}/attrs-short.csv",
        "3 rows of attributes for the store's 200 items",
    ),
    error(
        "quality",
        "audit-attributes-missing",
        "audit {s} -o {x} --attributes {t}/no.csv",
        "does not exist",
    ),
    error("quality", "noise-kind", EVAL + "--shots 2 --label-noise gaussian:0.2", "symmetric:P"),
    error("quality", "noise-rate", EVAL + "--shots 2 --label-noise symmetric:1.5", "0 ≤ P < 1"),
    error("quality", "imbalance", EVAL + "--shots 2 --imbalance 0.5", "Invalid value"),
    ok(
        "quality",
        "noise",
        EVAL + "--shots 2 --label-noise symmetric:0.2 --imbalance 2",
        summary(lambda s: "noise symmetric:0.2 · imbalance 2" in s["provenance"]["store"]),
    ),
]
ADAPT = [  # issue 15's bad inputs
    ok(
        "adapt",
        "adapt",
        "adapt {t}/stores/d8 -o {x} --loss supcon --epochs 2 --batch-size 8 -q",
        lambda x: (x / "adapter.json").is_file() and (x / "weights.safetensors").is_file(),
    ),
    error("adapt", "labels", "adapt {t}/stores/unlabelled -o {x} --loss supcon", "needs labels"),
    error("adapt", "batch", "adapt {t}/stores/d8 -o {x} --batch-size 500", "batch size 500"),
    error("adapt", "loss-name", "adapt {t}/stores/d8 -o {x} --loss supconn", "supcon"),
    error(
        "adapt", "adapter-name", "adapt {t}/stores/d8 -o {x} --adapter mlp", "unknown adapter 'mlp'"
    ),
    error(
        "adapt",
        "transform-width",
        "store transform {t}/stores/d16 --adapter {t}/adapter-d8 -o {x}",
        "takes 8-d vectors",
    ),
    error(
        "adapt",
        "transform-not-adapter",
        "store transform {t}/stores/d8 --adapter {t}/stores/d16 -o {x}",
        "is not a saved adapter",
    ),
    error(
        "adapt",
        "adapt-existing",
        "adapt {t}/stores/d8 -o {t}/adapter-d8",
        "exists already",
    ),
    error("adapt", "no-background", "adapt {t}/stores/d8 -o {x} --loss sepclr", "give one"),
    error("adapt", "no-views", "adapt {t}/stores/d8 -o {x} --loss transitive", "--views"),
    error(
        "adapt",
        "adapter-option",
        "adapt {t}/stores/d8 -o {x} --adapter-option width=3 --batch-size 8",
        "has no option 'width'",
    ),
    error(
        "adapt",
        "background-dim",
        "adapt {t}/stores/d8 -o {x} --loss sepclr --background {t}/stores/d16 --batch-size 8",
        "the background store has 16-d vectors",
    ),
    error(
        "adapt",
        "sepclr-odd-width",
        "adapt {t}/stores/d8 -o {x} --loss sepclr --background {t}/stores/d8 --batch-size 8 "
        "--adapter linear --adapter-option d_out=7",
        "width 7 is odd",
    ),
    ok(
        "adapt",
        "tune-from-store",
        "adapt {t}/text-store --encoder minilm -o {x} --epochs 1 --num-iterations 1 -q",
        lambda x: (x / "headstart-encoder.json").is_file() and (x / "model.safetensors").is_file(),
    ),
    error("adapt", "tune-images", "adapt digits --encoder minilm -o {x}", "needs texts"),
    error(
        "adapt",
        "pairs-without-encoder",
        "adapt {t}/stores/d8 -o {x} --pairs in-batch",
        "only apply to fine-tuning a body",
    ),
    error(
        "adapt",
        "tune-pairs",
        "adapt {t}/text-store --encoder minilm -o {x} --pairs all",
        "pairs must be one of setfit, in-batch",
    ),
    error(
        "adapt",
        "tune-vectors",
        "adapt {t}/stores/d8 --encoder minilm -o {x}",
        "holds imported vectors",
    ),
    error(
        "adapt",
        "tuned-not-saved",
        "embed digits --encoder tuned:{t}/stores/d8 -o {x}",
        "not saved by `headstart adapt`",
    ),
]
SERVE = [
    error("serve", "engine", "embed digits -e raw-pixels -o {x} --engine sparky", "unknown engine"),
    error("serve", "predict-engine", "predict {m} {s} -o {x} --engine sparky", "unknown engine"),
    error("serve", "kind", "index {s} -o {x} --kind annoy", "is not one of"),
    error("serve", "index-not-store", "index {t}/file -o {x}", "manifest"),
    ok("serve", "index", "index {s} -o {x}", lambda x: (x / "index.faiss").is_file()),
    error("serve", "text-on-images", "search {t}/index shoe", "holds image vectors"),
    error(
        "serve",
        "image-on-texts",
        "search {t}/text-index {t}/img/mixed/train/cat/a.png",
        "is an image",
    ),
    error("serve", "query-dim", "search {t}/index --vectors {t}/vec/d8.npz", "queries are 8-d"),
    error("serve", "search-a-store", "search {s} shoe", "not a headstart index"),
    error("serve", "nothing", "search {t}/index", "nothing to search for"),
    error("serve", "empty-token", "serve {m} --token=", "bearer token is empty"),
    error("serve", "serve-a-store", "serve {s}", "not a saved headstart model"),
    error("serve", "serve-nothing", "serve", "nothing to serve"),
]
BENCH_SHORT = "bench --datasets digits --encoders raw-pixels --tasks knn -o {x}"
BENCH = [  # issue 27: suites checked before any work; a store that cannot be built is reported
    error("bench", "malformed-suite", "bench {t}/suites/malformed.toml -o {x}", "line 6"),
    error("bench", "unknown-dataset", "bench {t}/suites/unknown-dataset.toml -o {x}", "digitz"),
    error("bench", "no-tasks", "bench {t}/suites/no-tasks.toml -o {x}", "names no tasks"),
    error("bench", "bad-setting", "bench {t}/suites/bad-setting.toml -o {x}", "task 'knn'"),
    error("bench", "unknown-key", "bench {t}/suites/unknown-key.toml -o {x}", "no key 'size'"),
    error("bench", "bad-score", "bench {t}/suites/bad-score.toml -o {x}", "'nmi' is not measured"),
    error("bench", "not-utf8", "bench {t}/suites/not-utf8.toml -o {x}", "not UTF-8"),
    error("bench", "no-suite-file", "bench {t}/suites/none.toml -o {x}", "does not exist"),
    error(
        "bench",
        "unknown-encoder",
        "bench --datasets digits --encoders mobilenet --tasks knn -o {x}",
        "Did you mean 'mobilenetv2'",
    ),
    error(
        "bench",
        "unknown-task",
        "bench --datasets digits --encoders raw-pixels --tasks retreival -o {x}",
        "unknown protocol 'retreival'",
    ),
    error("bench", "bag-task", BENCH_SHORT.replace("knn", "mil-cv"), "reads bags"),
    error("bench", "short-form-half", "bench --datasets digits -o {x}", "--encoders, --tasks"),
    error("bench", "both-forms", "bench {t}/suites/no-tasks.toml --tasks knn -o {x}", "not both"),
    error("bench", "engine", BENCH_SHORT + " --engine spark", "choose local or ray"),
    error("bench", "ray-address-local", BENCH_SHORT + " --ray-address x:1", "--engine ray only"),
    ok(
        "bench",
        "store-cannot-be-built",
        "bench --datasets {t}/texts.csv,digits --encoders raw-pixels --tasks knn --limit 60 "
        "-o {x} -q",
        lambda x: _bench_failed(x, "texts.csv"),
        fragment="holds text items",
    ),
]

CORRUPT = "eval corruptions {s} -o {x}"
GROUPS = "eval groups {s} --heads prototype -o {x} --groups {t}/groups/"
EXPLAIN = "explain {t}/models/text {t}/explain-img -o {x}"
ROBUSTNESS = [  # issue 28: corruptions, groups and attributions refuse what they cannot do
    error(
        "robustness",
        "unknown-corruption",
        CORRUPT + " --corruptions gaussian-nose",
        "Did you mean 'gaussian-noise'",
    ),
    error(
        "robustness",
        "unknown-family",
        CORRUPT + " --corruptions weathr",
        "unknown corruption 'weathr'",
    ),
    error("robustness", "severity-0-6", CORRUPT + " --severities 0-6", "severities are 1 to 5"),
    error("robustness", "severity-6", CORRUPT + " --severities 6", "severities are 1 to 5"),
    error("robustness", "severity-range-backwards", CORRUPT + " --severities 5-1", "ranges (1-5)"),
    error("robustness", "severity-word", CORRUPT + " --severities high", "ranges (1-5)"),
    error("robustness", "corruption-size-16", CORRUPT + " --corruption-size 16", "at least 32"),
    error(
        "robustness",
        "corruptions-vectors",
        "eval corruptions {t}/stores/d8 -o {x}",
        "apply to images",
    ),
    error(
        "robustness",
        "corruptions-text",
        "eval corruptions {t}/text-store -o {x}",
        "apply to images",
    ),
    error(
        "robustness",
        "baseline-text-encoder",
        CORRUPT + " --baseline minilm --corruptions fog --severities 1",
        "takes text items",
    ),
    error(
        "robustness",
        "baseline-unknown",
        CORRUPT + " --baseline raw-pixel --corruptions fog --severities 1",
        "Did you mean 'raw-pixels'",
    ),
    error("robustness", "groups-missing-items", GROUPS + "missing.csv", "misses"),
    error("robustness", "groups-unknown-ids", GROUPS + "unknown.csv", "'ghost'"),
    error("robustness", "groups-blank-value", GROUPS + "blank.csv", "has no 'site'"),
    error(
        "robustness", "groups-no-attributes", GROUPS + "no-attributes.csv", "no attribute columns"
    ),
    error("robustness", "groups-no-file", GROUPS + "none.csv", "does not exist"),
    error(
        "robustness",
        "groups-no-column",
        "eval groups {s} --heads prototype -o {x}",
        "no group column",
    ),
    error(
        "robustness",
        "dfr-outside-groups",
        "eval {s} --heads dfr -o {x}",
        "under the groups protocol",
    ),
    error("robustness", "explain-text-model", EXPLAIN, "fitted on text features"),
    error(
        "robustness",
        "explain-vectors-model",
        EXPLAIN.replace("models/text", "models/d8"),
        "computed on images",
    ),
    error(
        "robustness", "explain-distance-head", "explain {m} {t}/explain-img -o {x}", "linear heads"
    ),
    error(
        "robustness",
        "explain-unknown-method",
        EXPLAIN + " --methods gradients",
        "Did you mean 'gradient'",
    ),
    error(
        "robustness",
        "explain-no-images",
        EXPLAIN.replace("explain-img", "nowhere"),
        "does not exist",
    ),
    error(
        "robustness",
        "colored-source",
        "embed colored-mnist --dataset-option source=shoes -o {x}",
        "one of digits, clothing",
    ),
    error(
        "robustness",
        "colored-rate",
        "embed colored-mnist --dataset-option train_rate=1.5 -o {x}",
        "a share between 0 and 1",
    ),
]

EMBED_SLIDES = "slides embed {t}/wsi/good --encoder raw-pixels --size 64 --mpp 1 -o {x} -q"
MIXED = EMBED_SLIDES.replace("wsi/good", "wsi/mixed")
WSI_EVAL = "mil eval --dataset {t}/wsi/bags --folds 2 --repeats 1 --epochs 2 -o {x}"
HEATMAP = "slides heatmap {t}/wsi/attention {t}/wsi/bags -o {x}"


def _slide_status(x: Path) -> dict[str, str]:
    record = json.loads((x / "bags.json").read_text())
    return {s["id"]: s["status"] for s in record["slides"]}


SLIDES = [  # issue 29: slides, bag stores and heat maps
    error("slides", "no-folder", EMBED_SLIDES.replace("wsi/good", "wsi/nowhere"), "does not exist"),
    error("slides", "no-slides", EMBED_SLIDES.replace("wsi/good", "wsi/empty"), "no slide files"),
    skip(
        "slides",
        "unusable-slides",
        MIXED,
        "skipped fake: fake.svs cannot be read as a whole-slide image",
        lambda x: (
            _slide_status(x)
            == {"blank": "skipped", "fake": "skipped", "good": "done", "nompp": "skipped"}
        ),
    ),
    skip("slides", "no-tissue", MIXED, "skipped blank: no tissue found"),
    skip("slides", "missing-mpp", MIXED, "skipped nompp: slide nompp.tiff has no microns per"),
    ok(
        "slides",
        "mpp-given",
        MIXED + " --slide-mpp 0.5",
        lambda x: _slide_status(x)["nompp"] == "done",
    ),
    error("slides", "mpp-word", MIXED + " --slide-mpp half", "neither a number nor"),
    error("slides", "mpp-csv-word", MIXED + " --slide-mpp {t}/wsi/mpp.csv", "is not a number"),
    skip("slides", "upsampling", EMBED_SLIDES.replace("--mpp 1", "--mpp 0.25"), "coarser than"),
    skip(
        "slides",
        "corrupt-tile",
        EMBED_SLIDES.replace("wsi/good", "wsi/corrupt"),
        "unreadable patches skipped",
        lambda x: json.loads((x / "bags.json").read_text())["slides"][0]["unreadable"] >= 1,
    ),
    error("slides", "preset-unknown", EMBED_SLIDES + " --preset tcg", "choose one of"),
    error("slides", "tissue-even-median", EMBED_SLIDES + " --tissue mthresh=4", "must be odd"),
    error("slides", "tissue-unknown", EMBED_SLIDES + " --tissue thresh=4", "unknown parameter"),
    error("slides", "min-tissue", EMBED_SLIDES + " --min-tissue 1.5", "between 0 and 1"),
    error("slides", "size-4", EMBED_SLIDES.replace("--size 64", "--size 4"), "at least 8"),
    error("slides", "mpp-0", EMBED_SLIDES.replace("--mpp 1", "--mpp 0"), "must be positive"),
    error("slides", "text-encoder", EMBED_SLIDES.replace("raw-pixels", "minilm"), "takes text"),
    error("slides", "backend", EMBED_SLIDES + " --backend pyvips", "choose auto"),
    error("slides", "concurrency-local", EMBED_SLIDES + " --concurrency 2", "--engine ray only"),
    error(
        "slides",
        "other-recipe",
        "slides embed {t}/wsi/good --encoder raw-pixels --size 96 --mpp 1 -o {t}/wsi/bags -q",
        "another encoder or patching recipe",
    ),
    ok(
        "slides",
        "mil-eval",
        WSI_EVAL + " --models mean --labels {t}/wsi/labels.csv",
        lambda x: (x / "summary.json").is_file(),
    ),
    error("slides", "mil-eval-no-labels", WSI_EVAL, "has no labels.csv"),
    error(
        "slides",
        "mil-eval-ghost-slide",
        WSI_EVAL + " --labels {t}/wsi/ghost.csv",
        "'ghost' is not in bag store",
    ),
    error(
        "slides",
        "labels-for-musk",
        WSI_EVAL.replace("{t}/wsi/bags", "musk1") + " --labels {t}/wsi/labels.csv",
        "apply to a bag store or a feature folder",
    ),
    ok(
        "slides",
        "heatmap",
        HEATMAP + " --top 2",
        lambda x: len(json.loads((x / "heatmaps.json").read_text())["slides"]) == 4,
    ),
    error("slides", "heatmap-mean", HEATMAP.replace("attention", "mean"), "has no attention"),
    error("slides", "heatmap-ghost", HEATMAP + " --slides ghost", "not embedded"),
    error("slides", "heatmap-top-0", HEATMAP + " --top 0", "top must be"),
    error(
        "slides",
        "heatmap-moved",
        HEATMAP + " --slides-dir {t}/wsi/empty",
        "give the folder it moved to",
    ),
    error(
        "slides", "report-no-heatmaps", "report {t}/wsi/run -o {x}.html --slides {t}", "no heatmaps"
    ),
]

PROMPT_FIT = "fit {t}/text-store -o {x} --head "
PROMPTS = [  # issue 30: prompts learned through the text encoder refuse what they cannot learn
    error("prompts", "no-text-side", "fit {s} --head coop -o {x}", "has no text side"),
    error("prompts", "context-0", PROMPT_FIT + "coop --param n_ctx=0", "at least 1 slot"),
    error("prompts", "encoder-gru", PROMPT_FIT + "pre --param prompt_encoder=gru", "choose one"),
    error("prompts", "cones-lr-0", PROMPT_FIT + "cones --param lr=0", "must be positive"),
    ok(
        "prompts",
        "coop-fit",
        PROMPT_FIT + "coop --param epochs=2",
        lambda x: (x / "model.json").is_file(),
    ),
]

CASES: list[Case] = OPTIONS + NAMES + OUTPUTS + IMAGES + MANIFESTS + VECTORS + STORES + HEADS
CASES += MODELS + BAGS + OPEN_SET + QUALITY + ADAPT + SERVE + BENCH + ROBUSTNESS + SLIDES
CASES += PROMPTS


# ---- running and sorting ---------------------------------------------------------------------


def command(case: Case, t: Path, x: Path) -> list[str]:
    names = {"t": t, "x": x, "s": t / "s", "m": t / "m", "o": t / "o", "case": case.name}
    return case.args.format(**names).split()


def run(case: Case, t: Path, x: Path, main: Callable[[], None]) -> tuple[int, str, bool]:
    """Run the CLI in this process: (exit code, output, whether an exception escaped)."""
    out, err = io.StringIO(), io.StringIO()
    argv, sys.argv = sys.argv, ["headstart", *command(case, t, x)]
    code, raised = 0, False
    x.parent.mkdir(parents=True, exist_ok=True)
    try:
        with redirect_stdout(out), redirect_stderr(err), chdir(x.parent):  # default outputs
            main()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except Exception as exception:
        code, raised = 1, True
        err.write(f"Traceback: {type(exception).__name__}: {exception}")
    finally:
        sys.argv = argv
    text = (out.getvalue() + err.getvalue()).replace("│", " ")  # rich boxes wrap long lines
    return code, " ".join(text.split()), raised


def outcome(case: Case, code: int, output: str, raised: bool, x: Path) -> str:
    """One of: clear error, skipped and reported, handled correctly (the expected results);
    traceback, silent wrong result, refused a valid input, other message (the failures)."""
    if raised or "Traceback" in output:
        return "traceback"
    if code != 0:
        if case.expect != "error":
            return "refused a valid input"
        return "clear error" if case.fragment in output and code == case.code else "other message"
    if case.expect == "error":
        return "silent wrong result"
    try:
        correct = case.check is None or case.check(x)
    except Exception:
        correct = False
    if not correct or case.fragment not in output:
        return "silent wrong result"
    return "skipped and reported" if case.expect == "skip" else "handled correctly"


EXPECTED = {"error": "clear error", "skip": "skipped and reported", "ok": "handled correctly"}
