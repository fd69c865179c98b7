"""The prediction service (the `[serve]` extra): FastAPI app, micro-batching, web page."""

from headstart.service.app import create_app
from headstart.service.run import serve
from headstart.service.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app", "serve"]
