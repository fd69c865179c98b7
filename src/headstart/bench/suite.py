"""What a bench runs: datasets × encoders × tasks, read from a TOML suite or from the short
form (`--datasets a,b --encoders x,y --tasks knn,retrieval`), every name and setting checked
before any work — an unknown name gets the registry's suggestions, a malformed file its line.

    seeds = 5                       # for every task that takes seeds (unless it sets them)
    shots = [1, 4, 16]              # likewise for shots

    [[datasets]]
    name = "fashion-mnist"          # registered name, an image folder or a CSV
    limit = 1000                    # class-balanced items per split (optional)

    [[encoders]]
    name = "efficientnet-lite0"     # registered name or tuned:FOLDER
    [[encoders]]
    label = "lite0+supcon"          # an adapter trained on that encoder's store, per dataset
    name = "efficientnet-lite0"
    adapter = { loss = "supcon", epochs = 30 }

    [tasks.few-shot]                # a protocol name (or `protocol = "..."` under any label)
    heads = ["linear-probe", "prototype"]
    score = { head = "linear-probe", shots = 16 }   # the leaderboard's number (optional)
    [tasks.knn]
    [tasks.instance-retrieval]
    datasets = ["copy-detection"]   # only on these datasets (default: every one)

Paths in a suite (dataset folders and CSVs, `tuned:` folders, files a task reads) are read from
the working directory, as on the command line — not from the suite file's folder.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headstart.adapt.train import AdaptSettings
from headstart.datasets.registry import DATASETS
from headstart.encoders import ENCODERS
from headstart.exceptions import DataError
from headstart.protocol import PROTOCOLS

TOP = {"name", "seeds", "shots", "datasets", "encoders", "tasks"}
DATASET_KEYS = {"name", "label", "limit", "options"}
ENCODER_KEYS = {"name", "label", "options", "adapter"}
SCORE_KEYS = {"metric", "head", "shots"}
SHARED = ("seeds", "shots")  # suite-wide values a task takes when its protocol has them


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    label: str
    limit: int | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EncoderSpec:
    name: str
    label: str
    options: dict[str, Any] = field(default_factory=dict)
    adapter: dict[str, Any] | None = None  # AdaptSettings fields, `loss` among them


@dataclass(frozen=True)
class TaskSpec:
    label: str
    protocol: str
    settings: dict[str, Any]  # keyword values of the protocol's settings, validated
    score: dict[str, Any] = field(default_factory=dict)  # metric / head / shots
    datasets: tuple[str, ...] = ()  # dataset labels it runs on (empty: every dataset)

    def spec(self) -> dict[str, Any]:
        """What a cell's results depend on, besides the store: its protocol and settings."""
        return {"protocol": self.protocol, "settings": self.settings, "score": self.score}


