"""The fixed stores and protocol runs behind `test_protocol_spine.py`'s comparison with the
outputs saved in `tests/data/protocol_golden.json` (written by the code before protocols
were registered objects; `python tests/protocol_cases.py` rewrites it)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from headstart.store import write_vectors

GOLDEN = Path(__file__).parent / "data" / "protocol_golden.json"
CLASSES = [f"c{i}" for i in range(7)]


def fixed_store(path: Path, split: bool = True, seed: int = 0):
    """Seven classes, 16 dimensions, 20 train and 10 test rows a class (no split: 30 rows)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(7), 30)
    X = rng.normal(size=(len(y), 16)) + 2.5 * rng.normal(size=(7, 16))[y]
    split_values = np.where(np.arange(len(y)) % 30 < 20, "train", "test") if split else None
    return write_vectors(
        path, X, labels=[CLASSES[c] for c in y], split=split_values, class_names=CLASSES
    )


def run_all(root: Path, provenance: bool = False) -> dict:
    """Every protocol on the fixed stores: {case: {"rows": [...], "chosen": [...]}} (and
    each run's "provenance" when asked)."""
    from headstart import api

    main, plain, far = root / "main", root / "plain", root / "far"
    fixed_store(main), fixed_store(plain, split=False), fixed_store(far, seed=1)
    heads = ["gda", "prototype", "knn", "linear-probe"]
    params = {"linear-probe": {"Cs": (0.1, 1.0), "max_iter": 50}}
    runs = {
        "few-shot": lambda: api.evaluate(
            main, heads, [1, 2, "all"], 3, progress=False, head_params=params, calibrate=True
        ),
        "few-shot-no-split": lambda: api.evaluate(
            plain, ["gda", "prototype"], [1, 4], 2, progress=False
        ),
        "few-shot-corrupted": lambda: api.evaluate(
            main,
            ["gda", "prototype"],
            [2, "all"],
            2,
            progress=False,
            label_noise=["symmetric:0.2", "asymmetric:0.3"],
            imbalance=3.0,
            shots_policy="up-to",
        ),
        "open-set": lambda: api.evaluate_open_set(
            main, ["gda", "prototype"], [1, 4], 2, ["msp", "mls", "knn"], 0.3, far, progress=False
        ),
        "incremental": lambda: api.evaluate_incremental(
            main, "3:2:2", ["teen", "prototype", "gda"], 2, progress=False
        ),
        "base-novel": lambda: api.evaluate_adapted(
            main,
            api.AdaptSettings(loss="supcon", epochs=3, batch_size=32),
            ["prototype", "gda"],
            [1, 4],
            2,
            0.5,
            progress=False,
        ),
        "learning-curve": lambda: api.learning_curve(main, [1, 2, 5], 2),
        "mil-cv": lambda: api.mil_evaluate(
            "musk1", ["mean", "attention"], ["none"], 3, 1, progress=False, epochs=3
        ),
    }
    out = {}
    for name, run in runs.items():
        results = run()
        out[name] = {"rows": results.table().to_pylist(), "chosen": results.chosen}
        if provenance:
            out[name]["provenance"] = results.provenance
    return out


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value).__name__)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        found = run_all(Path(folder))
    GOLDEN.write_text(json.dumps(found, default=_plain))
    counts = ", ".join(f"{name} {len(found[name]['rows'])} rows" for name in found)
    print(f"wrote {GOLDEN}: {counts}")
    sys.exit(0)
