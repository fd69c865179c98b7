"""The limits and switches of one service, checked when they are made: every default is the
safe one, and a value that would quietly weaken the service (an empty token) is refused."""

from __future__ import annotations

from dataclasses import dataclass, fields

from headstart.exceptions import DataError


@dataclass(frozen=True)
class ServiceSettings:
    """What `create_app` and `serve` need besides the models; see `headstart serve --help`."""

    token: str | None = None  # bearer token required on /v1/* when set
    cors_origins: tuple[str, ...] = ()  # no CORS unless asked
    max_upload_bytes: int = 10 * 1024 * 1024
    max_items: int = 64  # files, texts or vectors per request
    max_pixels: int = 40_000_000  # one larger image is refused (decompression bombs)
    max_request_pixels: int = 100_000_000  # all images of one request together
    max_batch: int = 32  # items per encoder call
    max_wait_ms: float = 5.0  # how long a batch waits for more requests
    top_k: int = 3
    header_timeout_s: float = 10.0  # a request's headers must arrive within this
    body_timeout_s: float = 60.0  # and its body within this once the headers are in
    max_connections: int = 100  # further requests are answered 503 until some close

    def __post_init__(self) -> None:
        if self.token is not None and not self.token.strip():
            raise DataError(
                "the bearer token is empty (an unset variable?): give a real token, or leave "
                "--token and $HEADSTART_TOKEN out to serve without one"
            )
        positive = [f.name for f in fields(self) if f.type in ("int", "float")]
        for name in positive:
            if name != "max_wait_ms" and not getattr(self, name) > 0:
                raise DataError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.max_wait_ms < 0:
            raise DataError(f"max_wait_ms must be 0 or more, got {self.max_wait_ms!r}")
