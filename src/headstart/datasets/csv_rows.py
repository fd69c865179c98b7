"""Reading a CSV with a header into row dicts, the one place that checks its shape: every
row must have exactly the header's number of fields (a row with more or fewer was cut or
padded silently by `csv.DictReader`), and the required columns must be there."""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from pathlib import Path

from headstart.exceptions import DataError, raise_problems


def read_csv_rows(
    source: Path, required: Sequence[str], expected: str, strip: bool = True
) -> list[dict[str, str]]:
    """Rows as {column: value} (stripped unless `strip` is False, e.g. for texts);
    `expected` describes the format for messages."""
    csv.field_size_limit(sys.maxsize)
    try:
        with open(source, newline="", encoding="utf-8-sig") as handle:
            lines = csv.reader(handle)
            header = [h.strip() for h in next(lines, [])]
            missing = [c for c in required if c not in header]
            if missing:
                raise DataError(
                    f"{source}: header {header} lacks column(s) {missing}; expected {expected}"
                )
            rows, problems = [], []
            for line, fields in enumerate(lines, start=2):
                if not fields:  # a blank line
                    continue
                if len(fields) != len(header):
                    problems.append(
                        f"line {line}: {len(fields)} fields, the header has {len(header)}"
                    )
                    continue
                pairs = zip(header, fields, strict=True)
                rows.append({k: v.strip() if strip else v for k, v in pairs if k})
    except UnicodeDecodeError as error:
        where = _first_undecodable_line(source)
        raise DataError(
            f"{source}: not a UTF-8 text CSV (line {where}: {error.reason}; save it as UTF-8)"
        ) from error
    except csv.Error as error:
        raise DataError(f"{source}: not a readable CSV ({error})") from error
    raise_problems(source, problems)
    return rows


def _first_undecodable_line(source: Path) -> int | str:
    """The number of the first line that is not UTF-8 ('?' when no single line is the cause,
    e.g. a character split across lines)."""
    with open(source, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return "?"
