"""Authorisation: who may read what. 403 with a JSON body when a key reaches beyond its role.

The guards are coroutines: Litestar runs a plain-function guard in a worker thread, a hop per request."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from api import metric_defs
from api.auth.keys import ApiKey


def caller(connection: ASGIConnection[Any, Any, Any, Any]) -> ApiKey:
    user = connection.scope.get("user")
    if not isinstance(user, ApiKey):  # only when a route was wrongly excluded from authentication
        raise PermissionDeniedException(detail="no API key on this request")
    return user


def denied(detail: str) -> PermissionDeniedException:
    metric_defs.AUTH_FAILURES.labels(reason="forbidden").inc()
    return PermissionDeniedException(detail=detail)


async def cohort_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Cohort-wide endpoints: admin and researcher keys only."""
    key = caller(connection)
    if not key.cohort:
        raise denied(f"a {key.role} key cannot read cohort-wide data")


async def admin_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    key = caller(connection)
    if key.role != "admin":
        raise denied("admin keys only")


async def participant_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """`/v1/participants/{participant_id}/…`: a participant key reads its own participant only."""
    key = caller(connection)
    participant_id = str(connection.path_params.get("participant_id", ""))
    if not key.may_read(participant_id):
        raise denied("this key may read its own participant's data only")


async def notify_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Sending reminders: admin keys, and researcher keys when `WEARSTREAM_API_NOTIFICATIONS_ALLOW_RESEARCHERS`."""
    key = caller(connection)
    if key.role == "admin":
        return
    if key.role == "researcher" and connection.app.state.settings.api.notifications.allow_researchers:
        return
    raise denied("only admin keys send reminders")
