"""What an evaluation protocol is: a registered object with validated settings, the metrics it
produces, `run(inputs, settings) -> Results` and the heading of its report section.

A protocol never opens a store: the workflow (`headstart.workflow.run`) applies the one split
rule, builds the heads and hands a protocol its `StoreInputs` (or bags), then stamps the one
provenance every protocol shares. Adding a protocol is one file with a class registered in
`PROTOCOLS` and one import line in `headstart/protocol/__init__.py`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from headstart.exceptions import DataError
from headstart.protocol.results import Results
from headstart.registry import Registry


@dataclass(frozen=True)
class Metric:
    """One metric a protocol reports: bounded in [0, 1] (intervals stay inside) or not, and
    which direction is better."""

    name: str
    bounded: bool = True
    lower_is_better: bool = False


def option(default: Any, help: str, *, cli: bool = True, minimum: float | None = None, **more):
    """A settings field with its help line (the CLI option is generated from it); `cli=False`:
    a Python-only setting (arrays, per-head parameters); `minimum`: checked by `validate`."""
    metadata = {"help": help, "cli": cli, "minimum": minimum, **more}
    if isinstance(default, list | dict | set):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class Settings:
    """Base of every protocol's settings: fields made with `option`, checked on creation."""

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):
            value, minimum = getattr(self, spec.name), spec.metadata.get("minimum")
            if minimum is not None and value is not None and value < minimum:
                raise DataError(
                    f"setting {spec.name.replace('_', '-')} = {value!r}: must be ≥ {minimum}"
                )
        self.validate()

    def validate(self) -> None:
        """Cross-field checks of one protocol (raise `DataError` naming the setting)."""

    def corruption(self) -> dict[str, Any] | None:
        """What is done to the training side, for the provenance (None: nothing)."""
        return None

    def as_dict(self) -> dict[str, Any]:
        """The settings as recorded in provenance: Python-only fields by their type name."""
        out = {}
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            value = list(value) if isinstance(value, tuple) else value
            out[spec.name] = value if _plain(value) else f"<{type(value).__name__}>"
        return out


def _plain(value: Any) -> bool:
    """Whether `value` is JSON as it is (arrays, class texts and the like are not)."""
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return value is None or isinstance(value, str | int | float | bool)


@dataclass
class StoreInputs:
    """What a store-based protocol works on: the split rule's train and test rows, the store's
    names, and the builders that need the store (heads with class texts, side stores)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    dataset: str
    encoder: str
    label: str  # the store's name in tables: dataset · encoder dim · key prefix
    build: Callable[..., dict[str, Any]]  # (heads, head_params, transforms, texts) → models
    views_train: np.ndarray | None = None
    side: dict[str, np.ndarray] = field(default_factory=dict)  # other stores' vectors by setting
    whole: Callable[[], tuple[np.ndarray, list[str]]] | None = None  # every row: vectors, ids
    shifted: dict[str, np.ndarray] = field(default_factory=dict)  # condition → X_test under it
    baseline: StoreInputs | None = None  # the same rows embedded by a baseline encoder
    ids_train: list[str] = field(default_factory=list)  # item ids of the training rows
    ids_test: list[str] = field(default_factory=list)
    groups_train: np.ndarray | None = None  # the store's group column on those rows, if any
    groups_test: np.ndarray | None = None

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(X_train, y_train, X_test, y_test)."""
        return self.X_train, self.y_train, self.X_test, self.y_test

    def results(self, **provenance: Any) -> Results:
        """Empty results named for this store (dataset, encoder, store label) plus `provenance`."""
        names = {"dataset": self.dataset, "encoder": self.encoder, "store": self.label}
        return Results(provenance={**names, **provenance})


class Protocol:
    """Base of the registered protocols. A subclass sets `name`, `settings_type`, `metrics`,
    `main_metric` and `inputs` ("store" or "bags"), and implements `run` and `heading`."""

    name: ClassVar[str] = ""
    settings_type: ClassVar[type[Settings]] = Settings
    metrics: ClassVar[tuple[Metric, ...]] = ()
    main_metric: ClassVar[str] = "accuracy"
    inputs: ClassVar[str] = "store"
    side_stores: ClassVar[tuple[str, ...]] = ()  # settings naming stores of the same encoder
    composes: ClassVar[str] = ""  # in words: what else it runs under (shown in its help)
    figure: ClassVar[str] = "shots"  # the report's figure: shots, sessions, severity, groups
    uses_views: ClassVar[bool] = False  # hands heads the stored augmented views (read if so)
    title: ClassVar[str] = "Heads fitted on {encoder} features"  # the report section's heading

    def settings(self, **values: Any) -> Settings:
        """Validated settings from keyword values; an option it does not take is an error
        naming the options it does take."""
        known = [f.name for f in dataclasses.fields(self.settings_type)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise DataError(
                f"protocol {self.name!r} takes no setting {unknown[0]!r}; it takes: "
                f"{', '.join(known)}"
            )
        return self.settings_type(**values)

    def total(self, settings: Settings) -> int:
        """Units of work the progress bar counts (fits, folds or sessions)."""
        return 0

    def run(
        self, inputs: Any, settings: Settings, progress: Callable[[int], None] | None = None
    ) -> Results:
        raise NotImplementedError

    def shifts(self, settings: Settings) -> list[Any]:
        """Corruption recipes of the test rows the workflow embeds for this run (default:
        none); it fills `StoreInputs.shifted` (and the baseline's) with their vectors."""
        return []

    def bag_options(self, settings: Settings) -> dict[str, Any]:
        """Options for reading a bag protocol's source (default: none), e.g. slide labels."""
        return {}

    def save_extras(self, folder: Any, inputs: Any, settings: Settings) -> None:
        """Anything saved beside the results besides rows and summary (default: nothing)."""

    def heading(self, provenance: dict[str, Any]) -> str:
        """The title of a store's section in the report, in words: `title` with the encoder."""
        return self.title.format(encoder=provenance.get("encoder") or "the")


PROTOCOLS: Registry[Protocol] = Registry("protocol")


def register_protocol(cls: type[Protocol]) -> type[Protocol]:
    """Register a protocol class under its `name`; its docstring's first line is the summary."""
    PROTOCOLS.register(cls.name, (cls.__doc__ or "").strip().partition("\n")[0])(cls)
    return cls


def protocol_of(provenance: dict[str, Any]) -> Protocol:
    """The protocol that produced saved results (results saved before protocols were named
    carry their old `kind`, or none for the k-shot grid)."""
    old = {"mil-cross-validation": "mil-cv", "adaptation": "base-novel"}
    name = provenance.get("protocol") or provenance.get("kind") or "few-shot"
    return PROTOCOLS.create(old.get(name, name))


def check_names(values: Sequence[str], what: str) -> list[str]:
    """A non-empty list of names (heads, scores, ...), or an error naming the setting."""
    names = [str(v) for v in values]
    if not names:
        raise DataError(f"setting {what}: give at least one name")
    return names
