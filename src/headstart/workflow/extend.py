"""`headstart fit STORE --extend MODEL`: add a store's classes to a saved incremental head
without refitting the classes it knows. Everything is computed before anything is written,
and the result replaces its folder in one rename, so a failed extend leaves the saved model
as it was."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from headstart.exceptions import DataError
from headstart.heads.tags import head_tags
from headstart.heads.views import final_step, head_inputs
from headstart.json_files import write_sealed_json
from headstart.openset.reject import REJECT_FILE
from headstart.output import new_folder
from headstart.persistence import load_model, save_model
from headstart.store import Store
from headstart.workflow.models import (
    check_same_encoder,
    is_saved_model,
    read_provenance,
)
from headstart.workflow.splits import PROVENANCE, fitting_rows


def extend_model(
    model_dir: str | Path,
    store: Store,
    out: str | Path,
    overwrite: bool = False,
    all_rows: bool = False,
) -> Path:
    """The model of `model_dir` with the classes of `store`'s training rows added (the split
    rule's; with `all_rows` every labelled row), saved to `out`: `model_dir` itself, a new
    folder or (with `overwrite`) another saved model."""
    model_dir, out = Path(model_dir), Path(out)
    replace = overwrite or os.path.abspath(out) == os.path.abspath(model_dir)
    with new_folder(out, "models", replace, is_saved_model) as staging:
        _extend(model_dir, store, staging, all_rows)
    return out


def _extend(model_dir: Path, store: Store, staging: Path, all_rows: bool) -> None:
    """Add the classes and save the extended model and its provenance into `staging`."""
    provenance = read_provenance(model_dir)
    model = load_model(model_dir)
    head = final_step(model)
    if not head_tags(head).incremental:
        raise DataError(
            f"model {model_dir} ({type(head).__name__}) cannot add classes without a refit; "
            "extend a teen, prototype or gda (streaming) model"
        )
    check_same_encoder(model_dir, store.card.to_dict())
    rows, rule = fitting_rows(store, all_rows, classes=1)
    names = [store.class_names[c] for c in np.unique(store.labels[rows])]
    known = sorted(set(names) & set(provenance["class_names"]))
    if known:
        raise DataError(
            f"classes {known[:5]} of {store.root} are known to {model_dir} already; extend "
            "adds new classes only"
        )
    first = len(provenance["class_names"])
    index = {name: first + i for i, name in enumerate(names)}
    labels = np.array([index[store.class_names[c]] for c in store.labels[rows]])
    try:
        head.extend(head_inputs(model, store.vectors()[rows]), labels)
    except ValueError as error:  # e.g. another feature width
        raise DataError(f"cannot extend {model_dir} with {store.root}: {error}") from error
    provenance["class_names"] = [*provenance["class_names"], *names]
    provenance.setdefault("extended_with", []).append(
        {
            "store": str(store.root),
            "store_key": store.key,
            "classes": names,
            "rows": len(rows),
            "rows_rule": rule,
        }
    )
    if (model_dir / REJECT_FILE).exists():
        provenance["reject_dropped"] = "its threshold was chosen for the earlier classes"
    save_model(model, staging)
    write_sealed_json(staging / PROVENANCE, provenance)
