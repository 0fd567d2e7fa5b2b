"""The built-in web pages in Debian's headless Chromium (driven by Playwright) against the real stack: a real
uvicorn API on a loopback port, a study replayed through the processor core (validate → TimescaleDB sink →
live topic on the real Kafka), and a live replay running while the participant page is open.

Screenshots go to tests/artifacts/pages/; with WEARSTREAM_README_SCREENSHOTS=1 also to docs/screenshots/ (the
README's). A missing browser fails the run: `ensure_chromium` installs Debian's package when it can.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import shutil
import socket
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import numpy as np
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from playwright.async_api import BrowserContext, Page, async_playwright, expect

from api.app import create_app
from api.auth.store import create_key
from api.pages import pages_router
from core.settings import Settings
from deploy.local.browser import CHROMIUM_ARGS, ensure_chromium
from deploy.local.stack import LocalStack
from producers.simulator import CohortSimulator
from schemas import topics
from schemas.events import GapEvent, LiveUpdate, encode_event
from schemas.readings import ReadingBatch, encode_batch, make_batch
from stream_processors.db import create_pool
from stream_processors.deadletter import DeadLetter
from stream_processors.envelope import Envelope
from stream_processors.pipeline import Processor
from stream_processors.publisher import Publisher
from tests import factories
from tests.integration.cleanup import created_prefixes

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "pages"
README_SHOTS = ROOT / "docs" / "screenshots"
README_PAGES = {"login", "cohort", "participant", "live", "adherence", "adherence-confirm", "alerts", "nights"}
README_MAX_BYTES = 200_000
PARTICIPANTS = 8
FULL_DAYS = 7
LIVE_PARTICIPANT = "P0001"
MINUTE = 60_000
ILL = (LIVE_PARTICIPANT, "P0003")
"""Participants given an illness episode in the weeks before the replayed days (nights judged by the nightly
step's detectors, then revised by late nights)."""


@dataclass
class Study:
    url: str
    keys: dict[str, str]
    processor: Processor
    next_live_ms: int
    dead_letters: list[DeadLetter] = field(default_factory=list)
    seq: int = 0

    async def replay_heart_rate(self, seconds: int, *, end_ms: int | None = None) -> int:
        """Uploads the live participant's next `seconds` of heart rate (1 Hz) through the processor core;
        returns the last reading's time."""
        start = self.next_live_ms
        timestamps = start + np.arange(seconds, dtype=np.int64) * 1000
        phase = timestamps / 600_000.0
        values = np.round(74 + 9 * np.sin(phase) + 3 * np.sin(phase * 7.3)).astype(np.int64)
        batch = make_batch(
            participant_id=LIVE_PARTICIPANT,
            metric="heart_rate",
            device_id="live-device",
            sync_time=end_ms or int(timestamps[-1]) + 2000,
            timestamps=timestamps,
            values=values,
        )
        await self.process("heart_rate", [batch])
        self.next_live_ms = int(timestamps[-1]) + 1000
        return int(timestamps[-1])

    async def process(self, metric: str, batches: list[ReadingBatch]) -> None:
        envelopes = []
        for batch in batches:
            self.seq += 1
            envelopes.append(
                Envelope(topic=f"readings.{metric}", partition=0, offset=self.seq, payload=encode_batch(batch))
            )
        await self.processor.process_group(metric, envelopes)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def chromium() -> Path:
    return ensure_chromium(print)


@pytest.fixture(scope="module")
async def live_settings(settings: Settings, stack: LocalStack, database: str) -> AsyncIterator[Settings]:
    """Settings for this module: its database, a uuid topic prefix, keys re-verified on every request."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    created_prefixes.add(prefix)  # removed at the session's end even if this module's teardown cannot run
    names = [topics.live_topic(prefix), topics.gaps_topic(prefix)]
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1) for name in names])
    live = settings.api.live.model_copy(update={"enabled": True})
    yield settings.model_copy(
        update={
            "database": settings.database.model_copy(update={"url": database}),
            "kafka": settings.kafka.model_copy(update={"topic_prefix": prefix}),
            "api": settings.api.model_copy(update={"live": live, "key_cache_s": 0.0}),
            "smtp": settings.smtp.model_copy(update={"port": 9, "timeout_s": 1.0}),
        }
    )
    await admin.delete_topics(names)
    await admin.close()


@pytest.fixture(scope="module")
async def study(live_settings: Settings) -> AsyncIterator[Study]:
    """Three simulated days and today up to 45 minutes ago, replayed through the processor core; then the
    live participant's last 40 minutes as 5-minute uploads, after an hour without heart rate (a not-worn
    gap). Keys for every role."""
    prefix = live_settings.kafka.topic_prefix
    producer = AIOKafkaProducer(bootstrap_servers=live_settings.kafka.bootstrap_servers)
    await producer.start()
    pool = await create_pool(live_settings.database.url, size=2)

    async def live(update: LiveUpdate) -> None:
        await producer.send_and_wait(
            topics.live_topic(prefix), encode_event(update), key=update.participant_id.encode()
        )

    async def gap(event: GapEvent) -> None:
        await producer.send_and_wait(topics.gaps_topic(prefix), encode_event(event), key=event.participant_id.encode())

    dead_letters: list[DeadLetter] = []

    async def dead_letter(letter: DeadLetter) -> None:
        dead_letters.append(letter)

    sink = factories.sink(pool)
    processor = Processor(sink, Publisher(dead_letter=dead_letter, live=live, gap=gap))
    now = int(time.time() * 1000)
    today = dt.datetime.now(dt.UTC).date()
    simulator = CohortSimulator(seed=11, start=today - dt.timedelta(days=FULL_DAYS))
    await sink.upsert_participants([simulator.participant_record(k) for k in range(1, PARTICIPANTS + 1)])
    cutoff = now - 45 * MINUTE
    batches = [
        b
        for k in range(1, PARTICIPANTS + 1)
        for day in range(FULL_DAYS + 1)
        for b in simulator.simulate_day(k, day).batches
        if b.sync_time <= (cutoff - 45 * MINUTE if b.participant_id == LIVE_PARTICIPANT else cutoff)
    ]
    by_metric: dict[str, list[ReadingBatch]] = {}
    for batch in sorted(batches, key=lambda b: (b.sync_time, b.participant_id)):
        by_metric.setdefault(batch.metric, []).append(batch)
    result = Study(live_settings.database.url, {}, processor, next_live_ms=0, dead_letters=dead_letters)
    for metric, group in by_metric.items():
        for i in range(0, len(group), 500):
            await result.process(metric, group[i : i + 500])
    last_hr = await pool.fetchval(
        "SELECT ts_to_ms(last_reading) FROM participant_metric_state s JOIN metrics m USING (metric_id)"
        " WHERE participant_id = $1 AND m.name = 'heart_rate'",
        LIVE_PARTICIPANT,
    )
    result.next_live_ms = max(int(last_hr or 0) + 1000, now - 40 * MINUTE) // 1000 * 1000
    while result.next_live_ms < now - 6 * MINUTE:
        await result.replay_heart_rate(300)
    async with pool.acquire() as connection:
        for participant_id in ILL:
            await factories.alert_history(connection, participant_id, today - dt.timedelta(days=FULL_DAYS + 2))
    result.keys = {
        "admin": (await create_key(pool, "admin", None)).token,
        "researcher": (await create_key(pool, "researcher", None)).token,
        "participant": (await create_key(pool, "participant", LIVE_PARTICIPANT)).token,
    }
    yield result
    await pool.close()
    await producer.stop()


def app_with_pages(settings: Settings) -> Any:
    """create_app's application with the pages mounted (unless create_app already mounts them)."""
    app = create_app(settings)
    if not any(route.path == "/" for route in app.routes):
        app.register(pages_router)
    return app


