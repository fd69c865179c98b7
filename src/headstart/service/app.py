"""The prediction service: FastAPI routes over models and indexes loaded once.

GET /healthz · GET /v1/models · POST /v1/models/{name}/predict · GET /v1/indexes ·
POST /v1/indexes/{name}/search · GET / (the web page) · /docs (OpenAPI).
"""

from __future__ import annotations

import hmac
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from headstart.api.serving import Served, ServedIndex, ServedModel
from headstart.exceptions import DataError
from headstart.service.batcher import MicroBatcher
from headstart.service.uploads import as_http, option_int, read_items

BEARER = HTTPBearer(auto_error=False)  # module level: FastAPI resolves annotations here


@dataclass(frozen=True)
class ServiceSettings:
    """Limits and switches of one service; every default is the safe one."""

    token: str | None = None  # bearer token required on /v1/* when set
    cors_origins: tuple[str, ...] = ()  # no CORS unless asked
    max_upload_bytes: int = 10 * 1024 * 1024
    max_items: int = 64  # files, texts or vectors per request
    max_pixels: int = 40_000_000  # larger images are refused (decompression bombs)
    max_batch: int = 32  # items per encoder call
    max_wait_ms: float = 5.0  # how long a batch waits for more requests
    top_k: int = 3


def create_app(
    models: dict[str, ServedModel],
    indexes: dict[str, ServedIndex] | None = None,
    settings: ServiceSettings | None = None,
) -> FastAPI:
    """The app over loaded models and indexes (see `api.serving.load_served`)."""
    settings = settings or ServiceSettings()
    indexes = indexes or {}
    for served in {**models, **indexes}.values():
        served.limit_pixels(settings.max_pixels)
    batchers = {  # one per model or index (a model and an index may share a name)
        served.what: MicroBatcher(served.encode, settings.max_batch, settings.max_wait_ms / 1000)
        for served in [*models.values(), *indexes.values()]
        if served.encoder is not None
    }

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        for batcher in batchers.values():
            await batcher.close()

    app = FastAPI(title="headstart", version="1", lifespan=lifespan)
    app.state.batchers = batchers
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins))

    def authorised(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    ) -> None:
        if settings.token is None:
            return
        given = credentials.credentials if credentials else ""
        if not hmac.compare_digest(given.encode(), settings.token.encode()):
            raise HTTPException(401, "missing or wrong bearer token")

    async def vectors_of(served: Served, request: Request, field: str) -> tuple[Any, list, dict]:
        found = await read_items(request, settings.max_upload_bytes, settings.max_items, field)
        try:
            if found.vectors is not None:
                return served.vectors(found.vectors), found.names, found.options
            prepared = await run_in_threadpool(served.prepare, found.items, found.names)
        except DataError as error:
            raise as_http(error) from error
        vectors = await batchers[served.what].submit(prepared)
        return vectors, found.names, found.options

    def find(table: dict[str, Served], name: str, what: str) -> Served:
        if name not in table:
            known = ", ".join(sorted(table)) or "none"
            raise HTTPException(404, f"no {what} named {name!r}; served: {known}")
        return table[name]

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "models": len(models), "indexes": len(indexes)}

    @app.get("/v1/models", dependencies=[Depends(authorised)])
    def list_models() -> list[dict[str, Any]]:
        return [served.describe() for served in models.values()]

    @app.post("/v1/models/{name}/predict", dependencies=[Depends(authorised)])
    async def predict(name: str, request: Request) -> dict[str, Any]:
        """Images (multipart files), texts ({"texts": [...]}) or vectors ({"vectors":
        [[...]]}); `top_k` as a form field or JSON key."""
        served = find(models, name, "model")
        vectors, names, options = await vectors_of(served, request, "texts")
        classes = len(served.saved.classes)
        top_k = option_int(options, "top_k", min(settings.top_k, classes), 1, classes)
        try:
            results = await run_in_threadpool(served.predict, vectors, names, top_k)
        except DataError as error:
            raise as_http(error) from error
        return {"model": name, "results": results}

    @app.get("/v1/indexes", dependencies=[Depends(authorised)])
    def list_indexes() -> list[dict[str, Any]]:
        return [served.describe() for served in indexes.values()]

    @app.post("/v1/indexes/{name}/search", dependencies=[Depends(authorised)])
    async def search(name: str, request: Request) -> dict[str, Any]:
        """Like predict, with `k` neighbours per query (default 10)."""
        served = find(indexes, name, "index")
        vectors, names, options = await vectors_of(served, request, "texts")
        k = option_int(options, "k", 10, 1, 1000)
        try:
            rows = await run_in_threadpool(served.search, vectors, names, k)
        except DataError as error:
            raise as_http(error) from error
        return {"index": name, "neighbours": rows}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return _static("index.html")

    @app.get("/page.js", include_in_schema=False)
    def script() -> Response:
        return Response(_static("page.js"), media_type="text/javascript")

    return app


def _static(name: str) -> str:
    return resources.files("headstart.service").joinpath("static", name).read_text("utf-8")
