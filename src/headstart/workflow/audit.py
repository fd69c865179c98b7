"""`audit_store`: label errors, duplicates, outliers and (given attributes) feature bias of one
store, written as tidy CSVs, a JSON summary and an HTML page; `fix` writes a cleaned copy.

Label errors are found split by split: each split's labelled items are cross-fitted among
themselves, so a test label never shapes a verdict on a training item (or the reverse).
Everything that can refuse the run (missing labels aside) is checked before any work.
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from headstart.exceptions import DataError
from headstart.heads import create_head
from headstart.output import FolderLock, check_writable, remove
from headstart.progress import progress_bar
from headstart.quality.cross_fit import out_of_fold_proba
from headstart.quality.detectors import DEFAULT_DETECTORS, DETECTORS, run_detector
from headstart.quality.duplicates import exact_groups, near_groups, split_leaks
from headstart.quality.feature_bias import feature_bias
from headstart.quality.outliers import class_outliers
from headstart.store import Store
from headstart.store.derive import derive_store
from headstart.workflow.items import image_statistics
from headstart.workflow.splits import OFFICIAL, store_rows

FIXES = ("relabel", "drop")
SUMMARY = "audit.json"  # renamed into place last: it names the tables beside it
REPORT_FILES = ("issues.csv", "duplicates.csv", "outliers.csv", "feature_bias.csv", "audit.html")


@dataclass
class AuditResult:
    """Where the audit wrote its files, and what it found."""

    out: Path
    summary: dict[str, Any]
    issues: list[dict[str, Any]] = field(default_factory=list)
    fixed: Path | None = None


def read_attributes(path: str | Path, store: Store) -> dict[str, np.ndarray]:
    """Item attributes from a CSV with an `id` column, in the store's row order."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"attributes file {path} does not exist")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or "id" not in rows[0]:
        raise DataError(f"{path}: expected a header with an 'id' column and attribute columns")
    if len(rows) != len(store):
        raise DataError(
            f"{path}: {len(rows)} rows of attributes for the store's {len(store)} items; give "
            "one row per item"
        )
    by_id = {row["id"]: row for row in rows}
    missing = [i for i in store.ids if i not in by_id]
    if missing:
        raise DataError(f"{path}: no row for item id {missing[0]!r} ({len(missing)} missing)")
    out = {}
    for column in (c for c in rows[0] if c != "id"):
        values = [by_id[i][column] for i in store.ids]
        try:
            out[column] = np.array([float(v) for v in values])
        except ValueError:
            out[column] = np.array(values, dtype=object)
    return out


def _where(part: object) -> str:
    """How a message names a split: "split 'train'", or "the store" when it has no splits."""
    return "the store" if str(part) == "None" else f"split {str(part)!r}"


def _leak_parts(store: Store, split: np.ndarray) -> np.ndarray:
    """Train and test as the split rule draws them: the official split, or the 30% holdout
    eval tests on (a near-duplicate across it inflates eval's numbers just the same)."""
    try:
        rows = store_rows(store, classes=0)
    except DataError:  # no holdout possible: nothing evaluates on this store either
        return split
    return split if rows.rule == OFFICIAL else rows.parts(len(split))


def _check_classes(labels: np.ndarray, split: np.ndarray, names: list[str], folds: int) -> None:
    for part in np.unique(split):
        rows = (split == part) & (labels >= 0)
        if not rows.any():
            continue
        counts = np.bincount(labels[rows])
        present = np.flatnonzero(counts)
        if len(present) < 2:
            raise DataError(
                f"{_where(part)} has labelled items of one class only: no errors to find"
            )
        short = [c for c in present if counts[c] < folds]
        if short:
            c = short[0]
            raise DataError(
                f"class {names[c] if c < len(names) else c!r} has {counts[c]} labelled item(s) "
                f"in {_where(part)}; label-error detection cross-fits {folds} folds and needs "
                f"≥ {folds} items per class (lower --folds, or relabel or drop the class)"
            )