@pytest.fixture(scope="module")
def server_url(live_settings: Settings, study: Study) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        app_with_pages(live_settings), host="127.0.0.1", port=port, log_level="warning", ws="websockets"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        assert time.monotonic() < deadline, "the API (or its live fan-out) did not become ready"
        assert thread.is_alive(), "uvicorn stopped"
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if msgspec.json.decode(response.read())["live"] == "ready":
                    break
        except OSError:
            pass
        time.sleep(0.1)
    yield url
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
async def browser(chromium: Path) -> AsyncIterator[BrowserContext]:
    profile = tempfile.mkdtemp(prefix="wearstream-chromium-")
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(chromium),
            headless=True,
            args=list(CHROMIUM_ARGS),
            viewport={"width": 1280, "height": 860},
            locale="en-GB",
            timezone_id="UTC",
        )
        try:
            yield context
        finally:
            await context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
async def page(browser: BrowserContext) -> AsyncIterator[Page]:
    """A tab; any uncaught script error in it fails the test."""
    tab = await browser.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    await tab.close()
    assert not errors, f"script errors in the page: {errors}"


async def sign_in(browser: BrowserContext, server_url: str, key: str) -> None:
    await browser.clear_cookies()
    await browser.add_cookies([{"name": "wearstream_token", "value": key, "url": server_url}])


