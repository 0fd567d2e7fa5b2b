"""The API's errors: 400 naming the field, 404 for unknown things — never a 500 for input.

Every one is answered as problem details (`api/problems.py`): `{"type", "title", "status", "detail", "extra"}`.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar import Request, Response
from litestar.exceptions import NotFoundException, ValidationException
from litestar.status_codes import HTTP_400_BAD_REQUEST

from api.problems import problem_response


def invalid(field: str, message: str, *, source: str = "query") -> ValidationException:
    """A 400 naming the offending field: `detail` "<field>: <message>", `extra` [{"key", "message", "source"}]."""
    return ValidationException(
        detail=f"{field}: {message}", extra=[{"key": field, "message": message, "source": source}]
    )


def not_found(what: str, name: str) -> NotFoundException:
    return NotFoundException(detail=f"unknown {what} {name!r}")


def database_data_error(request: Request[Any, Any, Any], error: asyncpg.DataError) -> Response[dict[str, Any]]:
    """Last line of defence: a value the database could not take is the client's input, not a server fault."""
    return problem_response(request, HTTP_400_BAD_REQUEST, f"invalid parameter value: {error.__class__.__name__}")
