"""A multipart form read into its raw parts: name, filename (if any), content type, bytes.

Starlette's own form reader turns a part without a filename into text, which garbles an
image sent that way; RFC 7578 makes the filename optional, and OpenAPI clients (and
schemathesis) do leave it out. The body here is already read and counted, so parts stay in
memory; the number of parts is bounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import HTTPException
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header


@dataclass
class Part:
    """One part of a form, as sent."""

    name: str = ""
    filename: str | None = None
    content_type: str = ""
    data: bytearray = field(default_factory=bytearray)


class _Reader:
    """python-multipart's callbacks, collecting parts (at most `max_parts`)."""

    def __init__(self, max_parts: int) -> None:
        self.max_parts, self.parts, self.ended = max_parts, [], False
        self.headers: dict[bytes, bytes] = {}
        self.field, self.value = b"", b""

    def on_part_begin(self) -> None:
        if len(self.parts) == self.max_parts:
            raise HTTPException(422, f"the form holds more than {self.max_parts} parts")
        self.parts.append(Part())
        self.headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.field.strip().lower()] = self.value.strip()
        self.field, self.value = b"", b""

    def on_headers_finished(self) -> None:
        part = self.parts[-1]
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        part.name = _text(options.get(b"name", b""))
        if b"filename" in options:
            part.filename = _text(options[b"filename"])
        part.content_type = _text(self.headers.get(b"content-type", b""))

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self.parts[-1].data += data[start:end]

    def on_end(self) -> None:
        self.ended = True


def read_form(body: bytes, content_type: str, max_parts: int) -> list[Part]:
    """The parts of a multipart/form-data `body`; 422 when it cannot be read."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise HTTPException(422, "the multipart/form-data content type names no boundary")
    reader = _Reader(max_parts)
    callbacks = {
        name: getattr(reader, name)
        for name in dir(reader)
        if name.startswith("on_") and callable(getattr(reader, name))
    }
    try:
        parser = MultipartParser(boundary, callbacks)
        parser.write(body)
        parser.finalize()
    except (MultipartParseError, ValueError) as error:
        raise HTTPException(422, f"the form cannot be read: {error}") from None
    if not reader.ended:
        raise HTTPException(422, "the form ends before its closing boundary")
    return reader.parts


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")
