"""The prediction service (the `[serve]` extra): FastAPI app, micro-batching, web page."""

from headstart.service.app import ServiceSettings, create_app
from headstart.service.run import serve

__all__ = ["ServiceSettings", "create_app", "serve"]
