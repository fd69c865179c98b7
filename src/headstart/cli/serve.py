"""`headstart serve`: the prediction service and its web page over saved models."""

from __future__ import annotations

from pathlib import Path

import typer

from headstart.cli.common import app, console
from headstart.exceptions import DataError


@app.command()
def serve(
    models: list[Path] = typer.Argument(None, help="folders written by `headstart fit`"),
    index: list[Path] = typer.Option([], help="folder written by `headstart index` (repeat)"),
    host: str = typer.Option("127.0.0.1", help="interface to bind; 0.0.0.0 exposes it"),
    port: int = typer.Option(8000, min=0, max=65535),
    token: str | None = typer.Option(
        None,
        help="bearer token required on /v1/* (default: $HEADSTART_TOKEN, else none; "
        "an empty one is refused)",
    ),
    cors_origin: list[str] = typer.Option([], help="origin allowed by CORS (none unless given)"),
    max_upload_mb: float = typer.Option(10.0, min=0.001, help="largest request body"),
    max_items: int = typer.Option(64, min=1, help="files, texts or vectors per request"),
    max_request_megapixels: float = typer.Option(
        100.0, min=0.001, help="pixels of all images of one request together (413 past it)"
    ),
    max_batch: int = typer.Option(32, min=1, help="items per encoder call (1: no batching)"),
    max_wait_ms: float = typer.Option(5.0, min=0.0, help="how long a batch waits to fill"),
    header_timeout: float = typer.Option(
        10.0, min=0.01, help="seconds for a request's headers to arrive (then closed)"
    ),
    body_timeout: float = typer.Option(
        60.0, min=0.01, help="seconds for a request's body to arrive after its headers"
    ),
    max_connections: int = typer.Option(100, min=1, help="concurrent connections (503 past it)"),
) -> None:
    """Serve saved models (and indexes): JSON API under /v1, a web page at /, docs at /docs."""
    try:
        from headstart import service
    except ImportError as error:
        raise DataError(
            f"serving needs FastAPI and uvicorn ({error.name} is missing): "
            "pip install 'headstart[serve]'"
        ) from error
    settings = service.ServiceSettings(
        token=token,
        cors_origins=tuple(cors_origin),
        max_upload_bytes=int(max_upload_mb * 1024 * 1024),
        max_items=max_items,
        max_request_pixels=int(max_request_megapixels * 1_000_000),
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        header_timeout_s=header_timeout,
        body_timeout_s=body_timeout,
        max_connections=max_connections,
    )
    console.print(f"serving on http://{host}:{port}/ (docs at /docs)", markup=False)
    service.serve(models or [], index, host, port, settings)
