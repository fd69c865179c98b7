"""`Results`: tidy rows (dataset, encoder, head, shots, seed, metric, value) and their summaries."""

from __future__ import annotations

import importlib.metadata
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from headstart.exceptions import DataError
from headstart.output import check_writable
from headstart.protocol.metrics import LOWER_IS_BETTER
from headstart.protocol.statistics import interval_name, mean_ci, metric_ci

PACKAGES = ("headstart", "numpy", "scikit-learn", "torch")  # what a result's numbers depend on


def versions() -> dict[str, str]:
    """Installed versions of `PACKAGES` ("unknown" when run from a source tree)."""
    found = {}
    for package in PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "unknown"
    return found


COLUMNS = ("dataset", "encoder", "store", "head", "shots", "seed", "metric", "value")
FIT_SECONDS = "fit_seconds"  # a row per fit beside the metrics: what each head cost


def store_label(dataset: str, encoder: str, dim: int | None = None, key: str = "") -> str:
    """A feature space's name in tables and titles: dataset · encoder (dim) · key prefix."""
    parts = [dataset or "vectors", f"{encoder} {dim}-d" if dim else encoder or "features"]
    return " · ".join([*parts, key[:8]] if key else parts)


def result_key(store: str, head: str, shots: Any) -> str:
    """Key of a (store, head, shots) cell in `confusion` and `reliability`."""
    return f"{store}|{head}|{shots}"


