"""The routes of the web pages: `GET /` (the app's HTML shell) and `/ui/…` (its scripts and styles).

Both skip authentication (`exclude_from_auth`): they are static, and the sign-in form is one of them. The
shell is sent with a Content-Security-Policy that allows scripts, styles and connections (REST and websockets)
to this origin only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

from litestar import Request, Response, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.enums import MediaType
from litestar.static_files import create_static_files_router

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
ASSETS_PATH: Final = "/ui"
PUBLIC: Final = {"exclude_from_auth": True}
_HOST: Final = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


def content_security_policy(host: str, secure: bool) -> str:
    """Same-origin everything; websockets named explicitly (older browsers do not match ws: with 'self')."""
    socket = f"{'wss' if secure else 'ws'}://{host}" if _HOST.match(host) else ""
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self' {socket}".strip(),
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        )
    )


@get("/", include_in_schema=False, opt=PUBLIC, media_type=MediaType.HTML, sync_to_thread=False, name="pages-index")
def index(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The app's shell; the hash part of the URL (`#/participants/P0001`) chooses the page."""
    shell = (STATIC_DIR / "index.html").read_bytes()
    secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    return Response(
        shell,
        media_type=MediaType.HTML,
        headers={
            "Content-Security-Policy": content_security_policy(request.headers.get("host", ""), secure),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        },
    )


assets = create_static_files_router(
    path=ASSETS_PATH,
    directories=[STATIC_DIR],
    name="pages-assets",
    opt=PUBLIC,
    include_in_schema=False,
    cache_control=CacheControlHeader(no_cache=True),
)

pages_router: Final = Router(path="/", route_handlers=[index, assets], include_in_schema=False)
