"""Reading the JSON files headstart writes beside its arrays (models, indexes): a missing,
undecodable or non-object file is a `StoreError` naming it."""

from __future__ import annotations

import hashlib
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


SEAL = "metadata_sha256"


def sealed(data: dict[str, Any]) -> dict[str, Any]:
    """`data` with a checksum of its own canonical JSON: metadata (class names, provenance)
    is then covered as the arrays beside it are, and a hand edit is caught on reading."""
    body = {key: value for key, value in data.items() if key != SEAL}
    return {**body, SEAL: _digest(body)}


def check_seal(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """`data` without its seal, or a `StoreError` when the seal does not match. A file
    written before seals existed has none and is read as it is."""
    body = {key: value for key, value in data.items() if key != SEAL}
    if SEAL in data and data[SEAL] != _digest(body):
        raise StoreError(
            f"{path} was changed after headstart wrote it (metadata checksum mismatch): its "
            "class names and provenance cannot be trusted; restore the file or write it again"
        )
    return body


def _digest(body: dict[str, Any]) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_sealed_json(path: Path, data: dict[str, Any]) -> None:
    """Write `data` to `path` with its seal (see `sealed`)."""
    path.write_text(json.dumps(sealed(data), indent=1), encoding="utf-8")


def read_sealed_json(path: Path, missing: str) -> dict[str, Any]:
    """`read_json_object` with the seal checked and removed."""
    return check_seal(read_json_object(path, missing), path)
