"""Daily summaries, sleep, adherence, the participants view and gaps against a recomputation from the
simulator's readings and uploads; reminders delivered to a real SMTP server (aiosmtpd) and audited."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import numpy as np
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from tests.integration.test_api_series import DAY, START, T0, Cohort, api_settings, iso, load_cohort, ms

DATES = [START + dt.timedelta(days=i) for i in range(-1, 4)]
AS_OF = T0 + 3 * DAY


class Inbox(Message):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Any] = []

    def handle_message(self, message: Any) -> None:
        self.messages.append(message)


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture(scope="module")
async def cohort(database: str) -> Cohort:
    return await load_cohort(database)


@pytest.fixture(scope="module")
async def client(cohort: Cohort, settings: Settings, smtp: tuple[Inbox, int]) -> AsyncIterator[AsyncTestClient[Any]]:
    configured = api_settings(settings, cohort.url)
    configured = configured.model_copy(update={"smtp": configured.smtp.model_copy(update={"port": smtp[1]})})
    async with AsyncTestClient(create_app(configured)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {cohort.keys['researcher']}"
        yield test_client


def local_bounds(timezone: str, date: dt.date, hour: int = 0) -> int:
    return int(dt.datetime.combine(date, dt.time(hour), tzinfo=ZoneInfo(timezone)).timestamp() * 1000)


def day_minutes(timezone: str, date: dt.date) -> int:
    return (local_bounds(timezone, date + dt.timedelta(days=1)) - local_bounds(timezone, date)) // 60_000


def minutes_with_data(ts: np.ndarray, lo: int, hi: int) -> int:
    return len(set((ts[(ts >= lo) & (ts < hi)] // 60_000).tolist()))


def expected_night(cohort: Cohort, participant: str, date: dt.date) -> dict[str, Any]:
    timezone = cohort.participants[participant].timezone
    lo = local_bounds(timezone, date - dt.timedelta(days=1), 12)
    hi = local_bounds(timezone, date, 12)
    ts, stages = cohort.series(participant, "sleep_stage", lo, hi)
    if not len(ts):
        return {"has_sleep": False}
    counts = np.bincount(stages.astype(int), minlength=4)
    _, spo2 = cohort.series(participant, "spo2", lo, hi)
    _, rmssd, *_ = cohort.series(participant, "hrv_rmssd", lo, hi)
    _, breathing, stage_column = cohort.series(participant, "breathing_rate", lo, hi)
    return {
        "has_sleep": True,
        "stage_minutes": dict(zip(("wake", "light", "deep", "rem"), (counts / 2).tolist(), strict=True)),
        "efficiency_pct": round(100 * counts[1:].sum() / counts.sum(), 2),
        "onset": int(ts[0]),
        "offset": int(ts[-1]) + 30_000,
        "spo2_mean": spo2.mean() if len(spo2) else None,
        "spo2_min": spo2.min() if len(spo2) else None,
        "hrv_rmssd_mean": rmssd.mean() if len(rmssd) else None,
        "breathing_rate": float(breathing[stage_column == -1][-1]) if (stage_column == -1).any() else None,
    }


def assert_night(got: dict[str, Any], expected: dict[str, Any]) -> None:
    assert got["has_sleep"] == expected["has_sleep"]
    if not expected["has_sleep"]:
        return
    assert got["stage_minutes"] == expected["stage_minutes"]
    assert got["efficiency_pct"] == expected["efficiency_pct"]
    assert ms(got["onset"]) == expected["onset"]
    assert ms(got["offset"]) == expected["offset"]
    for key in ("spo2_mean", "spo2_min", "hrv_rmssd_mean", "breathing_rate"):
        if expected[key] is None:
            assert got[key] is None
        else:
            assert got[key] == pytest.approx(expected[key], rel=1e-9, abs=1e-6), key


@pytest.mark.parametrize("participant", ["P0001", "P0003", "P0004", "P0010"])
async def test_daily_summaries_equal_a_recomputation(
    client: AsyncTestClient[Any], cohort: Cohort, participant: str
) -> None:
    timezone = cohort.participants[participant].timezone
    response = await client.get(
        f"/v1/participants/{participant}/daily",
        params={"start": str(DATES[0]), "end": str(DATES[-1] + dt.timedelta(1))},
    )
    assert response.status_code == 200, response.text
    days = response.json()["days"]
    assert [d["date"] for d in days] == [str(d) for d in DATES]
    hr_ts, hr = cohort.series(participant, "heart_rate")
    steps_ts, steps = cohort.series(participant, "steps")
    azm_ts, azm = cohort.series(participant, "active_zone_minutes")
    hr_minute = hr_ts // 60_000
    for got, date in zip(days, DATES, strict=True):
        lo, hi = local_bounds(timezone, date), local_bounds(timezone, date + dt.timedelta(days=1))
        minutes = day_minutes(timezone, date)
        assert got["day_minutes"] == minutes
        assert got["wear_minutes"] == minutes_with_data(hr_ts, lo, hi)
        assert got["coverage_pct"]["steps"] == round(100 * minutes_with_data(steps_ts, lo, hi) / minutes, 2)
        in_day = (steps_ts >= lo) & (steps_ts < hi)
        assert got["steps"] == (int(steps[in_day].sum()) if in_day.any() else None)
        in_day = (azm_ts >= lo) & (azm_ts < hi)
        assert got["active_zone_minutes"] == (int(azm[in_day].sum()) if in_day.any() else None)
        # Resting HR: 00:00–06:59 local minutes with HR and zero steps; the mean of the minute means.
        rest_end = local_bounds(timezone, date, 7)
        still = steps_ts[(steps_ts >= lo) & (steps_ts < rest_end) & (steps == 0)] // 60_000
        means = [hr[hr_minute == m].mean() for m in still.tolist() if (hr_minute == m).any()]
        assert got["resting_hr_minutes"] == len(means)
        assert got["resting_hr"] == (pytest.approx(float(np.mean(means)), rel=1e-12) if means else None)
        uploads = [u for u in cohort.uploads[participant] if lo <= u < hi]
        assert got["uploads"] == len(uploads)
        assert (ms(got["last_upload"]) if got["last_upload"] else None) == (max(uploads) if uploads else None)
        assert_night(got["sleep"], expected_night(cohort, participant, date))


@pytest.mark.parametrize("participant", ["P0002", "P0003", "P0008"])
async def test_sleep_per_night_equals_a_recomputation(
    client: AsyncTestClient[Any], cohort: Cohort, participant: str
) -> None:
    response = await client.get(
        f"/v1/participants/{participant}/sleep", params={"start": str(DATES[0]), "end": str(DATES[-1])}
    )
    nights = response.json()["nights"]
    assert [n["date"] for n in nights] == [str(d) for d in DATES[:-1]]
    assert any(n["has_sleep"] for n in nights)
    for got, date in zip(nights, DATES, strict=False):
        assert_night(got, expected_night(cohort, participant, date))


def expected_adherence(cohort: Cohort, participant: str, start: dt.date, end: dt.date, as_of: int) -> dict[str, Any]:
    record = cohort.participants[participant]
    dates = [start + dt.timedelta(days=i) for i in range((end - start).days)]
    dates = [d for d in dates if d >= record.enrolled_on]
    has_data = (participant, "heart_rate") in cohort.readings and any(
        len(cohort.readings[(participant, m)][0]) for m in ("heart_rate", "steps")
    )
    hr_ts = cohort.series(participant, "heart_rate")[0] if has_data else np.zeros(0, dtype=np.int64)
    sleep_ts = cohort.series(participant, "sleep_stage")[0] if has_data else np.zeros(0, dtype=np.int64)
    worn = sum(
        minutes_with_data(hr_ts, local_bounds(record.timezone, d), local_bounds(record.timezone, d + dt.timedelta(1)))
        for d in dates
    )
    total = sum(day_minutes(record.timezone, d) for d in dates)
    nights = sum(
        bool(
            (
                (sleep_ts >= local_bounds(record.timezone, d - dt.timedelta(1), 12))
                & (sleep_ts < local_bounds(record.timezone, d, 12))
            ).any()
        )
        for d in dates
    )
    uploads = [u for u in cohort.uploads[participant] if u <= as_of]
    hours_exact = (as_of - max(uploads)) / 3_600_000 if uploads else None
    wear_exact = 100 * worn / total if total else None
    sleep_exact = 100 * nights / len(dates) if dates else None
    hours = round(hours_exact, 3) if hours_exact is not None else None
    wear = round(wear_exact, 2) if wear_exact is not None else None
    flags = []
    if record.authorisation != "authorised" or not has_data:
        flags.append("not_authorised")
    if hours_exact is None or hours_exact > 48:
        flags.append("no_recent_upload")
    if wear_exact is not None and wear_exact < 70:
        flags.append("low_wear")
    if sleep_exact is not None and sleep_exact < 50:
        flags.append("low_sleep_data")
    return {
        "days": len(dates),
        "wear_pct": wear,
        "wear_exact": wear_exact,
        "nights_with_sleep": nights,
        "hours": hours,
        "flags": flags,
    }


@pytest.mark.parametrize(
    ("start", "end", "as_of"), [(DATES[1], DATES[4], AS_OF), (DATES[0], DATES[3], AS_OF + 2 * DAY)]
)
async def test_adherence_equals_a_recomputation(
    client: AsyncTestClient[Any], cohort: Cohort, start: dt.date, end: dt.date, as_of: int
) -> None:
    response = await client.get("/v1/adherence", params={"start": str(start), "end": str(end), "as_of": iso(as_of)})
    assert response.status_code == 200, response.text
    report = response.json()
    assert [item["participant_id"] for item in report["items"]] == sorted(cohort.participants)
    flagged = set()
    for item in report["items"]:
        expected = expected_adherence(cohort, item["participant_id"], start, end, as_of)
        assert item["days"] == expected["days"] == len(item["daily"])
        assert item["wear_pct"] == expected["wear_pct"]
        assert item["nights_with_sleep"] == expected["nights_with_sleep"]
        assert item["hours_since_last_upload"] == expected["hours"]
        assert item["flags"] == expected["flags"], item["participant_id"]
        flagged.update(item["flags"])
    assert {"not_authorised", "no_recent_upload"} <= flagged
    only = await client.get(
        "/v1/adherence", params={"start": str(start), "end": str(end), "as_of": iso(as_of), "flag": "low_wear"}
    )
    assert all("low_wear" in item["flags"] for item in only.json()["items"])


async def test_participants_view_filters_sorts_and_pages(client: AsyncTestClient[Any], cohort: Cohort) -> None:
    as_of = DATES[4]
    everyone = (await client.get("/v1/participants", params={"as_of": str(as_of), "limit": 1000})).json()
    assert everyone["total"] == len(cohort.participants)
    assert everyone["next_cursor"] is None
    by_id = {p["participant_id"]: p for p in everyone["items"]}
    for participant, row in by_id.items():
        expected = expected_adherence(cohort, participant, as_of - dt.timedelta(days=7), as_of, AS_OF + DAY)
        assert row["wear_pct_7d"] == expected["wear_pct"]
        assert row["flags"] == expected["flags"]
        assert row["enrolled_on"] == str(cohort.participants[participant].enrolled_on)
    assert by_id["P0999"]["authorisation"] == "revoked"
    assert by_id["P0999"]["last_upload"] is None

    pages: list[dict[str, Any]] = []
    params: dict[str, Any] = {"as_of": str(as_of), "limit": 4, "sort": "-wear_pct"}
    while True:
        page = (await client.get("/v1/participants", params=params)).json()
        pages.extend(page["items"])
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    wear = [p["wear_pct_7d"] for p in pages if p["wear_pct_7d"] is not None]
    assert len(pages) == len(cohort.participants)
    assert wear == sorted(wear, reverse=True)
    revoked = (await client.get("/v1/participants", params={"as_of": str(as_of), "authorisation": "revoked"})).json()
    assert [p["participant_id"] for p in revoked["items"]] == ["P0999"]
    prefixed = (await client.get("/v1/participants", params={"as_of": str(as_of), "q": "P000"})).json()
    assert prefixed["total"] == 9

    detail = (await client.get("/v1/participants/P0004", params={"as_of": str(as_of)})).json()
    assert detail["wear_pct_7d"] == by_id["P0004"]["wear_pct_7d"]
    states = {m["metric"]: m for m in detail["metrics"]}
    ts, _ = cohort.series("P0004", "heart_rate")
    assert states["heart_rate"]["readings"] == len(ts)
    assert ms(states["heart_rate"]["last_reading"]) == ts[-1]


def holes(ts: np.ndarray, threshold_ms: int) -> list[tuple[int, int]]:
    gaps = np.flatnonzero(np.diff(ts) >= threshold_ms)
    return [(int(ts[i]), int(ts[i + 1])) for i in gaps.tolist()]


@pytest.mark.parametrize("participant", ["P0001", "P0004", "P0006"])
async def test_gaps_equal_holes_in_the_readings_and_uploads(
    client: AsyncTestClient[Any], cohort: Cohort, participant: str
) -> None:
    items = (await client.get(f"/v1/participants/{participant}/gaps", params={"limit": 3})).json()
    gaps: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 3}
    while True:
        page = (await client.get(f"/v1/participants/{participant}/gaps", params=params)).json()
        gaps.extend(page["items"])
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    assert gaps[:3] == items["items"]
    hr_ts, _ = cohort.series(participant, "heart_rate")
    not_worn = [(ms(g["start"]), ms(g["end"])) for g in gaps if g["kind"] == "not_worn" and not g["open"]]
    interior = [g for g in not_worn if hr_ts[0] <= g[0] and g[1] <= hr_ts[-1]]
    assert interior == holes(hr_ts, 600_000)
    not_synced = [(ms(g["start"]), ms(g["end"])) for g in gaps if g["kind"] == "not_synced" and not g["open"]]
    assert not_synced == holes(np.array(cohort.uploads[participant]), 6 * 3_600_000)
    for g in gaps:
        if g["end"]:
            assert g["duration_s"] == (ms(g["end"]) - ms(g["start"])) / 1000


async def test_cohort_gaps_list_open_gaps_by_default(client: AsyncTestClient[Any], cohort: Cohort) -> None:
    pool = await asyncpg.connect(cohort.url)
    try:
        open_rows = await pool.fetch("SELECT participant_id, kind FROM gaps WHERE end_time IS NULL ORDER BY start_time")
        total = await pool.fetchval("SELECT count(*) FROM gaps")
    finally:
        await pool.close()
    open_gaps = (await client.get("/v1/gaps")).json()["items"]
    assert [(g["participant_id"], g["kind"]) for g in open_gaps] == [
        (r["participant_id"], r["kind"]) for r in open_rows
    ]
    assert all(g["open"] and g["end"] is None for g in open_gaps)
    everything = (await client.get("/v1/gaps", params={"status": "all", "limit": 10_000})).json()["items"]
    assert len(everything) == total
    worn = (await client.get("/v1/gaps", params={"status": "all", "kind": "not_worn", "start": str(DATES[2])})).json()
    assert all(g["kind"] == "not_worn" and (g["end"] is None or ms(g["end"]) > T0 + DAY) for g in worn["items"])


async def test_reminders_reach_the_flagged_group_and_are_audited(
    client: AsyncTestClient[Any], cohort: Cohort, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    body = {"flag": "low_wear", "start": str(DATES[1]), "end": str(DATES[4]), "as_of": iso(AS_OF), "min_wear_pct": 90}
    wear = {p: expected_adherence(cohort, p, DATES[1], DATES[4], AS_OF)["wear_exact"] for p in cohort.participants}
    flagged = sorted(p for p, w in wear.items() if w is not None and w < 90)
    expected = [p for p in flagged if cohort.participants[p].contact_email]
    assert expected
    assert "P0999" in flagged

    admin = {"Authorization": f"Bearer {cohort.keys['admin']}"}
    dry = (await client.post("/v1/notifications", json=body, headers=admin)).json()  # a dry run by default
    assert dry["dry_run"] is True
    assert [d["participant_id"] for d in dry["deliveries"]] == flagged
    assert {d["participant_id"]: d["status"] for d in dry["deliveries"]} == {
        p: "dry_run" if p in expected else "no_contact" for p in flagged
    }
    assert inbox.messages == []

    sent = await client.post("/v1/notifications", json={**body, "dry_run": False}, headers=admin)
    assert sent.status_code == 200, sent.text
    result = sent.json()
    assert result["sent"] == len(expected)
    assert result["failed"] == 0
    recipients = sorted(m["To"] for m in inbox.messages)
    assert recipients == sorted(cohort.participants[p].contact_email or "" for p in expected)
    assert all(m["X-Wearstream-Request"] == result["request_id"] for m in inbox.messages)
    assert "wear" in inbox.messages[0]["Subject"]

    audit = (await client.get("/v1/notifications", params={"request_id": result["request_id"]})).json()
    assert sorted((a["participant_id"], a["recipient"], a["status"]) for a in audit) == [
        (p, cohort.participants[p].contact_email, "sent" if p in expected else "no_contact") for p in flagged
    ]
    assert all("flag=low_wear" in a["reason"] and "min_wear_pct=90" in a["reason"] for a in audit)
    assert {a["actor_role"] for a in audit} == {"admin"}

    # Participants without an address are audited, not mailed.
    no_contact = await client.post(
        "/v1/notifications", json={"flag": "not_authorised", "as_of": iso(AS_OF)}, headers=admin
    )
    no_contact = no_contact.json()
    assert ("P0999", None, "no_contact") in [
        (d["participant_id"], d["recipient"], d["status"]) for d in no_contact["deliveries"]
    ]