def audit_store(
    store_path: str | Path,
    out: str | Path,
    *,
    head: str = "gda",
    detectors: Sequence[str] = DEFAULT_DETECTORS,
    primary: str = "confident-learning",
    folds: int = 5,
    threshold: float = 0.97,
    attributes: str | Path | None = None,
    image_stats: bool = False,
    fix: str | None = None,
    fix_out: str | Path | None = None,
    seed: int = 0,
    progress: bool = True,
) -> AuditResult:
    """Audit `store_path` into folder `out`: issues.csv, duplicates.csv, outliers.csv,
    feature_bias.csv (with `attributes`, a CSV of `id` + columns, or `image_stats`: the
    source images' brightness and contrast; the table then also holds the labels),
    audit.json and audit.html. `fix` "relabel" or "drop" writes a new store (to `fix_out`,
    default `out/store-<fix>`) with the primary detector's flagged items relabelled to its
    suggestion or dropped; the audited store is never changed."""
    started = time.perf_counter()
    store = Store(store_path)
    detectors = tuple(detectors)
    unknown = [d for d in (*detectors, primary) if d not in DETECTORS]
    if unknown:
        DETECTORS.entry(unknown[0])  # raises: the name, close matches and the registered ones
    if primary not in detectors:
        detectors = (*detectors, primary)
    if fix is not None and fix not in FIXES:
        raise DataError(f"--fix must be one of {', '.join(FIXES)}, got {fix!r}")
    if folds < 2:
        raise DataError(f"--folds must be at least 2, got {folds}")
    out = check_writable(out, "audit folder")
    fix_path = Path(fix_out) if fix_out else out / f"store-{fix}"
    if fix and fix_path.exists():
        raise DataError(f"{fix_path} exists already; --fix writes a new store to a new folder")
    if fix and fix_path.resolve() == store.root.resolve():
        raise DataError("--fix never writes over the audited store; choose another folder")
    with FolderLock(out, "audit folder"):  # one audit writes a folder at a time
        X = store.vectors()
        labels, split, names = store.labels, np.asarray(store.split).astype(str), store.class_names
        labelled = labels >= 0
        notes = []
        if labelled.any():
            _check_classes(labels, split, names, folds)
        else:
            notes.append("the store has no labels: only duplicates and outliers (unlabelled) ran")
        attribute_values = read_attributes(attributes, store) if attributes else None
        if image_stats:
            attribute_values = {**image_statistics(store), **(attribute_values or {})}
        with progress_bar(progress) as bar:
            parts = [p for p in np.unique(split) if (labelled & (split == p)).any()]
            task = bar.add_task("label errors", total=len(parts) * (1 + len(detectors)))
            verdicts: dict[str, Any] = {}
            suggestion = np.full(len(labels), -1)
            for part in parts:
                rows = np.flatnonzero(labelled & (split == part))
                classes, local = np.unique(labels[rows], return_inverse=True)
                model = create_head(head)
                proba = out_of_fold_proba(model, X[rows], local, folds, seed)
                bar.advance(task)
                for name in detectors:
                    found = run_detector(name, X[rows], local, proba, model, seed)
                    verdict = verdicts.setdefault(
                        name,
                        {
                            "score": np.full(len(labels), np.nan),
                            "flag": np.zeros(len(labels), bool),
                        },
                    )
                    verdict["score"][rows], verdict["flag"][rows] = found.score, found.flag
                    if name == primary:
                        suggestion[rows] = classes[found.suggestion]
                    bar.advance(task)
            task = bar.add_task("duplicates", total=2)
            exact = exact_groups(X)
            bar.advance(task)
            near = near_groups(X, threshold)
            bar.advance(task)
            task = bar.add_task("outliers", total=1)
            outlier_z, outlier_flag = class_outliers(X, labels)
            bar.advance(task)
            bias = []
            if attribute_values is not None:
                if labelled.all():
                    attribute_values = {"label": labels, **attribute_values}
                task = bar.add_task("feature bias", total=1)
                bias = feature_bias(X, attribute_values, seed=seed)
                bar.advance(task)

        issues = _issue_rows(store, verdicts, primary, suggestion)
        leaks = split_leaks(near, _leak_parts(store, split))
        groups = _group_rows(store, exact, near, leaks)
        summary = {
            "store": str(store.root),
            "store_key": store.key,
            "items": len(labels),
            "labelled": int(labelled.sum()),
            "head": head,
            "folds": folds,
            "detectors": list(detectors),
            "primary": primary,
            "flagged": {n: int(v["flag"].sum()) for n, v in verdicts.items()},
            "exact_duplicate_groups": len(exact),
            "near_duplicate_groups": len(near),
            "near_threshold": threshold,
            "train_test_leaks": len(leaks),
            "outliers": int(outlier_flag.sum()),
            "feature_bias": bias,
            "notes": notes,
        }
        with _report_set(out) as staging:  # moved into `out` at the end, summary last
            _write_csv(staging / "issues.csv", issues)
            _write_csv(staging / "duplicates.csv", groups)
            outliers = [
                {
                    "id": store.ids[i],
                    "split": split[i],
                    "label": _name(names, labels[i]),
                    "z": round(float(outlier_z[i]), 3),
                }
                for i in np.argsort(-np.nan_to_num(outlier_z, nan=-np.inf))
                if outlier_flag[i]
            ]
            _write_csv(staging / "outliers.csv", outliers)
            if bias:
                _write_csv(staging / "feature_bias.csv", bias)
            fixed = fix_path if fix and verdicts else None
            if fixed is not None:
                summary["fixed_store"] = str(fixed)
            summary["seconds"] = round(time.perf_counter() - started, 2)
            from headstart.report.audit_page import write_audit_page

            write_audit_page(staging / "audit.html", store, summary, issues, groups, outliers)
            (staging / SUMMARY).write_text(json.dumps(summary, indent=1, default=str))
            if fixed is not None:  # last but the renames: a kill before leaves no fixed store
                _fix(store, fix, fixed, verdicts[primary]["flag"], suggestion, primary)
        return AuditResult(out, summary, issues, fixed)


