"""`format=arrow` series pages: the API's encoding read by the client gives the frame the JSON page gives; the
client falls back to JSON where a server refuses the format."""

from __future__ import annotations

import datetime as dt

import httpx
import msgspec
import pandas as pd
import pyarrow as pa
import pytest

from api.series import arrow
from api.series.schemas import Point, SeriesPage
from schemas.codebook import CODEBOOK, point_fields
from schemas.metrics import METRICS
from wearstream.client import Client, frames
from wearstream.client.http import answer_of

T0 = dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC)


def page_of(metric: str, resolution: str, points: list[Point], cursor: str | None = "abc") -> SeriesPage:
    return SeriesPage(
        participant_id="P1",
        metric=metric,
        unit=METRICS[metric].unit,
        start=T0,
        end=T0 + dt.timedelta(days=1),
        resolution=resolution,  # type: ignore[arg-type]
        bucket_seconds=None if resolution == "raw" else 60,
        points=points,
        next_cursor=cursor,
    )


def at(seconds: int) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds, milliseconds=seconds % 7)


PAGES = {
    "hrv_rmssd raw": page_of(
        "hrv_rmssd",
        "raw",
        [
            Point(time=at(0), value=41.125, extra={"coverage": 0.97, "lf": 812.5, "hf": 301.25}),
            Point(time=at(300), value=38.0, extra=None),
        ],
    ),
    "heart_rate raw": page_of("heart_rate", "raw", [Point(time=at(k), value=60.0 + k / 3) for k in range(50)], None),
    "steps 1m": page_of(
        "steps", "1m", [Point(time=at(60 * k), count=1, min=k, max=k, mean=k, sum=k) for k in range(5)]
    ),
    "sleep_stage 1m": page_of(
        "sleep_stage",
        "1m",
        [Point(time=at(0), count=2, min=1, max=2, mean=1.5, stage_epochs=[0, 1, 1, 0])],
    ),
    "spo2 empty": page_of("spo2", "1m", [], None),
}


def http_answer(page: SeriesPage, metric: str) -> httpx.Response:
    return httpx.Response(
        200,
        content=arrow.encode(page, METRICS[metric]),
        headers={"content-type": arrow.MEDIA_TYPE, **arrow.headers(page)},
        request=httpx.Request("GET", "http://api/v1/x"),
    )


def imputed_page(metric: str, resolution: str, points: list[Point]) -> SeriesPage:
    return msgspec.structs.replace(page_of(metric, resolution, points), imputed="include", imputation_run="run-1")


PROVENANCE = {"imputed": True, "imputation_run": "run-1", "standard_error": 2.5, "lower": 61.0, "upper": 71.0}
IMPUTED_PAGES = {
    "heart_rate raw imputed": imputed_page(
        "heart_rate",
        "raw",
        [Point(time=at(0), value=64.0, imputed=False), Point(time=at(60), value=66.0, **PROVENANCE)],  # type: ignore[arg-type]
    ),
    "steps 1h imputed": imputed_page(
        "steps",
        "1h",
        [
            Point(time=at(0), count=61, min=0, max=40, mean=2.0, sum=122, imputed_minutes=1, imputed=False),
            Point(time=at(3600), count=3, min=5, max=9, mean=7.0, sum=21, imputed_minutes=3, imputed=False),
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(IMPUTED_PAGES))
def test_an_imputed_arrow_page_carries_the_provenance_columns_and_gives_the_json_frame(name: str) -> None:
    page = IMPUTED_PAGES[name]
    answer = answer_of(http_answer(page, page.metric))
    assert (answer["imputed"], answer["imputation_run"]) == ("include", "run-1")
    table: pa.Table = answer["table"]
    extra = ["imputed", "imputation_run", "standard_error", "lower", "upper"]
    if page.resolution != "raw":
        extra.insert(0, "imputed_minutes")
    assert table.column_names == point_fields(METRICS[page.metric], page.resolution) + extra
    assert table.schema.field("imputed").type == pa.bool_()
    assert table.schema.field("imputation_run").type == pa.string()
    as_json = msgspec.json.decode(msgspec.json.encode(page))
    expected = frames.page_frame("P1", page.metric, "UTC", as_json)
    got = frames.page_frame("P1", page.metric, "UTC", answer)
    pd.testing.assert_frame_equal(got, expected)
    assert list(got.columns[5:]) == table.column_names[1:]
    assert got["imputed"].tolist() == [bool(p.imputed) for p in page.points]


@pytest.mark.parametrize("name", sorted(PAGES))
def test_an_arrow_page_gives_the_frame_of_the_json_page(name: str) -> None:
    page = PAGES[name]
    answer = answer_of(http_answer(page, page.metric))
    assert answer["next_cursor"] == page.next_cursor
    assert answer["resolution"] == page.resolution
    assert answer["bucket_seconds"] == page.bucket_seconds
    table: pa.Table = answer["table"]
    assert table.column_names == point_fields(METRICS[page.metric], page.resolution)
    assert table.schema.metadata[b"next_cursor"] == (page.next_cursor or "").encode()
    unit_field = "value" if page.resolution == "raw" else "mean"
    assert table.schema.field(unit_field).metadata == {b"unit": METRICS[page.metric].unit.encode()}

    as_json = msgspec.json.decode(msgspec.json.encode(page))
    expected = frames.page_frame("P1", page.metric, "Europe/Berlin", as_json)
    got = frames.page_frame("P1", page.metric, "Europe/Berlin", answer)
    pd.testing.assert_frame_equal(got, expected)
    assert got.attrs == expected.attrs
    assert len(got) == len(page.points)


def test_a_table_with_other_columns_is_refused() -> None:
    page = {"resolution": "raw", "table": pa.table({"time": [1], "other": [2.0]})}
    with pytest.raises(ValueError, match="expected the columns"):
        frames.page_frame("P1", "heart_rate", "UTC", page)


def test_the_client_falls_back_to_json_where_the_server_refuses_arrow() -> None:
    seen: list[httpx.Request] = []
    json_page = {
        "resolution": "raw",
        "bucket_seconds": None,
        "points": [{"time": "2026-03-06T00:00:00Z", "value": 61}],
        "next_cursor": None,
    }

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/v1/participants/P1":
            return httpx.Response(200, json={"timezone": "UTC"})
        if request.url.params.get("format") == "arrow":
            return httpx.Response(400, json={"detail": "Validation failed", "extra": [{"key": "format"}]})
        return httpx.Response(200, json=json_page)

    with Client("http://api", "k", transport=httpx.MockTransport(handler)) as client:
        first = client.series("P1", "heart_rate", resolution="raw")
        second = client.series("P1", "heart_rate", resolution="raw")
    assert list(first["value"]) == list(second["value"]) == [61.0]
    formats = [r.url.params.get("format") for r in seen if "series" in r.url.path]
    assert formats == ["arrow", None, None]  # refused once, then JSON for the rest of the client's life


def test_the_codebook_covers_every_metric_with_its_point_fields() -> None:
    assert [entry.name for entry in CODEBOOK] == list(METRICS)
    steps = next(entry for entry in CODEBOOK if entry.name == "steps")
    assert steps.rollup_fields == ["time", "count", "min", "max", "mean", "sum"]
    assert steps.units["sum"] == "steps"
    hrv = next(entry for entry in CODEBOOK if entry.name == "hrv_rmssd")
    assert hrv.raw_fields == ["time", "value", "coverage", "lf", "hf"]
    assert hrv.precision == 0.001
