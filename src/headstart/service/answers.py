"""What the service answers, as pydantic models for the OpenAPI schema: the predictions, the
neighbours found, and the one shape of every refusal with the codes each endpoint can give."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Problem(BaseModel):
    """Every refusal: what was wrong, naming the field, file or limit."""

    detail: str


class Ranked(BaseModel):
    label: str
    probability: float


class Score(BaseModel):
    name: str = Field(description="the reject score (msp, energy, …)")
    value: float


class Result(BaseModel):
    """One item's top-k; with a reject option, the verdict, its score and threshold too."""

    item: str = Field(description="the file name, text (first 80 characters) or `vector N`")
    top: list[Ranked]
    prediction: str = Field(description='the top label, or "unknown" when rejected')
    unknown: bool | None = None
    score: Score | None = None
    threshold: float | None = None


class Prediction(BaseModel):
    model: str
    results: list[Result]


class Neighbour(BaseModel):
    query: str
    rank: int
    id: str
    label: str
    score: float


class Search(BaseModel):
    index: str
    neighbours: list[Neighbour]


REFUSALS = {
    401: "missing or wrong bearer token",
    413: "the body, or the pixels of its images, over the limit given in the message",
    415: "neither application/json nor multipart/form-data",
    422: "a body the schema does not allow, or an item that cannot be used (named)",
}


def refusals(*codes: int, token: bool) -> dict[int | str, dict[str, Any]]:
    """The documented error answers of an endpoint (401 only when a token is required)."""
    shown = [code for code in codes if code != 401 or token]
    return {code: {"model": Problem, "description": REFUSALS[code]} for code in shown}
