"""Reading the JSON files headstart writes beside its arrays (models, indexes): a missing,
undecodable or non-object file is a `StoreError` naming it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from headstart.exceptions import StoreError


def read_json_object(path: Path, missing: str) -> dict[str, Any]:
    """The JSON object in `path`; `missing` is the error message when there is no file."""
    if not path.is_file():
        raise StoreError(missing)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise StoreError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(data, dict):
        raise StoreError(f"{path}: expected a JSON object")
    return data