@dataclass
class Results:
    """Rows of one evaluation plus what is needed to report it (provenance, confusions).

    Every row names its store (the feature space the head was fitted in): summaries,
    pairings and the report keep stores apart, so heads are compared only on the same
    features and the same seeds."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    chosen: list[dict[str, Any]] = field(default_factory=list)  # hyper-parameters per fit
    confusion: dict[str, list[list[int]]] = field(default_factory=dict)  # result_key → matrix
    reliability: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    open_set: dict[str, dict[str, list]] = field(default_factory=dict)  # seed-0 item scores

    def __post_init__(self) -> None:
        for row in self.rows:  # rows built by hand, or saved before rows named their store
            row.setdefault("store", self.store)

    @property
    def store(self) -> str:
        """This evaluation's own store label (rows added later by `extend` may differ)."""
        p = self.provenance
        return p.get("store") or store_label(p.get("dataset", ""), p.get("encoder", ""))

    def add(self, head: str, shots: Any, seed: int, values: dict[str, float]) -> None:
        """One row per metric of one fitted head, in this evaluation's store."""
        p = self.provenance
        for metric, value in values.items():
            self.rows.append(
                {
                    "dataset": p.get("dataset", ""),
                    "encoder": p.get("encoder", ""),
                    "store": self.store,
                    "head": head,
                    "shots": shots,
                    "seed": seed,
                    "metric": metric,
                    "value": value,
                }
            )

    def values(self, head: str, shots: Any, metric: str, store: str | None = None) -> dict:
        """seed → value for one head, shot level and metric (in `store`, default any)."""
        return {
            r["seed"]: r["value"]
            for r in self.rows
            if r["head"] == head
            and str(r["shots"]) == str(shots)
            and r["metric"] == metric
            and (store is None or r["store"] == store)
        }

    def extend(self, other: Results, key: str) -> None:
        """Add another evaluation's rows and records (e.g. zero-shot heads on a joint-space
        store next to the heads on image features); its provenance goes under `key`."""
        self.rows.extend(other.rows)
        self.chosen.extend(other.chosen)
        self.confusion.update(other.confusion)
        self.reliability.update(other.reliability)
        self.open_set.update(other.open_set)
        self.provenance[key] = other.provenance

    def stores(self) -> list[str]:
        return list(dict.fromkeys(r["store"] for r in self.rows))

    def provenance_of(self, store: str) -> dict[str, Any]:
        """The provenance of the evaluation that produced `store`'s rows."""
        nested = [v for v in self.provenance.values() if isinstance(v, dict) and "seeds" in v]
        for candidate in [self.provenance, *nested]:
            if candidate.get("store", self.store if candidate is self.provenance else "") == store:
                return candidate
        return self.provenance

    def on(self, store: str) -> Results:
        """The rows, records and provenance of one store only."""

        def mine(records: dict) -> dict:
            return {k: v for k, v in records.items() if k.rsplit("|", 2)[0] == store}

        return Results(
            rows=[r for r in self.rows if r["store"] == store],
            provenance=self.provenance_of(store),
            chosen=[c for c in self.chosen if c.get("store", store) == store],
            confusion=mine(self.confusion),
            reliability=mine(self.reliability),
            open_set=mine(self.open_set),
        )

    def heads(self) -> list[str]:
        return list(dict.fromkeys(r["head"] for r in self.rows))

    def shots(self) -> list[str]:
        """Shot levels present, in order: 0 (zero-shot), 1, 2, ..., "all"."""
        levels = dict.fromkeys(str(r["shots"]) for r in self.rows)
        return sorted(levels, key=lambda s: (s == "all", int(s) if s.isdigit() else 0))

    def metrics(self) -> list[str]:
        return [m for m in dict.fromkeys(r["metric"] for r in self.rows) if m != FIT_SECONDS]

    @property
    def test_train_ratio(self) -> float | None:
        """n_test/n_train of each fold when the rows come from repeated cross-validation (its
        intervals are then the corrected resampled t); None for independent seeds."""
        return self.provenance.get("test_train_ratio")

    @property
    def interval(self) -> str:
        """Which interval `summary` and `paired` compute."""
        return interval_name(self.test_train_ratio)

    def summary(self) -> list[dict[str, Any]]:
        """Mean and 95% CI over seeds (or folds) for every (store, head, shots, metric),
        fit seconds included; bounded metrics get intervals inside [0, 1]."""
        groups: dict[tuple, list[float]] = {}
        for r in self.rows:
            key = (r["store"], r["head"], str(r["shots"]), r["metric"])
            groups.setdefault(key, []).append(r["value"])
        order = {s: i for i, s in enumerate(self.shots())}
        out = []
        for (store, head, shots, metric), values in sorted(
            groups.items(), key=lambda kv: (kv[0][0], kv[0][1], order[kv[0][2]])
        ):
            mean, low, high = metric_ci(metric, np.array(values), 0.95, self.test_train_ratio)
            out.append(
                {
                    "store": store,
                    "head": head,
                    "shots": shots,
                    "metric": metric,
                    "mean": mean,
                    "ci_low": low,
                    "ci_high": high,
                    "seeds": len(values),
                }
            )
        return out

    def difference(
        self, head: str, reference: str, shots: Any, metric: str, store: str
    ) -> dict[str, Any] | None:
        """`head` minus `reference` on the seeds both ran, in one store: mean and 95% CI
        (NaN bounds with one common seed); None when they share no seed."""
        mine = self.values(head, shots, metric, store)
        theirs = self.values(reference, shots, metric, store)
        common = sorted(set(mine) & set(theirs))
        if not common:
            return None
        diff = np.array([mine[s] - theirs[s] for s in common])
        mean, low, high = mean_ci(diff, 0.95, self.test_train_ratio)
        return {
            "store": store,
            "head": head,
            "reference": reference,
            "shots": str(shots),
            "metric": metric,
            "mean_difference": mean,
            "ci_low": low,
            "ci_high": high,
            "seeds": len(common),
        }

    def paired(self, reference: str, metric: str = "accuracy") -> list[dict[str, Any]]:
        """Each head minus `reference` on the same seeds, within each store that has it."""
        out = []
        for store in self.stores():
            mine = self.on(store)
            if reference not in mine.heads():
                continue
            for head in mine.heads():
                for shots in mine.shots() if head != reference else []:
                    found = self.difference(head, reference, shots, metric, store)
                    if found:
                        out.append(found)
        return out

    def best(self, metric: str = "accuracy") -> list[dict[str, Any]]:
        """Per store and shot level: the best head by mean, the heads not distinguishable from
        it (the paired 95% CI of their difference over the same seeds includes 0), and those
        that cannot be told apart because they share fewer than two seeds with it."""
        sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
        cells = [s for s in self.summary() if s["metric"] == metric]
        out = []
        for store in self.stores():
            for shots in self.shots():
                here = [c for c in cells if c["store"] == store and c["shots"] == shots]
                if not here:
                    continue
                top = max(here, key=lambda c: sign * c["mean"])
                tied, untested = [], []
                for cell in here:
                    if cell is top:
                        continue
                    d = self.difference(cell["head"], top["head"], shots, metric, store)
                    if d is None or d["seeds"] < 2:
                        untested.append(cell["head"])
                    elif d["ci_low"] <= 0 <= d["ci_high"] or d["mean_difference"] == 0:
                        tied.append(cell["head"])
                others = [c["head"] for c in here if c is not top]
                out.append({**top, "tied": tied, "untested": untested, "others": others})
        return out

    @property
    def main_metric(self) -> str:
        """The metric summaries lead with: the protocol's own (recorded in the provenance),
        else accuracy when it was measured."""
        metrics = self.metrics()
        if self.provenance.get("main_metric") in metrics:
            return self.provenance["main_metric"]
        return "accuracy" if "accuracy" in metrics or not metrics else metrics[0]

    def against_best(self, metric: str = "accuracy") -> list[dict[str, Any]]:
        """Every head minus the best head of its store and shot level, on the same seeds."""
        out = []
        for top in self.best(metric):
            for head in self.on(top["store"]).heads():
                if head != top["head"]:
                    found = self.difference(head, top["head"], top["shots"], metric, top["store"])
                    if found:
                        out.append(found)
        return out

    def table(self) -> pa.Table:
        return pa.table(
            {c: [str(r[c]) if c == "shots" else r[c] for r in self.rows] for c in COLUMNS}
        )

    def save(self, folder: str | Path, reference: str | None = None) -> Path:
        """rows.parquet, rows.csv and summary.json (with paired differences) in `folder`."""
        folder = check_writable(folder, "results folder")
        folder.mkdir(parents=True, exist_ok=True)
        table = self.table()
        pq.write_table(table, folder / "rows.parquet")
        pacsv.write_csv(table, folder / "rows.csv")
        metric = self.main_metric
        summary = {
            "provenance": self.provenance,
            "best": self.best(metric),
            "summary": self.summary(),
            "interval": self.interval,
            "paired_differences": self.paired(reference, metric)
            if reference
            else self.against_best(metric),
            "chosen_hyperparameters": self.chosen,
            "confusion": self.confusion,
            "reliability": self.reliability,
            "open_set": self.open_set,
        }
        (folder / "summary.json").write_text(json.dumps(summary, indent=1, default=_json))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Results:
        folder = Path(folder)
        missing = [n for n in ("rows.parquet", "summary.json") if not (folder / n).is_file()]
        if missing:
            raise DataError(
                f"{folder} holds no saved results (missing {', '.join(missing)}); "
                "write them with headstart eval -o FOLDER"
            )
        rows = pq.read_table(folder / "rows.parquet").to_pylist()
        summary = json.loads((folder / "summary.json").read_text())
        results = cls(rows=rows, provenance=summary["provenance"])
        own = results.store

        def keyed(records: dict) -> dict:
            return {k if k.count("|") >= 2 else f"{own}|{k}": v for k, v in records.items()}

        results.chosen = summary["chosen_hyperparameters"]
        results.confusion = keyed(summary["confusion"])
        results.reliability = keyed(summary["reliability"])
        results.open_set = summary.get("open_set", {})
        return results


def _json(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
