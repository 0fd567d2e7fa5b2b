"""`POST /v1/participants/{participant_id}/enrolment` (admin: a consent link for a device source) and
`GET /v1/sources/{source}/callback` (the page the participant lands on after consenting).

The API knows no device cloud: it serves the `Enrolment`s it was given (`create_app(…, enrolments=…)`). The
callback needs no API key: its `state` is a single-use secret that names the link; the page it shows is plain
HTML, for a participant, and says what happened.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Annotated, Any, Final

import asyncpg
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter

from api.auth.guards import admin_guard, caller
from api.errors import not_found
from schemas.enrolment import Enrolment, EnrolmentError, EnrolmentLink

PUBLIC: Final = {"exclude_from_auth": True}
DEFAULT_SOURCE: Final = "google_health"


def _enrolment(request: Request[Any, Any, Any], source: str) -> Enrolment:
    enrolments: Mapping[str, Enrolment] = request.app.state.get("enrolments") or {}
    enrolment = enrolments.get(source)
    if enrolment is None:
        raise NotFoundException(detail=f"source {source!r} is not configured on this server")
    return enrolment


def _page(title: str, message: str, status: int) -> Response[str]:
    document = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width'><title>{html.escape(title)}</title></head>"
        f"<body><main><h1 id='title'>{html.escape(title)}</h1>"
        f"<p id='message'>{html.escape(message)}</p></main></body></html>"
    )
    headers = {"Content-Security-Policy": "default-src 'none'", "Cache-Control": "no-store"}
    return Response(document, status_code=status, media_type=MediaType.HTML, headers=headers)


class EnrolmentController(Controller):
    path = "/v1"
    tags = ("enrolment",)

    @post(
        "/participants/{participant_id:str}/enrolment",
        guards=[admin_guard],
        status_code=201,
        summary="Create a consent link for a device source",
    )
    async def create_enrolment(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        participant_id: FromPath[str],
        source: Annotated[str, QueryParameter(description="The device source", max_length=64)] = DEFAULT_SOURCE,
    ) -> EnrolmentLink:
        """A new single-use link to the source's consent page (state + PKCE; the verifier stays on the server,
        sealed). Send it to the participant; their consent lands on this API's callback."""
        enrolment = _enrolment(request, source)
        async with pool.acquire() as connection:
            try:
                return await enrolment.create_link(
                    connection, participant_id, actor=f"api key {caller(request).key_id}"
                )
            except EnrolmentError as error:
                if error.problem == "unknown_participant":
                    raise not_found("participant", participant_id) from None
                raise

    @get("/sources/{source:str}/callback", opt=PUBLIC, include_in_schema=False, media_type=MediaType.HTML)
    async def callback(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        source: FromPath[str],
        oauth_state: Annotated[str | None, QueryParameter(name="state", max_length=512)] = None,
        code: Annotated[str | None, QueryParameter(max_length=2048)] = None,
        error: Annotated[str | None, QueryParameter(max_length=256)] = None,
    ) -> Response[str]:
        """Completes the consent: exchanges the code, stores the sealed grant, sets the participant authorised."""
        try:
            enrolment = _enrolment(request, source)
        except NotFoundException:
            return _page("Unknown device service", f"This server does not enrol with {source!r}.", 404)
        if not oauth_state:
            return _page("This link is incomplete", "The consent page did not send back its state.", 400)
        async with pool.acquire() as connection:
            try:
                await enrolment.complete(connection, state=oauth_state, code=code, error=error)
            except EnrolmentError as failed:
                title = "Nothing was shared" if failed.problem == "denied" else "Enrolment not completed"
                return _page(title, failed.reason, 400)
        return _page(
            "You are enrolled", "Thank you. Your device's data will now reach the study. You can close this page.", 200
        )
