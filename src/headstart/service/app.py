"""The prediction service: FastAPI routes over models and indexes loaded once.

GET /healthz · GET /v1/models · POST /v1/models/{name}/predict · GET /v1/indexes ·
POST /v1/indexes/{name}/search · GET / (the web page) · /docs (OpenAPI).

Each served model and index gets its own documented operation, so the schema can say exactly
which bodies it takes (the vector width, texts or image files, the range of `top_k`); any other
name is answered 404 by a route the schema leaves out.
"""

from __future__ import annotations

import hmac
from contextlib import asynccontextmanager
from importlib import resources
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from headstart.api.serving import Served, ServedIndex, ServedModel, count_pixels
from headstart.exceptions import DataError
from headstart.service.answers import Prediction, Search, refusals
from headstart.service.batcher import MicroBatcher
from headstart.service.bodies import Items, Option, QueryBody
from headstart.service.settings import ServiceSettings
from headstart.service.uploads import as_http, read_items

BEARER = HTTPBearer(auto_error=False)  # module level: FastAPI resolves annotations here
MAX_NEIGHBOURS = 1000


def create_app(
    models: dict[str, ServedModel],
    indexes: dict[str, ServedIndex] | None = None,
    settings: ServiceSettings | None = None,
) -> FastAPI:
    """The app over loaded models and indexes (see `api.serving.load_served`)."""
    settings = settings or ServiceSettings()
    indexes = indexes or {}
    for served in [*models.values(), *indexes.values()]:
        if "{" in served.name or "}" in served.name:
            raise DataError(f"cannot serve {served.what}: braces in a name; rename its folder")
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

    app = FastAPI(title="headstart", version="1", lifespan=lifespan, description=_about(settings))
    app.state.batchers = batchers
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins))

    def authorised(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    ) -> None:
        given = credentials.credentials if credentials else ""
        if not hmac.compare_digest(given.encode(), settings.token.encode()):
            raise HTTPException(401, "missing or wrong bearer token")

    guard = [Depends(authorised)] if settings.token else []  # no token: no security scheme
    token = settings.token is not None

    async def vectors_of(served: Served, request: Request, body: QueryBody) -> tuple[Any, Items]:
        found = await read_items(request, settings.max_upload_bytes, body)
        try:
            if found.vectors is not None:
                return served.vectors(found.vectors), found
            pixels = await run_in_threadpool(count_pixels, found.items)
            if pixels > settings.max_request_pixels:
                raise HTTPException(
                    413,
                    f"the images hold {pixels:,} pixels together; the limit is "
                    f"{settings.max_request_pixels:,} per request: send fewer or smaller images",
                )
            prepared = await run_in_threadpool(served.prepare, found.items, found.names)
        except DataError as error:
            raise as_http(error) from error
        return await batchers[served.what].submit(prepared), found

    def add_query(
        served: Served, path: str, option: Option, answer: type, run: Any, keys: tuple[str, str]
    ) -> None:
        """One documented operation: `run(vectors, names, option)` answers as `keys`."""
        body = QueryBody(
            served.what,
            served.dim,
            served.modality if served.encoder else None,
            settings.max_items,
            option,
        )

        async def query(request: Request) -> dict[str, Any]:
            vectors, found = await vectors_of(served, request, body)
            try:
                rows = await run_in_threadpool(run, vectors, found.names, found.option)
            except DataError as error:
                raise as_http(error) from error
            return {keys[0]: served.name, keys[1]: rows}

        app.add_api_route(
            path,
            query,
            methods=["POST"],
            dependencies=guard,
            response_model=answer,
            response_model_exclude_none=True,
            responses=refusals(401, 413, 415, 422, token=token),
            openapi_extra={"requestBody": body.openapi()},
            summary=f"{served.what}: {_inputs(body)}",
            description=_limits(settings),
        )

    for name, model in models.items():
        classes = len(model.saved.classes)
        top_k = Option("top_k", min(settings.top_k, classes), 1, classes, "labels per item")
        path = f"/v1/models/{name}/predict"
        add_query(model, path, top_k, Prediction, model.predict, ("model", "results"))
    for name, index in indexes.items():
        k = Option("k", 10, 1, MAX_NEIGHBOURS, "neighbours per query")
        path = f"/v1/indexes/{name}/search"
        add_query(index, path, k, Search, index.search, ("index", "neighbours"))

    @app.post("/v1/models/{name}/predict", dependencies=guard, include_in_schema=False)
    def unknown_model(name: str) -> None:
        raise _unknown(models, name, "model")

    @app.post("/v1/indexes/{name}/search", dependencies=guard, include_in_schema=False)
    def unknown_index(name: str) -> None:
        raise _unknown(indexes, name, "index")

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "models": len(models), "indexes": len(indexes)}

    @app.get("/v1/models", dependencies=guard, responses=refusals(401, token=token))
    def list_models() -> list[dict[str, Any]]:
        return [served.describe() for served in models.values()]

    @app.get("/v1/indexes", dependencies=guard, responses=refusals(401, token=token))
    def list_indexes() -> list[dict[str, Any]]:
        return [served.describe() for served in indexes.values()]

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return _static("index.html")

    @app.get("/page.js", include_in_schema=False)
    def script() -> Response:
        return Response(_static("page.js"), media_type="text/javascript")

    return app


def _unknown(table: dict[str, Served], name: str, what: str) -> HTTPException:
    known = ", ".join(sorted(table)) or "none"
    return HTTPException(404, f"no {what} named {name!r}; served: {known}")


def _inputs(body: QueryBody) -> str:
    taken = {"text": "texts or ", "image": "image files or "}.get(body.modality or "", "")
    return f"{taken}{body.dim}-d vectors, {body.option.name} from 1 to {body.option.high}"


def _limits(settings: ServiceSettings) -> str:
    return (
        f"Limits: a body of at most {settings.max_upload_bytes:,} bytes (413); at most "
        f"{settings.max_items} files, texts or vectors (422); each image at most "
        f"{settings.max_pixels:,} pixels (422) and all images of one request together at most "
        f"{settings.max_request_pixels:,} pixels (413), read from their headers before any is "
        "decoded."
    )


def _about(settings: ServiceSettings) -> str:
    return (
        "Predictions and searches over saved headstart models and indexes, one operation "
        "each (another name is answered 404). "
        f"{_limits(settings)} A request's headers must arrive within "
        f"{settings.header_timeout_s:g} s and its body within {settings.body_timeout_s:g} s "
        f"more, or the connection is closed; past {settings.max_connections} connections, "
        "requests are answered 503."
    )


def _static(name: str) -> str:
    return resources.files("headstart.service").joinpath("static", name).read_text("utf-8")
