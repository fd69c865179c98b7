"""Reading a request's items within limits: the body is counted as it arrives (413 past the
limit, whatever Content-Length claims), then handed as JSON or as the parts of a multipart
form to the endpoint's `QueryBody`, which checks it."""

from __future__ import annotations

from fastapi import HTTPException, Request
from starlette.requests import ClientDisconnect

from headstart.exceptions import DataError
from headstart.service.bodies import Items, QueryBody
from headstart.service.forms import read_form

FILES_FIELD = "files"
EXTRA_PARTS = 4  # form parts besides the files: the option, and room to name a stray one
CONTENT_TYPES = ("application/json", "multipart/form-data")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or 413 as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"request of {int(declared):,} bytes exceeds {limit:,}")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, f"request exceeds the limit of {limit:,} bytes")
            chunks.append(chunk)
    except ClientDisconnect:  # the client left, or the server's body deadline closed it
        raise HTTPException(400, "the connection closed before the body arrived") from None
    return b"".join(chunks)


async def read_items(request: Request, limit: int, body: QueryBody) -> Items:
    """JSON or multipart form items checked by `body`; 415 for other content types."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in CONTENT_TYPES:
        raise HTTPException(
            415, f"send multipart/form-data (files) or application/json, not {kind or 'nothing'}"
        )
    raw = await read_body(request, limit)
    if kind == "application/json":
        return body.from_json(raw)
    files, fields = [], {}
    for part in read_form(raw, request.headers["content-type"], body.max_items + EXTRA_PARTS):
        if part.name == FILES_FIELD:  # with or without a filename
            files.append((part.filename or f"file {len(files) + 1}", bytes(part.data)))
        elif part.filename is not None:
            raise HTTPException(
                422, f'form field {part.name!r} holds a file: send files as "files"'
            )
        elif part.name in fields:
            raise HTTPException(422, f"form field {part.name!r} is given more than once")
        else:
            fields[part.name] = part.data.decode("utf-8", errors="replace")
    return body.from_form(files, fields)


def as_http(error: DataError) -> HTTPException:
    """A headstart data error (an item, a dimension, a modality) as a 422 naming it."""
    return HTTPException(422, str(error))
