"""Reads one file into typed responses, turning every decoding problem into a `ShapeError` with a JSON path.

Two layouts are accepted, told apart by the top-level JSON value:
- `web_api`: one Web API response object, as the endpoint answered it;
- `wearipedia`: an array of responses, one per day, as wearipedia's `get_data` returns them and the Snyder
  lab challenge dumped them (`hr.json`, `azm.json`, …). Fitbit's SpO2 and HRV interval endpoints answer such
  an array too. Empty objects in the array are days without data and are skipped; all other elements must
  be of the same data type.

Decoding is typed (msgspec), so a wrong type deep inside a 1 Hz heart-rate day costs nothing extra to
locate: msgspec reports the path, and only then is the offending value looked up to quote it.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from typing import Any, Final, NamedTuple

import msgspec

from producers.fitbit.detect import DECODERS, ResponseKind, detect_kind
from producers.fitbit.errors import NoHomeError, ShapeError
from producers.fitbit.shapes import DataType, ResponseShape, WearipediaHeartRateDay


class Layout(enum.StrEnum):
    WEB_API = "web_api"
    WEARIPEDIA = "wearipedia"


class LocatedResponse(NamedTuple):
    json_path: str
    """Where the response sits in its file, e.g. `$[2]["heart_rate_day"][0]`; parsers extend it."""
    response: ResponseShape


class DecodedFile(NamedTuple):
    layout: Layout
    data_type: DataType
    responses: list[LocatedResponse]
    skipped: tuple[NoHomeError, ...] = ()
    """Elements of a wearipedia array that have no home (e.g. a daily summary among intraday days)."""


_probe: Final = msgspec.json.Decoder(list[dict[str, msgspec.Raw]] | dict[str, msgspec.Raw])


def decode_document(content: bytes) -> DecodedFile:
    """Decodes a whole file's bytes; raises `ShapeError` (path from the file's root) on any problem, and
    `NoHomeError` when nothing in the file has a home (the caller skips such a file with a warning)."""
    if not content.strip():
        raise ShapeError("$", "empty file")
    try:
        document = _probe.decode(content)
    except msgspec.ValidationError as error:
        raise _validation_error(error, "$", content) from None
    except msgspec.DecodeError as error:
        raise ShapeError("$", _invalid_json_reason(str(error), content)) from None

    if isinstance(document, dict):
        kind = detect_kind(document, "$")
        return DecodedFile(Layout.WEB_API, kind.data_type, _decode_response(kind, content, "$"))

    first: tuple[str, ResponseKind] | None = None
    responses: list[LocatedResponse] = []
    skipped: list[NoHomeError] = []
    for index, element in enumerate(document):
        if not element:
            continue
        path = f"$[{index}]"
        try:
            kind = detect_kind(element, path)
        except NoHomeError as no_home:
            skipped.append(no_home)
            continue
        if first is None:
            first = path, kind
        elif kind.data_type is not first[1].data_type:
            raise ShapeError(path, f"a {kind.data_type} response, but {first[0]} is {first[1].data_type}")
        responses.extend(_decode_response(kind, msgspec.json.encode(element), path))
    if first is None:
        if skipped:
            more = f" (and {len(skipped) - 1} more element(s) like it)" if len(skipped) > 1 else ""
            raise NoHomeError(skipped[0].json_path, skipped[0].reason + more)
        raise ShapeError("$", "no response to import: the array is empty or holds only empty objects")
    return DecodedFile(Layout.WEARIPEDIA, first[1].data_type, responses, tuple(skipped))


def _decode_response(kind: ResponseKind, raw: bytes, json_path: str) -> list[LocatedResponse]:
    try:
        response = DECODERS[kind.shape].decode(raw)
    except msgspec.ValidationError as error:
        raise _validation_error(error, json_path, raw) from None
    if isinstance(response, WearipediaHeartRateDay):
        return [
            LocatedResponse(f'{json_path}["heart_rate_day"][{index}]', day)
            for index, day in enumerate(response.heart_rate_day)
        ]
    return [LocatedResponse(json_path, response)]


# --- msgspec messages → readable reasons ----------------------------------------------------------------

_LOCATION: Final = re.compile(r" - at `(\$[^`]*)`$")
_PATH_PART: Final = re.compile(r"\[(\d+)\]|\.([^.\[]+)")
_EXPECTED: Final = re.compile(r"^Expected `([^`]+)`(.*?)(?:, got `[^`]+`)?$")
_RFC3339: Final = re.compile(r"^Invalid RFC3339 encoded (date|time|datetime)$")
_MISSING: Final = re.compile(r"^Object missing required field `([^`]+)`$")
_ENUM: Final = re.compile(r"^Invalid enum value ")
_BYTE: Final = re.compile(r"\(byte (\d+)\)")

_TYPE_NAMES: Final = {
    "float": "a number",
    "int": "an integer",
    "str": "a string",
    "bool": "true or false",
    "null": "null",
    "object": "an object",
    "array": "an array",
    "date": "a date (YYYY-MM-DD)",
    "time": "a time of day (HH:MM:SS)",
    "datetime": "a local date-time (YYYY-MM-DDTHH:MM:SS)",
}


def _validation_error(error: msgspec.ValidationError, json_path: str, raw: bytes) -> ShapeError:
    message = str(error)
    parts: list[str | int] = []
    if located := _LOCATION.search(message):
        message = message[: located.start()]
        for index, name in _PATH_PART.findall(located.group(1)):
            parts.append(int(index) if index else name)
    path = json_path + "".join(f"[{part}]" if isinstance(part, int) else f'["{part}"]' for part in parts)
    return ShapeError(path, _reason(message, lambda: _quote_value(raw, parts)))


def _reason(message: str, got: Callable[[], str]) -> str:
    if match := _MISSING.match(message):
        return f'missing required field "{match.group(1)}"'
    if match := _RFC3339.match(message):
        return f"expected {_TYPE_NAMES[match.group(1)]}, got {got()}"
    if match := _EXPECTED.match(message):
        wanted = " or ".join(_TYPE_NAMES.get(name, name) for name in match.group(1).split(" | "))
        return f"expected {wanted}{match.group(2)}, got {got()}"
    if _ENUM.match(message):
        return f"unknown value {got()}"
    return message[:1].lower() + message[1:]


def _quote_value(raw: bytes, parts: list[str | int]) -> str:
    """The JSON text of the value at `parts` inside `raw`, shortened; only called on the error path."""
    value: Any = msgspec.json.decode(raw)
    try:
        for part in parts:
            value = value[part]
    except (LookupError, TypeError):
        return "a value that could not be located"
    text = msgspec.json.encode(value).decode()
    return text if len(text) <= 60 else text[:57] + "..."


def _invalid_json_reason(message: str, content: bytes) -> str:
    if "truncated" in message:
        return "invalid JSON: the file ends in the middle of a value"
    reason = message.removeprefix("JSON is malformed: ")
    if match := _BYTE.search(reason):
        offset = int(match.group(1))
        line = content.count(b"\n", 0, offset) + 1
        column = offset - (content.rfind(b"\n", 0, offset) + 1) + 1
        reason = reason[: match.start()] + f"(near line {line}, column {column})"
    return f"invalid JSON: {reason}"
