"""One cell of a bench: a task (protocol + settings) on one dataset's store from one encoder.

A cell's folder holds its saved results and `cell.json`, written last (atomically): its key —
a hash of the store key, the task spec and the headstart version — and whether it finished or
failed (with the reason). A rerun skips a finished cell whose key still matches, runs a failed
one again, and a cell killed mid-run has no `cell.json`, so it runs again too."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headstart.bench.suite import DatasetSpec, EncoderSpec, TaskSpec
from headstart.exceptions import DataError, HeadstartError
from headstart.protocol import PROTOCOLS, Results
from headstart.protocol.results import versions

DONE, FAILED = "done", "failed"
RECORD = "cell.json"


@dataclass
class CellRecord:
    """What a cell left: its labels, key, status, reason when failed, and its results."""

    dataset: str
    encoder: str
    task: str
    protocol: str
    status: str
    key: str = ""
    store: str = ""
    store_key: str = ""
    items: str = ""  # the pairing fingerprint of the store's items
    task_key: str = ""  # hash of the task spec and version alone (no store)
    seconds: float = 0.0
    reason: str = ""
    score: dict[str, Any] = field(default_factory=dict)  # metric / head / shots used
    results: Results | None = None

    def describe(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "results"}


FIELDS = {f for f in CellRecord.__dataclass_fields__ if f != "results"}


def cell_key(store_key: str, task: TaskSpec) -> str:
    """Hash of what a cell's numbers depend on: the store, the task spec, the version."""
    return _hash({"store": store_key, "task": task_key(task)})


def task_key(task: TaskSpec) -> str:
    """Hash of the task spec and the headstart version (a cell's key without its store)."""
    return _hash({"task": task.spec(), "headstart": versions()["headstart"]})


def _hash(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cell_folder(out: Path, dataset: DatasetSpec, encoder: EncoderSpec, task: TaskSpec) -> Path:
    return out / "cells" / _safe(dataset.label) / _safe(encoder.label) / _safe(task.label)


def _safe(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", label).strip("._") or "_"


def finished(folder: Path, key: str, field_name: str = "key") -> CellRecord | None:
    """The record of a finished cell whose `key` (or `task_key`) matches, with its results;
    None when it must run (no record, another key, or results that cannot be read)."""
    record = read_record(folder)
    if record is None or record.status != DONE or getattr(record, field_name) != key:
        return None
    return record


def read_record(folder: Path) -> CellRecord | None:
    """Whatever record a cell folder holds, with results when finished; None when there is
    none or it cannot be read (a record from another version, results deleted by hand)."""
    path = folder / RECORD
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        record = CellRecord(**{k: v for k, v in data.items() if k in FIELDS})
        if record.status == DONE:
            record.results = Results.load(folder / "results")
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError, HeadstartError):
        return None
    return record


def write_record(folder: Path, record: CellRecord) -> None:
    """`cell.json`, atomically: a reader sees the old record or the new, never half."""
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{RECORD}.partial"
    partial.write_text(json.dumps(record.describe(), indent=1, default=str), encoding="utf-8")
    os.replace(partial, folder / RECORD)


def store_failed(
    folder: Path, dataset: DatasetSpec, encoder: EncoderSpec, task: TaskSpec, error: Exception
) -> CellRecord:
    """A cell whose store could not be built: a finished result of the same task is kept
    (the store was built before; its result stands, the reason is noted), else a failure."""
    kept = finished(folder, task_key(task), "task_key")
    problem = failed(dataset, encoder, task, error, "building the store")
    if kept is not None:
        kept.reason = f"kept the finished result; {problem.reason}"
        return kept
    write_record(folder, problem)
    return problem


def failed(
    dataset: DatasetSpec, encoder: EncoderSpec, task: TaskSpec, error: BaseException, where: str
) -> CellRecord:
    """The record of a cell that could not run, the reason in one line (and the last frame)."""
    frame = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
    at = f" (at {Path(frame[0].filename).name}:{frame[0].lineno})" if frame else ""
    reason = f"{where}: {type(error).__name__}: {error}{at}"
    return CellRecord(
        dataset.label, encoder.label, task.label, task.protocol, FAILED, reason=reason
    )


def run_cell(
    folder: Path,
    store: Any,
    items: str,
    dataset: DatasetSpec,
    encoder: EncoderSpec,
    task: TaskSpec,
    run_protocol: Any,
    bar: Any = None,
) -> CellRecord:
    """Run one task on a store (skipped when finished with the same key); its results go to
    a scratch folder first and are moved in place before `cell.json` marks the cell done."""
    key = cell_key(store.key, task)
    done = finished(folder, key)
    if done is not None:
        return done
    record = CellRecord(
        dataset.label,
        encoder.label,
        task.label,
        task.protocol,
        FAILED,
        key=key,
        store=str(store.root),
        store_key=store.key,
        items=items,
        task_key=task_key(task),
        score=task.score,
    )
    (folder / RECORD).unlink(missing_ok=True)  # from here until done, the cell runs again
    scratch = folder / ".results.partial"
    shutil.rmtree(scratch, ignore_errors=True)
    start = time.perf_counter()
    try:
        results = run_protocol(
            task.protocol, store.root, scratch, progress=False, bar=bar, **task.settings
        )
    except Exception as error:  # a failed cell is reported; the other cells still run
        reason = failed(dataset, encoder, task, error, f"task {task.label!r}").reason
        record.reason, record.seconds = reason, time.perf_counter() - start
        write_record(folder, record)
        return record
    shutil.rmtree(folder / "results", ignore_errors=True)
    os.replace(scratch, folder / "results")
    record.status, record.seconds, record.results = DONE, time.perf_counter() - start, results
    write_record(folder, record)
    return record


def score_of(record: CellRecord) -> dict[str, Any]:
    """The cell's leaderboard number per seed: the task's score metric (default the
    protocol's main metric) of its score head (default the first) at its score shot level
    (default the largest numbered level, over seeds; else the last), in the evaluation's own
    store (not a label-noise condition beside it), as {"metric", "head", "shots", "values"};
    a `DataError` naming what was measured when the score names something that was not."""
    results = record.results
    assert results is not None
    protocol = PROTOCOLS.create(record.protocol)
    metric = record.score.get("metric") or protocol.main_metric
    heads, shots = results.heads(), results.shots()
    head = record.score.get("head") or (heads[0] if heads else "")
    numbered = [s for s in shots if s.isdigit() and s != "0"]
    default = max(numbered, key=int) if numbered else (shots[-1] if shots else "")
    level = str(record.score.get("shots", default))
    store = results.store if results.store in results.stores() else None
    values = results.values(head, level, metric, store)
    if not values:
        raise DataError(
            f"task {record.task!r}: the score {metric} of {head!r} at {level} was not "
            f"measured; heads: {heads}, shots: {shots}, metrics: {results.metrics()}"
        )
    return {"metric": metric, "head": head, "shots": level, "values": values}
