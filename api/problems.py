"""Every 4xx answer is an RFC 9457 problem details document (`application/problem+json`), through Litestar's
ProblemDetails plugin: `type` (`about:blank`), `title` (the status's phrase), `status`, `detail` (what is wrong,
as before), `status_code` (the same as `status`, as error bodies had it before) and, for invalid parameters,
`extra`: the per-field list `[{"key", "message", "source"}]`. Other extra members of an error stand at the top
level. The OpenAPI document says so: each operation's 4xx responses have the `ProblemDetails` schema under
`application/problem+json`, and a `4XX` response stands for the rest.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Final

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.openapi.spec import Components, OpenAPI, OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Reference, Schema
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsException, ProblemDetailsPlugin

PROBLEM_JSON: Final = "application/problem+json"
SCHEMA_NAME: Final = "ProblemDetails"
ABOUT_BLANK: Final = "about:blank"

PROBLEM_SCHEMA: Final = Schema(
    type=OpenAPIType.OBJECT,
    required=["type", "title", "status", "detail"],
    properties={
        "type": Schema(type=OpenAPIType.STRING, description="`about:blank`: the status code says what happened."),
        "title": Schema(type=OpenAPIType.STRING, description="The status code's phrase."),
        "status": Schema(type=OpenAPIType.INTEGER),
        "status_code": Schema(type=OpenAPIType.INTEGER, description="The same as `status` (kept for older clients)."),
        "detail": Schema(type=OpenAPIType.STRING, description="What is wrong with this request."),
        "extra": Schema(
            type=OpenAPIType.ARRAY,
            description="Invalid parameters, one item per field.",
            items=Schema(
                type=OpenAPIType.OBJECT,
                properties={
                    "key": Schema(type=OpenAPIType.STRING),
                    "message": Schema(type=OpenAPIType.STRING),
                    "source": Schema(type=OpenAPIType.STRING),
                },
            ),
        ),
    },
    additional_properties=Schema(),
    description="RFC 9457 problem details.",
)


def problem(
    status_code: int, detail: str, *, extra: Any = None, headers: dict[str, str] | None = None
) -> ProblemDetailsException:
    """The problem details of an error answered with `status_code`; the body keeps the `status_code` member
    that error bodies carried before they were problem details."""
    members: dict[str, Any] = {"status_code": status_code}
    if isinstance(extra, dict):
        members = {**extra, **members}
    elif extra:
        members["extra"] = extra
    return ProblemDetailsException(
        status_code=status_code,
        detail=detail,
        extra=members,
        headers=headers,
        type_=ABOUT_BLANK,
        title=HTTPStatus(status_code).phrase,
    )


def problem_of(error: HTTPException) -> ProblemDetailsException:
    """An HTTP error of ours or Litestar's as problem details, keeping its detail, extra and headers."""
    return problem(error.status_code, error.detail, extra=error.extra or None, headers=error.headers)


def problem_response(request: Request[Any, Any, Any], status_code: int, detail: str) -> Response[dict[str, Any]]:
    return problem(status_code, detail).to_response(request)


def problem_details_plugin() -> ProblemDetailsPlugin:
    return ProblemDetailsPlugin(ProblemDetailsConfig(exception_to_problem_detail_map={HTTPException: problem_of}))


_METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def document_problems(openapi: OpenAPI) -> None:
    """Rewrites the generated document in place: the ProblemDetails schema in the components, and every
    operation's 4xx responses (with a `4XX` one for the others) as `application/problem+json` of it."""
    openapi.components = openapi.components or Components()
    openapi.components.schemas = {**(openapi.components.schemas or {}), SCHEMA_NAME: PROBLEM_SCHEMA}
    reference = Reference(ref=f"#/components/schemas/{SCHEMA_NAME}")
    for path_item in (openapi.paths or {}).values():
        for method in _METHODS:
            operation = getattr(path_item, method, None)
            if operation is None:
                continue
            responses = operation.responses if operation.responses is not None else {}
            for code, response in responses.items():
                if code.startswith("4") and isinstance(response, OpenAPIResponse):
                    response.content = {PROBLEM_JSON: OpenAPIMediaType(schema=reference)}
            responses.setdefault(
                "4XX",
                OpenAPIResponse(
                    description="A client error, as problem details",
                    content={PROBLEM_JSON: OpenAPIMediaType(schema=reference)},
                ),
            )
            operation.responses = responses