async def shoot(tab: Page, name: str, *, full_page: bool = False, above: str | None = None) -> None:
    """Saves a screenshot as a test artifact (and, for the README's pages when asked, in docs/screenshots);
    `above`: only the part of the page above that element."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    clip = None
    if above is not None:
        box = await tab.locator(above).bounding_box()
        assert box is not None, f"{above} is not shown"
        scrolled = await tab.evaluate("window.scrollY")
        clip = {
            "x": 0.0,
            "y": 0.0,
            "width": float(tab.viewport_size["width"]) if tab.viewport_size else 1280.0,
            "height": box["y"] + float(scrolled) - 8,
        }
    await tab.screenshot(path=str(path), full_page=full_page, clip=clip)  # type: ignore[arg-type]
    if name in README_PAGES and os.environ.get("WEARSTREAM_README_SCREENSHOTS") == "1":
        assert path.stat().st_size < README_MAX_BYTES, f"{name}.png is too large for the README"
        README_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, README_SHOTS / f"{name}.png")


async def series_points(tab: Page, metric: str, series: str) -> int:
    group = tab.locator(f"#chart-{metric} svg.chart g[data-series='{series}']")
    return int(await group.get_attribute("data-points") or 0)


async def test_sign_in_refuses_bad_keys_and_keeps_a_good_one(
    page: Page, browser: BrowserContext, server_url: str, study: Study
) -> None:
    await browser.clear_cookies()
    response = await page.goto(f"{server_url}/")
    assert response is not None
    assert "script-src 'self'" in (await response.header_value("content-security-policy") or "")
    key = page.get_by_label("API key")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(key).to_be_focused()
    await shoot(page, "login")
    await key.fill("not a key")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#login-message")).to_contain_text("does not look like a wearstream key")
    await key.fill(f"wsk_{'0' * 12}_{'A' * 43}")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#login-message")).to_contain_text("does not accept this key")
    await shoot(page, "login-refused")
    await key.fill(study.keys["researcher"])
    await key.press("Enter")
    await expect(page.get_by_role("heading", name="Cohort")).to_be_visible()
    cookies = {c["name"]: c["value"] for c in await browser.cookies(server_url)}
    assert cookies["wearstream_token"] == study.keys["researcher"]


async def test_the_cohort_is_sortable_and_each_row_links_to_its_participant(
    page: Page, browser: BrowserContext, server_url: str, study: Study
) -> None:
    await sign_in(browser, server_url, study.keys["researcher"])
    await page.goto(f"{server_url}/")
    rows = page.locator("table.cohort tbody tr")
    await expect(rows).to_have_count(PARTICIPANTS)
    await expect(page.locator(".summary")).to_contain_text(f"{PARTICIPANTS} participants")
    ids = await page.locator("table.cohort tbody th").all_inner_texts()
    assert ids == sorted(ids)
    wear_header = page.locator("th", has=page.get_by_role("button", name=re.compile("^Wear")))
    await wear_header.get_by_role("button").click()
    await expect(wear_header).to_have_attribute("aria-sort", "ascending")
    await wear_header.get_by_role("button").press("Enter")  # the keyboard sorts too, and keeps the focus
    await expect(wear_header).to_have_attribute("aria-sort", "descending")
    await expect(wear_header.get_by_role("button")).to_be_focused()
    await expect(rows).to_have_count(PARTICIPANTS)
    cells = await page.locator("table.cohort tbody tr td:nth-child(4)").all_inner_texts()
    wear = [float(t.split()[0].rstrip("%")) for t in cells if t.strip() != "—"]
    assert wear
    assert wear == sorted(wear, reverse=True)
    assert "sort=-wear_pct" in page.url
    await expect(page.locator(".badge-flag").first).to_be_visible()
    # A gap event published on the gaps topic (as the processor does) shows up below the table.
    await expect(page.locator(".events-panel")).to_have_attribute("data-state", "open")
    opened = int(time.time() * 1000) - 7 * 3_600_000
    event = GapEvent(
        participant_id="P0003",
        kind="not_synced",
        state="opened",
        start_ms=opened,
        end_ms=None,
        detected_ms=opened,
        event_ms=int(time.time() * 1000),
    )
    await study.processor.publisher.gap(event)
    await expect(page.locator(".events li[data-participant='P0003']")).to_contain_text("not synced gap opened")
    await shoot(page, "cohort")
    await page.locator(f"tr[data-participant='{LIVE_PARTICIPANT}'] td").first.click()
    await expect(page.get_by_role("heading", name=f"Participant {LIVE_PARTICIPANT}")).to_be_visible()
    # Keyboard: back on the cohort, the participant links are reachable with Tab and open with Enter.
    await page.go_back()
    link = page.get_by_role("link", name="P0002", exact=True)
    await link.focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Participant P0002")).to_be_visible()


async def test_the_participant_charts_are_drawn_and_zoom_re_queries_the_api(
    page: Page, browser: BrowserContext, server_url: str, study: Study
) -> None:
    await sign_in(browser, server_url, study.keys["researcher"])
    await page.goto(f"{server_url}/#/participants/{LIVE_PARTICIPANT}")
    heart = page.locator("#chart-heart_rate")
    await expect(heart).to_have_attribute("data-state", "ready")
    svg = heart.get_by_role("img", name="Heart rate")
    await expect(svg).to_have_attribute("data-series", "2")  # the min/max band and the mean
    for series in ("band", "mean"):
        assert await series_points(page, "heart_rate", series) > 100
        d = await heart.locator(f"g[data-series='{series}'] path").get_attribute("d")
        assert d is not None
        assert d.count("L") > 100
    for metric in ("steps", "sleep_stage"):
        await expect(page.locator(f"#chart-{metric}")).to_have_attribute("data-state", "ready")
        await expect(page.locator(f"#chart-{metric} svg.chart")).to_have_attribute("data-series", "1")
    assert await page.locator("#chart-steps svg rect[y]").count() > 20
    assert int(await heart.locator("g.gaps").get_attribute("data-gaps") or 0) >= 1  # the not-worn hole before live
    await expect(page.locator("#chart-sleep_stage svg text", has_text="REM")).to_have_count(1)
    # The study's data came by replay, not through the sources runner: no source run yet.
    await expect(page.locator(".facts")).to_contain_text("Last source run")
    await expect(page.locator(".facts dd").last).to_have_text("never")
    await shoot(page, "participant", full_page=True, above="#chart-nights")  # the nights have their own

    start = int(await svg.get_attribute("data-start") or 0)
    end = int(await svg.get_attribute("data-end") or 0)
    async with page.expect_response(re.compile(r"/series/heart_rate\?")) as response_info:
        await page.get_by_role("button", name="Zoom in").click()
    response = await response_info.value
    assert response.ok
    await expect(svg).not_to_have_attribute("data-start", str(start))
    zoomed = (int(await svg.get_attribute("data-end") or 0)) - int(await svg.get_attribute("data-start") or 0)
    assert zoomed == (end - start) // 2
    # Keyboard pan on the focused chart re-queries too.
    before = await svg.get_attribute("data-start")
    async with page.expect_response(re.compile(r"/series/heart_rate\?")):
        await svg.focus()
        await page.keyboard.press("ArrowLeft")
    await expect(svg).not_to_have_attribute("data-start", before or "")
    assert "start=" in page.url


async def test_live_mode_advances_the_heart_rate_chart_while_a_replay_runs(
    page: Page, browser: BrowserContext, server_url: str, study: Study
) -> None:
    await sign_in(browser, server_url, study.keys["researcher"])
    await page.goto(f"{server_url}/#/participants/{LIVE_PARTICIPANT}")
    await expect(page.locator("#chart-heart_rate")).to_have_attribute("data-state", "ready")
    await page.get_by_role("button", name="Live").click()
    await expect(page.get_by_role("button", name="Live")).to_have_attribute("aria-pressed", "true")
    await expect(page.locator(".live-status")).to_have_attribute("data-state", "open")
    svg = page.locator("#chart-heart_rate svg.chart")
    await expect(svg).to_have_attribute("data-updates", "0")  # the backfill is drawn
    backfilled = int(await svg.get_attribute("data-last-reading-ms") or 0)
    assert backfilled == (study.next_live_ms - 1000) // MINUTE * MINUTE  # the newest backfilled minute
    assert await series_points(page, "heart_rate", "mean") >= 25

    for _ in range(3):  # the replay goes on: three uploads, a second apart
        last = await study.replay_heart_rate(20)
        await asyncio.sleep(0.5)
    await expect(svg).to_have_attribute("data-last-reading-ms", str(last), timeout=10_000)
    assert int(await svg.get_attribute("data-updates") or 0) >= 1
    assert await series_points(page, "heart_rate", "readings") >= 20
    await expect(svg).to_have_attribute("data-series", "3")
    await expect(page.locator(".live-status")).to_contain_text("last reading")
    await shoot(page, "live")
    await page.get_by_role("button", name="Live").click()
    await expect(page.locator("#chart-heart_rate")).to_have_attribute("data-state", "ready")


async def fetch_rows(study: Study, query: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(study.url)
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


ALERTS = "SELECT participant_id, detector, night, level, state FROM alerts"


async def test_the_alerts_page_lists_the_cohorts_open_alerts_and_their_state_changes(
    page: Page, browser: BrowserContext, server_url: str, study: Study
) -> None:
    stored = await fetch_rows(study, ALERTS)
    open_alerts = [r for r in stored if r["state"] != "withdrawn"]
    assert {r["state"] for r in stored} >= {"raised", "upgraded", "withdrawn"}  # the late nights revised them
    assert {r["participant_id"] for r in open_alerts if r["level"] == "red"} >= set(ILL)
    await sign_in(browser, server_url, study.keys["researcher"])
    await page.goto(f"{server_url}/")
    await page.get_by_role("link", name="Alerts").click()
    await expect(page.get_by_role("heading", name="Alerts")).to_be_visible()
    await expect(page.get_by_role("link", name="Alerts")).to_have_attribute("aria-current", "page")
    rows = page.locator("table.alerts tbody tr")
    await expect(rows).to_have_count(len(open_alerts))
    red = sum(r["level"] == "red" for r in open_alerts)
    await expect(page.locator(".summary")).to_contain_text(f"{len(open_alerts)} open alerts ({red} red)")
    shown = {
        (
            await row.get_attribute("data-participant"),
            (await row.locator("td").nth(1).inner_text()).lower(),
            dt.date.fromisoformat(await row.locator("time").inner_text()),
            await row.get_attribute("data-level"),
        )
        for row in await rows.all()
    }
    assert shown == {(r["participant_id"], r["detector"], r["night"], r["level"]) for r in open_alerts}
    nights = [dt.date.fromisoformat(t) for t in await page.locator("table.alerts tbody time").all_inner_texts()]
    assert nights == sorted(nights, reverse=True)
    upgraded = page.locator(f"tr[data-participant='{ILL[0]}'][data-state='upgraded']")
    await expect(upgraded).to_have_count(1)
    await expect(upgraded.locator(".state-cell")).to_contain_text(re.compile(r"^upgraded .+ \(raised .+\)$"))
    await shoot(page, "alerts")

    # Withdrawn alerts on request, marked so; the level filter is the API's.
    await page.get_by_label("Include withdrawn alerts").check()
    await expect(rows).to_have_count(len(stored))
    await expect(page.locator("tr[data-state='withdrawn']")).to_have_count(
        sum(r["state"] == "withdrawn" for r in stored)
    )
    async with page.expect_response(re.compile(r"/v1/alerts\?.*level=red")):
        await page.get_by_label("Level").select_option("red")
    await expect(rows).to_have_count(sum(r["level"] == "red" for r in stored))
    assert set(await page.locator("table.alerts tbody .badge").all_inner_texts()) == {"red"}
    assert "level=red" in page.url
    await rows.first.locator("td").first.click()
    await expect(page.get_by_role("heading", name=re.compile("^Participant P"))).to_be_visible()


async def test_the_participant_page_charts_nightly_resting_hr_with_baseline_thresholds_and_alerts(
    page: Page, browser: BrowserContext, server_url: str, study: Study
) -> None:
    participant = ILL[0]
    verdicts = await fetch_rows(
        study,
        "SELECT night, value, baseline, level FROM night_outcomes"
        " WHERE participant_id = $1 AND detector = 'nightsignal'",
        participant,
    )
    alerted = await fetch_rows(
        study,
        "SELECT DISTINCT night FROM night_outcomes WHERE participant_id = $1 AND level IS NOT NULL",
        participant,
    )
    alerts = await fetch_rows(study, ALERTS + " WHERE participant_id = $1", participant)
    await sign_in(browser, server_url, study.keys["researcher"])
    await page.goto(f"{server_url}/#/participants/{participant}")
    panel = page.locator("#chart-nights")
    await expect(panel).to_have_attribute("data-state", "ready")
    svg = panel.get_by_role("img", name="Nightly resting heart rate")
    for series, count in (
        ("resting", sum(r["value"] is not None for r in verdicts)),
        ("baseline", sum(r["baseline"] is not None for r in verdicts)),
        ("yellow", sum(r["baseline"] is not None for r in verdicts)),
        ("red", sum(r["baseline"] is not None for r in verdicts)),
        ("alerts", len(alerted)),
    ):
        assert await series_points(page, "nights", series) == count, series
    assert count > 0
    await expect(svg.locator("circle.dot.level-red")).not_to_have_count(0)
    await expect(svg.locator("circle.dot title").first).to_contain_text("bpm")
    # The thresholds lie 3 and 4 bpm above the baseline, in the chart's own pixels.
    ys = {}
    for series in ("baseline", "yellow", "red"):
        d = await svg.locator(f"g[data-series='{series}'] path").get_attribute("d") or ""
        ys[series] = float(re.match(r"M[-\d.]+,([-\d.]+)", d).group(1))  # type: ignore[union-attr]
    assert ys["red"] < ys["yellow"] < ys["baseline"]  # higher bpm is higher up
    assert abs((ys["baseline"] - ys["red"]) - 4 / 3 * (ys["baseline"] - ys["yellow"])) < 0.5
    table = panel.locator("table.participant-alerts tbody tr")
    await expect(table).to_have_count(len(alerts))
    await expect(panel.locator("tr[data-state='withdrawn'] .state-cell").first).to_contain_text("withdrawn")
    await panel.scroll_into_view_if_needed()
    await shoot_element(panel, "nights")

    # A participant-scoped key sees its own nights, and is told the cohort's alerts are not for it.
    await sign_in(browser, server_url, study.keys["participant"])
    await page.goto(f"{server_url}/#/participants/{LIVE_PARTICIPANT}")
    await expect(page.locator("#chart-nights")).to_have_attribute("data-state", "ready")
    await page.goto(f"{server_url}/#/alerts")
    await expect(page.locator(".state-error")).to_contain_text("their alerts are on their page")


async def shoot_element(element: Any, name: str) -> None:
    """`shoot` for one element of the page."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await element.screenshot(path=str(path))
    if name in README_PAGES and os.environ.get("WEARSTREAM_README_SCREENSHOTS") == "1":
        assert path.stat().st_size < README_MAX_BYTES, f"{name}.png is too large for the README"
        shutil.copyfile(path, README_SHOTS / f"{name}.png")