def _name(names: list[str], label: int) -> str:
    return "" if label < 0 else (names[label] if label < len(names) else str(label))


def _issue_rows(store: Store, verdicts: dict, primary: str, suggestion: np.ndarray) -> list[dict]:
    if not verdicts:
        return []
    names, labels = store.class_names, store.labels
    any_flag = np.any([v["flag"] for v in verdicts.values()], axis=0)
    order = np.argsort(-np.nan_to_num(verdicts[primary]["score"], nan=-np.inf), kind="stable")
    rows = []
    for i in order[any_flag[order]]:
        row = {
            "id": store.ids[i],
            "split": str(store.split[i]),
            "label": _name(names, labels[i]),
            "suggested": _name(names, suggestion[i]),
            "flagged_by": ";".join(n for n, v in verdicts.items() if v["flag"][i]),
        }
        row.update({f"{n}_score": round(float(v["score"][i]), 4) for n, v in verdicts.items()})
        rows.append(row)
    return rows


def _group_rows(
    store: Store, exact: list[list[int]], near: list[list[int]], leaks: list[list[int]]
) -> list[dict]:
    rows, names = [], store.class_names
    exact_sets = {frozenset(g) for g in exact}
    leaked = {frozenset(g) for g in leaks}
    for number, group in enumerate(near):
        kinds = "exact" if frozenset(group) in exact_sets else "near"
        leak = frozenset(group) in leaked
        for i in group:
            rows.append(
                {
                    "group": number,
                    "id": store.ids[i],
                    "split": str(store.split[i]),
                    "label": _name(names, store.labels[i]),
                    "kind": kinds,
                    "train_test_leak": leak,
                }
            )
    return rows


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        if not rows:
            handle.write("")
            return
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@contextmanager
def _report_set(out: Path) -> Iterator[Path]:
    """A hidden folder inside `out` to write the report files into, published into `out` by
    `_publish` when the block ends without error, and removed in any case."""
    staging = out / ".audit.partial"
    remove(staging)  # what a killed audit left
    staging.mkdir(parents=True)
    try:
        yield staging
        _publish(staging, out)
    finally:
        remove(staging)


def _publish(staging: Path, out: Path) -> None:
    """Move the report set from `staging` into `out`, replacing the previous one: the old
    summary goes first and the new one comes last, so a summary on disk always belongs to
    the tables beside it (a kill in between leaves tables without a summary, never a
    summary with another run's tables)."""
    (out / SUMMARY).unlink(missing_ok=True)
    for name in REPORT_FILES:
        if (staging / name).exists():
            os.replace(staging / name, out / name)
        else:
            (out / name).unlink(missing_ok=True)  # an earlier run's table this one lacks
    os.replace(staging / SUMMARY, out / SUMMARY)


def _fix(
    store: Store, fix: str, path: Path, flag: np.ndarray, suggestion: np.ndarray, primary: str
) -> Path:
    labels = store.labels.copy()
    if fix == "relabel":
        keep = np.arange(len(labels))
        labels[flag] = suggestion[flag]
    else:
        keep = np.flatnonzero(~flag)
        labels = labels[keep]
    change = {"fix": fix, "detector": primary, "items_changed": int(flag.sum())}
    return derive_store(store, path, keep, labels, change).root