@dataclass(frozen=True)
class Suite:
    name: str
    datasets: list[DatasetSpec]
    encoders: list[EncoderSpec]
    tasks: list[TaskSpec]

    def describe(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def tasks_for(self, dataset: DatasetSpec) -> list[TaskSpec]:
        """The tasks that run on `dataset` (a task may name the datasets it is for)."""
        return [t for t in self.tasks if not t.datasets or dataset.label in t.datasets]

    def size(self) -> int:
        """How many cells the suite has."""
        return len(self.encoders) * sum(len(self.tasks_for(d)) for d in self.datasets)


def load_suite(path: str | Path) -> Suite:
    """A suite from a TOML file; a syntax error names the file and line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"suite {path} does not exist (give a TOML file)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise DataError(f"suite {path} is not valid TOML: {error}") from error
    except UnicodeDecodeError as error:
        raise DataError(f"suite {path} is not UTF-8 text: {error}") from error
    return suite_from_dict(data, str(path), path.stem)


def suite_from_names(
    datasets: list[str],
    encoders: list[str],
    tasks: list[str],
    seeds: int | None = None,
    shots: list[int | str] | None = None,
    limit: int | None = None,
) -> Suite:
    """The short form: names only, every task with its defaults (and `seeds`/`shots`)."""
    data: dict[str, Any] = {
        "datasets": [{"name": n} | ({"limit": limit} if limit else {}) for n in datasets],
        "encoders": [{"name": n} for n in encoders],
        "tasks": {t: {} for t in tasks},
    }
    data |= {k: v for k, v in (("seeds", seeds), ("shots", shots)) if v is not None}
    return suite_from_dict(data, "the command line", "bench")


def suite_from_dict(data: dict[str, Any], where: str, default_name: str) -> Suite:
    """Checked specs from parsed TOML (`where` names the source in errors)."""
    _known_keys(data, TOP, where, "the suite")
    for part in ("datasets", "encoders", "tasks"):
        if not data.get(part):
            raise DataError(f"{where}: the suite names no {part}; add at least one")
    if not isinstance(data["datasets"], list) or not isinstance(data["encoders"], list):
        raise DataError(f"{where}: datasets and encoders are arrays of tables ([[datasets]])")
    if not isinstance(data["tasks"], dict):
        raise DataError(f"{where}: tasks is a table of task tables ([tasks.knn])")
    shared = {k: data[k] for k in SHARED if k in data}
    suite = Suite(
        name=str(data.get("name") or default_name),
        datasets=[_dataset(d, where, i) for i, d in enumerate(data["datasets"], 1)],
        encoders=[_encoder(e, where, i) for i, e in enumerate(data["encoders"], 1)],
        tasks=[_task(label, t, shared, where) for label, t in data["tasks"].items()],
    )
    for part in ("datasets", "encoders", "tasks"):
        labels = [item.label for item in getattr(suite, part)]
        twice = sorted({label for label in labels if labels.count(label) > 1})
        if twice:
            raise DataError(f"{where}: {part} label {twice[0]!r} is used twice; give a `label`")
    known = [d.label for d in suite.datasets]
    for task in suite.tasks:
        unknown = [d for d in task.datasets if d not in known]
        if unknown:
            raise DataError(
                f"{where}: task {task.label!r} names dataset {unknown[0]!r}, which the suite "
                f"does not hold; its datasets: {', '.join(known)}"
            )
    return suite


def _dataset(entry: Any, where: str, number: int) -> DatasetSpec:
    entry = _table(entry, where, f"dataset {number}")
    _known_keys(entry, DATASET_KEYS, where, f"dataset {number}")
    name = _name(entry, where, f"dataset {number}")
    if name not in DATASETS and not Path(name).exists():
        DATASETS.entry(name)  # an unknown name: the registry's error with suggestions
    limit = entry.get("limit")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise DataError(f"{where}: dataset {name!r} limit = {limit!r}; give an integer ≥ 1")
    options = _table(entry.get("options", {}), where, f"dataset {name!r} options")
    return DatasetSpec(name, _label(entry, name), limit, options)


def _encoder(entry: Any, where: str, number: int) -> EncoderSpec:
    entry = _table(entry, where, f"encoder {number}")
    _known_keys(entry, ENCODER_KEYS, where, f"encoder {number}")
    name = _name(entry, where, f"encoder {number}")
    ENCODERS.entry(name)  # unknown names fail here, with suggestions
    adapter = entry.get("adapter")
    if adapter is not None:
        adapter = _table(adapter, where, f"encoder {name!r} adapter")
        if "loss" not in adapter:
            raise DataError(f'{where}: encoder {name!r} adapter names no loss (loss = "...")')
        known = {f.name for f in dataclasses.fields(AdaptSettings)}
        _known_keys(adapter, known, where, f"encoder {name!r} adapter")
        AdaptSettings(**adapter)  # values checked now, not after the stores are built
    default = f"{name}+{adapter['loss']}" if adapter else name
    options = _table(entry.get("options", {}), where, f"encoder {name!r} options")
    return EncoderSpec(name, str(entry.get("label") or default), options, adapter)


def _task(label: str, entry: Any, shared: dict[str, Any], where: str) -> TaskSpec:
    entry = dict(_table(entry, where, f"task {label!r}"))
    protocol_name = str(entry.pop("protocol", label))
    protocol = PROTOCOLS.create(protocol_name)  # unknown: suggestions
    if protocol.inputs != "store":
        raise DataError(
            f"{where}: task {label!r} is the {protocol_name!r} protocol, which reads bags; "
            "a bench runs protocols on stores"
        )
    score = _table(entry.pop("score", {}), where, f"task {label!r} score")
    only = entry.pop("datasets", [])
    if not isinstance(only, list) or not all(isinstance(d, str) for d in only):
        raise DataError(f"{where}: task {label!r} datasets must be a list of dataset labels")
    _known_keys(score, SCORE_KEYS, where, f"task {label!r} score")
    settings = {key.replace("-", "_"): value for key, value in entry.items()}
    takes = {f.name for f in dataclasses.fields(protocol.settings_type)}
    settings = {k: v for k, v in shared.items() if k in takes} | settings
    try:
        checked = protocol.settings(**settings)
    except (DataError, TypeError) as error:
        raise DataError(f"{where}: task {label!r}: {error}") from error
    _check_score(score, protocol, checked, f"{where}: task {label!r} score")
    return TaskSpec(label, protocol_name, settings, score, tuple(only))


def _check_score(score: dict[str, Any], protocol: Any, settings: Any, where: str) -> None:
    """The leaderboard's number must be one the task measures: a declared metric, one of its
    heads, one of its shot levels."""
    metric = score.get("metric")
    declared = [m.name for m in protocol.metrics]
    if metric is not None and metric not in declared and not str(metric).startswith("recall_at_"):
        raise DataError(f"{where}: metric {metric!r} is not measured; choose from {declared}")
    heads = getattr(settings, "heads", None)
    if score.get("head") is not None and heads is not None and score["head"] not in heads:
        raise DataError(f"{where}: head {score['head']!r} is not among the task's heads {heads}")
    shots = [str(s) for s in getattr(settings, "shots", None) or []]
    if score.get("shots") is not None and shots and str(score["shots"]) not in shots:
        raise DataError(f"{where}: shots {score['shots']!r} is not among {shots}")


def _table(value: Any, where: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DataError(f"{where}: {what} must be a table, got {value!r}")
    return value


def _name(entry: dict[str, Any], where: str, what: str) -> str:
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise DataError(f'{where}: {what} has no name (name = "...")')
    return name.strip()


def _label(entry: dict[str, Any], name: str) -> str:
    return str(entry.get("label") or re.sub(r".*/", "", name.rstrip("/")))


def _known_keys(entry: dict[str, Any], known: set[str], where: str, what: str) -> None:
    unknown = sorted(set(entry) - known)
    if unknown:
        raise DataError(
            f"{where}: {what} has no key {unknown[0]!r}; it takes {', '.join(sorted(known))}"
        )
