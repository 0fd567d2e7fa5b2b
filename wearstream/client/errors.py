"""What the client raises: one base class, an API answer that is an error, and the network giving up."""

from __future__ import annotations


class ClientError(Exception):
    """Base of every error the wearstream client raises."""


class ApiError(ClientError):
    """The API answered with an error status; `detail` is the API's own message (it names the field for 400)."""

    def __init__(self, status: int, detail: str, url: str) -> None:
        super().__init__(f"{status} from {url}: {detail}")
        self.status = status
        self.detail = detail
        self.url = url


class AuthError(ApiError):
    """401 (no, unknown or revoked key) or 403 (this key may not read that)."""


class NotFoundError(ApiError):
    """404 naming an unknown participant or metric."""


class EndpointUnavailableError(ApiError):
    """404 for the path itself: this server does not serve the endpoint (an older or newer API version)."""


class RateLimitedError(ApiError):
    """429 still answered after the client waited `Retry-After` as many times as it was allowed to."""


class TransportError(ClientError):
    """The server could not be reached (or kept failing with 502/503/504) after every retry."""


class LiveClosedError(ClientError):
    """The live websocket was refused or closed by the server; `code` is the close code (4401, 4403, 4404, …)."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"live feed closed ({code}): {detail}")
        self.code = code
        self.detail = detail
