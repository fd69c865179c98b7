"""`Results`: tidy rows (dataset, encoder, head, shots, seed, metric, value) and their summaries."""

from __future__ import annotations

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
from headstart.protocol.statistics import interval_name, mean_ci

COLUMNS = ("dataset", "encoder", "head", "shots", "seed", "metric", "value")


@dataclass
class Results:
    """Rows of one evaluation plus what is needed to report it (provenance, confusions)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    chosen: list[dict[str, Any]] = field(default_factory=list)  # hyper-parameters per fit
    confusion: dict[str, list[list[int]]] = field(default_factory=dict)  # "head|shots" → matrix
    reliability: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def values(self, head: str, shots: Any, metric: str) -> dict[int, float]:
        """seed → value for one head, shot level and metric."""
        return {
            r["seed"]: r["value"]
            for r in self.rows
            if r["head"] == head and str(r["shots"]) == str(shots) and r["metric"] == metric
        }

    def extend(self, other: Results, key: str) -> None:
        """Add another evaluation's rows and records (e.g. zero-shot heads on a joint-space
        store next to the heads on image features); its provenance goes under `key`."""
        self.rows.extend(other.rows)
        self.chosen.extend(other.chosen)
        self.confusion.update(other.confusion)
        self.reliability.update(other.reliability)
        self.provenance[key] = other.provenance

    def heads(self) -> list[str]:
        return list(dict.fromkeys(r["head"] for r in self.rows))

    def shots(self) -> list[str]:
        """Shot levels present, in order: 0 (zero-shot), 1, 2, ..., "all"."""
        levels = dict.fromkeys(str(r["shots"]) for r in self.rows)
        return sorted(levels, key=lambda s: (s == "all", int(s) if s.isdigit() else 0))

    def metrics(self) -> list[str]:
        return list(dict.fromkeys(r["metric"] for r in self.rows))

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
        """Mean and 95% CI over seeds (or folds) for every (head, shots, metric)."""
        out = []
        for head in self.heads():
            for shots in self.shots():
                for metric in self.metrics():
                    values = list(self.values(head, shots, metric).values())
                    if values:
                        mean, low, high = mean_ci(np.array(values), 0.95, self.test_train_ratio)
                        out.append(
                            {
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

    def paired(self, reference: str, metric: str = "accuracy") -> list[dict[str, Any]]:
        """Each head minus `reference` on the same seeds: mean difference and its 95% CI."""
        out = []
        for head in self.heads():
            if head == reference:
                continue
            for shots in self.shots():
                mine, theirs = (
                    self.values(head, shots, metric),
                    self.values(reference, shots, metric),
                )
                common = sorted(set(mine) & set(theirs))
                if common:
                    diff = np.array([mine[s] - theirs[s] for s in common])
                    mean, low, high = mean_ci(diff, 0.95, self.test_train_ratio)
                    out.append(
                        {
                            "head": head,
                            "reference": reference,
                            "shots": shots,
                            "metric": metric,
                            "mean_difference": mean,
                            "ci_low": low,
                            "ci_high": high,
                            "seeds": len(common),
                        }
                    )
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
        reference = reference or (self.heads()[0] if self.heads() else None)
        summary = {
            "provenance": self.provenance,
            "summary": self.summary(),
            "interval": self.interval,
            "paired_differences": self.paired(reference) if reference else [],
            "chosen_hyperparameters": self.chosen,
            "confusion": self.confusion,
            "reliability": self.reliability,
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
        return cls(
            rows=rows,
            provenance=summary["provenance"],
            chosen=summary["chosen_hyperparameters"],
            confusion=summary["confusion"],
            reliability=summary["reliability"],
        )


def _json(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
