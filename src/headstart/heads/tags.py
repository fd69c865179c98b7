"""What a head can do, declared as data (scikit-learn's `__sklearn_tags__` pattern): the
protocols and the report read these tags and nothing else about a head.

A head returns its `HeadTags` from `__headstart_tags__()`, starting from its parent's and
changing what differs (`dataclasses.replace`); tags may depend on parameters (GDA adds classes
only with `streaming`). Estimators that are not headstart heads get the defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from headstart.heads.views import final_step

FAMILIES = {  # how reports group heads, with the title of each group's panel
    "linear": "linear (trained)",
    "generative": "generative (closed form)",
    "distance": "distance to the support set",
    "text": "zero-shot from class texts",
    "prompt": "prompts learned through the text encoder",
    "adapter": "training-free adapters",
    "incremental": "class-incremental prototypes",
    "robust": "robust to noisy, long-tailed labels",
    "groups": "robust to spurious correlations (group-aware)",
    "other": "other heads",
}


@dataclass(frozen=True)
class HeadTags:
    """`label_free`: learns nothing from labelled items (runs at 0 shots when it has class
    texts); `transductive`: learns from the unlabelled items of the training split too;
    `text_conditioned`: takes class text embeddings (its `class_embeddings` parameter);
    `views`: learns from augmented views; `incremental`: `extend` adds classes without a
    refit; `groups`: learns from the group of each training row (`fit(X, y, groups=...)`);
    `family`: the report's group (a key of `FAMILIES`)."""

    family: str = "other"
    label_free: bool = False
    transductive: bool = False
    text_conditioned: bool = False
    views: bool = False
    incremental: bool = False
    groups: bool = False

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"unknown head family {self.family!r}; one of {', '.join(FAMILIES)}")


def head_tags(model: Any) -> HeadTags:
    """The tags of a head, or of a pipeline's final head; defaults for other estimators."""
    final = final_step(model)
    declared = getattr(type(final), "__headstart_tags__", None)
    return declared(final) if declared is not None else HeadTags()
