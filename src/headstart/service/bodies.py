"""What one served model or index accepts as a request body, written once as pydantic models:
they check a body strictly (a number is a number, finite, at most 1e6 in magnitude; an
integer is an integer; no unknown keys) and describe it in the OpenAPI schema, so /docs
promises exactly what is checked. Reading the bytes off the wire is `uploads.py`'s job."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import pydantic_core
from fastapi import HTTPException
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictStr,
    ValidationError,
    create_model,
)

# the largest magnitude of one vector number: with it a vector of up to 10,000 numbers stays
# below the length 1e8 above which `store import` refuses vectors and heads lose precision
NUMBER_MAX = 1e6
Number = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-NUMBER_MAX, le=NUMBER_MAX)]
Text = Annotated[StrictStr, Field(pattern=r"\S", description="a text (not only blanks)")]
SHOWN_ERRORS = 3  # a body with many mistakes gets the first few named


@dataclass
class Items:
    """What one request asks about: item payloads (bytes or texts) or vectors, their names,
    and the option (`top_k` or `k`) already checked."""

    option: int
    items: list[Any] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    vectors: list[list[float]] | None = None


@dataclass(frozen=True)
class Option:
    """The one integer option of a query: its name, default and inclusive range."""

    name: str
    default: int
    low: int
    high: int
    help: str


class QueryBody:
    """The bodies one endpoint takes: JSON `{"vectors": [[...]]}` of width `dim`, JSON
    `{"texts": [...]}` when it has a text encoder, a multipart form of image `files` when it
    has an image encoder; at most `max_items` of them, plus the option."""

    def __init__(self, what: str, dim: int, modality: str | None, max_items: int, option: Option):
        self.what, self.dim, self.modality, self.option = what, dim, modality, option
        self.max_items = max_items
        count = {"min_length": 1, "max_length": max_items}
        vector = Annotated[list[Number], Field(min_length=dim, max_length=dim)]
        vectors = Annotated[list[vector], Field(**count, description=f"{dim}-d vectors")]
        self.json = {"vectors": self._model("vectors", vectors, strict=True)}
        if modality == "text":
            texts = Annotated[list[Text], Field(**count, description="texts to encode")]
            self.json["texts"] = self._model("texts", texts, strict=True)
        self.form = None
        if modality == "image":
            files = Annotated[list[bytes], Field(**count, description="image files")]
            self.form = self._model("files", files, strict=False)

    def _model(self, key: str, kind: Any, strict: bool) -> type[BaseModel]:
        option = self.option
        limits = Field(ge=option.low, le=option.high, description=option.help)
        number = Annotated[int, limits, BeforeValidator(_whole)]
        config = ConfigDict(extra="forbid", strict=strict)
        name = f"{self.what} {key}".replace("'", "")
        fields = {key: (kind, ...), option.name: (number, option.default)}
        return create_model(name, __config__=config, **fields)

    def openapi(self) -> dict[str, Any]:
        """The `requestBody` of the endpoint's OpenAPI operation."""
        schemas = [model.model_json_schema() for model in self.json.values()]
        content: dict[str, Any] = {
            "application/json": {"schema": schemas[0] if len(schemas) == 1 else {"oneOf": schemas}}
        }
        if self.form is not None:
            content["multipart/form-data"] = {
                "schema": self.form.model_json_schema(),
                "encoding": {"files": {"contentType": "image/*"}},
            }
        return {"required": True, "content": content}

    def from_json(self, body: bytes) -> Items:
        """A JSON body checked; 422 naming the field for anything the schema does not allow.
        Parsing is depth-limited and keeps big or infinite numbers for the field checks."""
        try:
            data = pydantic_core.from_json(body)
        except ValueError as error:
            raise HTTPException(422, f"the body is not valid JSON: {error}") from error
        keys = [key for key in self.json if isinstance(data, dict) and key in data]
        if len(keys) != 1:
            wanted = " or ".join(f'"{key}"' for key in self.json)
            files = ' (image files go as multipart/form-data "files")' if self.form else ""
            raise HTTPException(422, f"{self.what} takes a JSON object with {wanted}{files}")
        checked = self._check(self.json[keys[0]], data)
        values = getattr(checked, keys[0])
        option = getattr(checked, self.option.name)
        if keys[0] == "vectors":
            names = [f"vector {i + 1}" for i in range(len(values))]
            return Items(option, vectors=values, names=names)
        return Items(option, items=values, names=[text[:80] for text in values])

    def from_form(self, files: list[tuple[str, bytes]], fields: dict[str, str]) -> Items:
        """Uploaded `(filename, bytes)` and the form's text fields, checked like JSON."""
        if self.form is None:
            raise HTTPException(422, f"{self.what} takes JSON, not files (it has no image encoder)")
        names, payloads = [name for name, _ in files], [data for _, data in files]
        checked = self._check(self.form, {"files": payloads, **fields})
        return Items(getattr(checked, self.option.name), payloads, names)

    def _check(self, model: type[BaseModel], data: Any) -> BaseModel:
        try:
            return model.model_validate(data)
        except ValidationError as error:
            problems = [self._explain(problem) for problem in error.errors()]
            hidden = len(problems) - SHOWN_ERRORS
            more = f" (and {hidden} more)" if hidden > 0 else ""
            raise HTTPException(422, "; ".join(problems[:SHOWN_ERRORS]) + more) from None

    def _explain(self, problem: dict[str, Any]) -> str:
        """One pydantic problem as `where: what`, in the words of this service."""
        loc, kind = problem["loc"], problem["type"]
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
        where = where.lstrip(".") or "the body"
        length = (problem.get("ctx") or {}).get("actual_length")
        if kind in ("too_short", "too_long") and len(loc) == 2 and loc[0] == "vectors":
            return f"{where}: {self.what} takes {self.dim}-d vectors; this one is {length}-d"
        if kind == "too_long" and len(loc) == 1:
            return f"{where}: at most {self.max_items} per request, got {length}"
        message = problem["msg"][0].lower() + problem["msg"][1:]
        shown = problem.get("input")
        if isinstance(shown, dict | list):
            return f"{where}: {message}"
        given = repr(shown)
        return f"{where}: {message}, got {given if len(given) <= 40 else given[:37] + '...'}"


def _whole(value: Any) -> Any:
    """2.0 is an integer to JSON Schema (and so to the OpenAPI schema); 2.7 and inf are not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value
