"""Starting the service under uvicorn (bound to 127.0.0.1 unless told otherwise), with read
deadlines against slow clients and a limit on concurrent connections."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

from headstart.api.serving import ServedIndex, ServedModel, load_served
from headstart.exceptions import DataError
from headstart.service.app import create_app
from headstart.service.deadlines import with_deadlines
from headstart.service.settings import ServiceSettings

TOKEN_VARIABLE = "HEADSTART_TOKEN"
KEEP_ALIVE_S = 5  # an idle kept-alive connection is closed after this


def serve(
    models: Sequence[str | Path],
    indexes: Sequence[str | Path] = (),
    host: str = "127.0.0.1",
    port: int = 8000,
    settings: ServiceSettings | None = None,
) -> None:
    """Load every model and index once, then serve until interrupted. The bearer token
    comes from `settings` or the HEADSTART_TOKEN environment variable (set but empty is
    refused, like an empty `--token`)."""
    import uvicorn

    settings = settings or ServiceSettings()
    if settings.token is None and TOKEN_VARIABLE in os.environ:
        try:
            settings = dataclasses.replace(settings, token=os.environ[TOKEN_VARIABLE])
        except DataError as error:
            raise DataError(f"${TOKEN_VARIABLE} is set but empty: {error}") from None
    if not models and not indexes:
        raise DataError("nothing to serve: give model folders (and --index folders)")
    app = create_app(load_served(models, ServedModel), load_served(indexes, ServedIndex), settings)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        http=with_deadlines(settings.header_timeout_s, settings.body_timeout_s),
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=KEEP_ALIVE_S,
    )