async def test_a_dry_run_reminder_from_the_adherence_page_is_audited(
    page: Page, browser: BrowserContext, server_url: str, study: Study
) -> None:
    # Reminders are for admin keys only (by default).
    await sign_in(browser, server_url, study.keys["admin"])
    await page.goto(f"{server_url}/#/adherence?days=7")
    await expect(page.get_by_role("heading", name="Adherence")).to_be_visible()
    await expect(page.get_by_label(re.compile("^Window"))).to_have_value("7")
    button = page.locator("button[data-flag]").first
    await expect(button).to_be_visible()
    flag = await button.get_attribute("data-flag")
    section = page.locator(f"#flag-{flag}")
    flagged = await section.locator("tbody th").all_inner_texts()
    await shoot(page, "adherence", full_page=True)
    await button.click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_label(re.compile("Dry run"))).to_be_checked()
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_have_count(0)
    await button.click()
    await shoot(page, "adherence-confirm")
    async with page.expect_response(re.compile(r"/v1/notifications")) as response_info:
        await page.get_by_role("dialog").get_by_role("button", name="Run the dry run").click()
    result = await (await response_info.value).json()
    await expect(section.locator(".notify-result")).to_contain_text("Dry run:")
    assert result["dry_run"] is True
    assert result["sent"] == 0
    assert sorted(d["participant_id"] for d in result["deliveries"]) == sorted(flagged)
    connection = await asyncpg.connect(study.url)
    try:
        statuses = await connection.fetch(
            "SELECT status FROM notification_audit WHERE request_id = $1", uuid.UUID(result["request_id"])
        )
    finally:
        await connection.close()
    assert len(statuses) == len(flagged)
    assert {row["status"] for row in statuses} <= {"dry_run", "no_contact"}


