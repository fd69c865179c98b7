"""Starting the service under uvicorn (bound to 127.0.0.1 unless told otherwise)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from headstart.api.serving import ServedIndex, ServedModel, load_served
from headstart.exceptions import DataError
from headstart.service.app import ServiceSettings, create_app

TOKEN_VARIABLE = "HEADSTART_TOKEN"


def serve(
    models: Sequence[str | Path],
    indexes: Sequence[str | Path] = (),
    host: str = "127.0.0.1",
    port: int = 8000,
    settings: ServiceSettings | None = None,
) -> None:
    """Load every model and index once, then serve until interrupted. The bearer token
    comes from `settings` or the HEADSTART_TOKEN environment variable."""
    import uvicorn

    settings = settings or ServiceSettings()
    if settings.token is None and os.environ.get(TOKEN_VARIABLE):
        settings = ServiceSettings(**{**settings.__dict__, "token": os.environ[TOKEN_VARIABLE]})
    if not models and not indexes:
        raise DataError("nothing to serve: give model folders (and --index folders)")
    app = create_app(load_served(models, ServedModel), load_served(indexes, ServedIndex), settings)
    uvicorn.run(app, host=host, port=port, log_level="warning")
