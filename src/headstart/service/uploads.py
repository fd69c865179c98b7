"""Reading a request's items within limits: the body is counted as it arrives (413 past the
limit, whatever Content-Length claims), then parsed as multipart files or JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request
from starlette.datastructures import UploadFile

from headstart.exceptions import DataError


@dataclass
class Items:
    """What one request asks about: item payloads (bytes or texts) or vectors, and names."""

    items: list[Any] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    vectors: Any = None
    options: dict[str, Any] = field(default_factory=dict)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or 413 as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"request of {int(declared):,} bytes exceeds {limit:,}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"request exceeds the limit of {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_items(request: Request, limit: int, max_items: int, field_name: str) -> Items:
    """Files of a multipart form (any field name), or JSON {"texts": [...]} / {"vectors":
    [[...]]} plus options; 415 for other content types, 422 for malformed content."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("multipart/form-data", "application/json"):
        raise HTTPException(
            415, f"send multipart/form-data (files) or application/json, not {kind or 'nothing'}"
        )
    body = await read_body(request, limit)
    request._body = body  # Starlette parses the form from the body already read (and counted)
    if kind == "application/json":
        return _json_items(body, max_items, field_name)
    form = await request.form(max_files=max_items, max_fields=16)
    found = Items(options={k: v for k, v in form.items() if isinstance(v, str)})
    for _, value in form.multi_items():
        if isinstance(value, UploadFile):
            found.items.append(await value.read())
            found.names.append(value.filename or f"file {len(found.names) + 1}")
    if not found.items:
        raise HTTPException(422, "the form holds no files")
    return found


def _json_items(body: bytes, max_items: int, field_name: str) -> Items:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise HTTPException(422, f"the body is not valid JSON: {error}") from error
    if not isinstance(data, dict) or ("vectors" in data) == (field_name in data):
        raise HTTPException(422, f'send an object with either "{field_name}" or "vectors"')
    options = {k: v for k, v in data.items() if k not in (field_name, "vectors")}
    if "vectors" in data:
        vectors = data["vectors"]
        count = len(vectors) if isinstance(vectors, list) else 0
        _check_count(count, max_items, "vectors")
        return Items(
            vectors=vectors, names=[f"vector {i + 1}" for i in range(count)], options=options
        )
    texts = data[field_name]
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise HTTPException(422, f'"{field_name}" must be a list of strings')
    _check_count(len(texts), max_items, field_name)
    return Items(items=list(texts), names=[t[:80] for t in texts], options=options)


def _check_count(count: int, max_items: int, what: str) -> None:
    if count == 0:
        raise HTTPException(422, f"no {what} given")
    if count > max_items:
        raise HTTPException(413, f"{count} {what} exceed the limit of {max_items} per request")


def option_int(options: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    """An integer option (form field or JSON key) within [low, high], else 422."""
    value = options.get(key, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise HTTPException(422, f"{key} must be an integer, got {value!r}") from None
    if not low <= number <= high:
        raise HTTPException(422, f"{key} must be between {low} and {high}, got {number}")
    return number


def as_http(error: DataError) -> HTTPException:
    """A headstart data error (an item, a dimension, a modality) as a 422 naming it."""
    return HTTPException(422, str(error))