async def test_a_researcher_is_told_that_reminders_need_an_admin_key(
    page: Page, browser: BrowserContext, server_url: str, study: Study
) -> None:
    await sign_in(browser, server_url, study.keys["researcher"])
    await page.goto(f"{server_url}/#/adherence?days=7")
    await page.locator("button[data-flag]").first.click()
    dialog = page.get_by_role("dialog")
    async with page.expect_response(re.compile(r"/v1/notifications")) as response_info:
        await dialog.get_by_role("button", name="Run the dry run").click()
    assert (await response_info.value).status == 403
    await expect(dialog.get_by_role("alert")).to_contain_text("admin keys")
    await expect(dialog).to_be_visible()


async def test_errors_are_shown_never_a_blank_page(
    page: Page, browser: BrowserContext, server_url: str, study: Study
) -> None:
    await sign_in(browser, server_url, study.keys["researcher"])
    # No data in the range.
    empty_range = "start=2020-01-01T00:00:00Z&end=2020-01-02T00:00:00Z"
    await page.goto(f"{server_url}/#/participants/{LIVE_PARTICIPANT}?{empty_range}")
    await expect(page.locator("#chart-heart_rate .state-empty")).to_contain_text("No heart-rate data in this range")
    await expect(page.locator("#chart-heart_rate svg.chart")).to_have_attribute("data-series", "0")
    # Unknown participant.
    await page.goto(f"{server_url}/#/participants/NOBODY")
    await expect(page.locator(".state-error")).to_contain_text("no participant NOBODY")
    # The API down: every request fails at the network level.
    await page.route("**/v1/**", lambda route: route.abort())
    await page.goto(f"{server_url}/")
    await expect(page.locator(".state-error")).to_contain_text("cannot be reached")
    await expect(page.locator(".state-error").get_by_role("button", name="Retry")).to_be_visible()
    await shoot(page, "error-api-down")
    await page.unroute("**/v1/**")
    await page.locator(".state-error").get_by_role("button", name="Retry").click()
    await expect(page.locator("table.cohort tbody tr")).to_have_count(PARTICIPANTS)
    # An expired (revoked) key: back to the sign-in form, saying why.
    key = await create_key_for(study, "researcher")
    await sign_in(browser, server_url, key)
    await page.goto(f"{server_url}/#/adherence")
    await expect(page.get_by_role("heading", name="Adherence")).to_be_visible()
    await revoke(study, key)
    await page.goto(f"{server_url}/#/participants/{LIVE_PARTICIPANT}")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(page.locator("#login-message")).to_contain_text("expired or been revoked")
    assert "wearstream_token" not in {c["name"] for c in await browser.cookies(server_url)}
    await shoot(page, "error-key-expired")


async def create_key_for(study: Study, role: str) -> str:
    connection = await asyncpg.connect(study.url)
    try:
        return (await create_key(connection, role, None)).token  # type: ignore[arg-type]
    finally:
        await connection.close()


async def revoke(study: Study, key: str) -> None:
    connection = await asyncpg.connect(study.url)
    try:
        await connection.execute("UPDATE api_keys SET revoked_at = now() WHERE key_id = $1", key.split("_")[1])
    finally:
        await connection.close()
