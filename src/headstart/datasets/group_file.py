"""A groups file: item id → one or more attributes (SEER-style fairness and spurious-correlation
groups), as a CSV whose header is `id` and one column per attribute (`skin_tone`, `place`, ...).
Checked here for its own shape; whether its ids are the store's is the protocol's check."""

from __future__ import annotations

from pathlib import Path

from headstart.datasets.csv_rows import read_csv_rows
from headstart.exceptions import DataError

EXPECTED = "a CSV with a header `id,<attribute>[,<attribute>...]`, one row per item"


def read_groups(path: str | Path) -> dict[str, dict[str, str]]:
    """{attribute: {item id: value}} from a groups file; an empty value, a repeated id or a
    file without attributes is an error naming the line."""
    source = Path(path)
    if not source.is_file():
        raise DataError(f"groups file {source} does not exist (expected {EXPECTED})")
    rows = read_csv_rows(source, ["id"], EXPECTED)
    attributes = [k for k in (rows[0] if rows else {}) if k != "id"]
    if not rows or not attributes:
        raise DataError(
            f"groups file {source}: no attribute columns or no rows; expected {EXPECTED}"
        )
    out: dict[str, dict[str, str]] = {a: {} for a in attributes}
    for line, row in enumerate(rows, start=2):
        item = row["id"]
        if not item:
            raise DataError(f"groups file {source}, line {line}: empty id")
        if item in out[attributes[0]]:
            raise DataError(f"groups file {source}, line {line}: id {item!r} appears twice")
        for attribute in attributes:
            if not row[attribute]:
                raise DataError(
                    f"groups file {source}, line {line}: item {item!r} has no {attribute!r}"
                )
            out[attribute][item] = row[attribute]
    return out
