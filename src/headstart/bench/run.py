"""A bench run: every (dataset, encoder) store built on demand, every task run on it as a
cell, finished cells skipped, failures recorded while the rest go on; then the tidy rows of
all cells in one table.

The store builder is handed in (`make_store`: the `api` layer embeds, adapts and caches), so
this layer never reaches up to the verbs."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from headstart.bench.cells import (
    DONE,
    CellRecord,
    cell_folder,
    failed,
    read_record,
    run_cell,
    store_failed,
    write_record,
)
from headstart.bench.pairing import items_fingerprint
from headstart.bench.suite import DatasetSpec, EncoderSpec, Suite, TaskSpec
from headstart.progress import progress_bar
from headstart.protocol.results import versions
from headstart.scale.engines import RaySettings, start_ray
from headstart.store import Store
from headstart.workflow.run import run_protocol

StoreMaker = Callable[[DatasetSpec, EncoderSpec], Any]  # → an opened Store
ROW_COLUMNS = (
    "dataset",
    "encoder",
    "task",
    "protocol",
    "head",
    "shots",
    "seed",
    "metric",
    "value",
    "store_key",
    "cell_key",
    "items",
    "headstart",
)


@dataclass
class BenchRun:
    """Every cell's record, in suite order, and where the run was written."""

    suite: Suite
    out: Path
    cells: list[CellRecord]

    @property
    def failures(self) -> list[CellRecord]:
        """Cells that failed, and finished ones kept although their store failed to build."""
        return [c for c in self.cells if c.status != DONE or c.reason]

    def rows(self) -> pa.Table:
        """Tidy rows of every finished cell, keyed by store, cell key and version."""
        version = versions()["headstart"]
        rows = []
        for cell in self.cells:
            if cell.status != DONE or cell.results is None:
                continue
            for r in cell.results.rows:
                rows.append(
                    {
                        "dataset": cell.dataset,
                        "encoder": cell.encoder,
                        "task": cell.task,
                        "protocol": cell.protocol,
                        "head": r["head"],
                        "shots": str(r["shots"]),
                        "seed": int(r["seed"]),
                        "metric": r["metric"],
                        "value": float(r["value"]),
                        "store_key": cell.store_key,
                        "cell_key": cell.key,
                        "items": cell.items,
                        "headstart": version,
                    }
                )
        return pa.table({c: [r[c] for r in rows] for c in ROW_COLUMNS})


def run_suite(
    suite: Suite,
    out: str | Path,
    make_store: StoreMaker,
    progress: bool = True,
    ray: RaySettings | None = None,
) -> BenchRun:
    """Run every cell of `suite` into `out` (resumable): first the stores, one per dataset ×
    encoder (embedded with their own progress bars, cache hits reused), then the cells under
    one display — a bar for the whole bench and one for the cell that is running. With `ray`
    settings the cells run as Ray tasks (one CPU each) and land in the same files."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "suite.json").write_text(json.dumps(suite.describe(), indent=1, default=str))
    stores: dict[tuple[str, str], Any] = {}
    for dataset in suite.datasets:
        for encoder in suite.encoders:
            try:
                store = make_store(dataset, encoder)
                stores[dataset.label, encoder.label] = (store, items_fingerprint(store))
            except Exception as error:  # its cells are reported failed; the others run
                stores[dataset.label, encoder.label] = error
    if ray is not None:
        return _finish(BenchRun(suite, out, _ray_cells(suite, out, stores, ray, progress)))
    records: list[CellRecord] = []
    with progress_bar(progress) as bar:
        overall = bar.add_task("bench cells", total=suite.size())
        for folder, dataset, encoder, task, built in _grid(suite, out, stores):
            if isinstance(built, Exception):
                record = store_failed(folder, dataset, encoder, task, built)
            else:
                store, items = built
                record = run_cell(folder, store, items, dataset, encoder, task, run_protocol, bar)
            records.append(record)
            bar.advance(overall, 1)
    return _finish(BenchRun(suite, out, records))


def _grid(suite: Suite, out: Path, stores: dict) -> Iterator[tuple]:
    """Every cell in suite order: (folder, dataset, encoder, task, its store and items
    fingerprint — or the error that kept the store from being built)."""
    for dataset in suite.datasets:
        for encoder in suite.encoders:
            built = stores[dataset.label, encoder.label]
            for task in suite.tasks_for(dataset):
                yield cell_folder(out, dataset, encoder, task), dataset, encoder, task, built


def _finish(run: BenchRun) -> BenchRun:
    """The tidy rows of every finished cell, written beside the cells."""
    table = run.rows()
    pq.write_table(table, run.out / "rows.parquet")
    pacsv.write_csv(table, run.out / "rows.csv")
    return run


def _cell_task(
    folder: Path,
    store_root: str,
    items: str,
    dataset: DatasetSpec,
    encoder: EncoderSpec,
    task: TaskSpec,
) -> CellRecord:
    """One cell in a Ray worker: the store opened there, the same `run_cell` as locally."""
    store = Store(store_root)
    return run_cell(folder, store, items, dataset, encoder, task, run_protocol, None)


def _ray_cells(
    suite: Suite, out: Path, stores: dict, settings: RaySettings, progress: bool
) -> list[CellRecord]:
    """Every cell as a Ray task (a store that could not be built fails its cells on the
    driver), gathered in suite order as they finish. The workers read the stores and write
    the cells where the driver does: a cluster needs both on a shared file system."""
    ray = start_ray(settings)
    remote = ray.remote(num_cpus=1)(_cell_task)
    slots: list[Any] = []
    cells: dict[Any, tuple] = {}
    for folder, dataset, encoder, task, built in _grid(suite, out, stores):
        if isinstance(built, Exception):
            slots.append(store_failed(folder, dataset, encoder, task, built))
        else:
            store, items = built
            ref = remote.remote(folder, str(store.root), items, dataset, encoder, task)
            cells[ref] = (folder, dataset, encoder, task)
            slots.append(ref)
    waiting = [s for s in slots if not isinstance(s, CellRecord)]
    done: dict[Any, CellRecord] = {}
    with progress_bar(progress) as bar:
        overall = bar.add_task("bench cells (ray)", total=len(slots))
        bar.advance(overall, len(slots) - len(waiting))
        while waiting:
            ready, waiting = ray.wait(waiting, num_returns=1)
            try:
                done[ready[0]] = ray.get(ready[0])
            except Exception as error:  # a worker that died: this cell fails, not the bench
                folder, dataset, encoder, task = cells[ready[0]]
                done[ready[0]] = failed(dataset, encoder, task, error, "ray task")
                write_record(folder, done[ready[0]])
            bar.advance(overall, 1)
    return [s if isinstance(s, CellRecord) else done[s] for s in slots]


def load_run(out: str | Path, suite: Suite) -> BenchRun:
    """The records a finished (or interrupted) run left in `out`, in suite order."""
    out = Path(out)
    records = []
    for dataset in suite.datasets:
        for encoder in suite.encoders:
            for task in suite.tasks_for(dataset):
                record = read_record(cell_folder(out, dataset, encoder, task))
                if record is not None:
                    records.append(record)
    return BenchRun(suite, out, records)
