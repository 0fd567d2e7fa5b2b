"""The participant page shades the imputed stretches when asked (the "Imputed" toggle, or `imputed=1` in the
route), in Debian's headless Chromium against a real API over the imputed cohort of `test_api_imputed`.

Screenshots go to tests/artifacts/pages/; with WEARSTREAM_README_SCREENSHOTS=1 also to docs/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, async_playwright, expect

from core.settings import Settings
from deploy.local.browser import CHROMIUM_ARGS, ensure_chromium
from tests.integration.api_server import serve_api
from tests.integration.test_api_imputed import RUN, Imputed, cohort, fetch
from tests.integration.test_api_series import api_settings

__all__ = ["cohort"]  # the imputed cohort fixture, for this module's own database

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "pages"
README_SHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture(scope="module")
def server_url(cohort: Imputed, settings: Settings) -> Iterator[str]:
    with serve_api(api_settings(settings, cohort.url, rate_limit_per_minute=0)) as base:
        yield base


@pytest.fixture(scope="module")
async def tab(server_url: str, cohort: Imputed) -> AsyncIterator[Page]:
    chromium = ensure_chromium(print)
    profile = tempfile.mkdtemp(prefix="wearstream-chromium-")
    async with async_playwright() as playwright:
        context: BrowserContext = await playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(chromium),
            headless=True,
            args=list(CHROMIUM_ARGS),
            viewport={"width": 1280, "height": 860},
            locale="en-GB",
            timezone_id="UTC",
        )
        await context.add_cookies([{"name": "wearstream_token", "value": cohort.keys["researcher"], "url": server_url}])
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
        await context.close()
        assert not errors, f"script errors in the page: {errors}"
    shutil.rmtree(profile, ignore_errors=True)


async def test_the_participant_chart_shades_imputed_stretches_when_asked(
    tab: Page, server_url: str, cohort: Imputed
) -> None:
    [gap] = await fetch(
        cohort.url,
        "SELECT min(minute) AS first, max(minute) AS last FROM imputed_points WHERE run_id = $1"
        " AND participant_id = $2 AND metric_id = 1 AND gap_start = (SELECT min(gap_start) FROM imputed_points"
        " WHERE run_id = $1 AND participant_id = $2 AND metric_id = 1)",
        RUN,
        cohort.participant,
    )
    start = gap["first"] - dt.timedelta(hours=3)
    end = gap["last"] + dt.timedelta(hours=3)
    window = f"start={start:%Y-%m-%dT%H:%M:%SZ}&end={end:%Y-%m-%dT%H:%M:%SZ}"
    route = f"{server_url}/#/participants/{cohort.participant}?{window}"
    await tab.goto(route)
    heart = tab.locator("#chart-heart_rate")
    await expect(heart).to_have_attribute("data-state", "ready")
    assert await heart.locator("rect.gap-imputed").count() == 0, "no shading unless asked"
    toggle = tab.get_by_role("button", name="Imputed")
    await expect(toggle).to_have_attribute("aria-pressed", "false")

    async with tab.expect_response(lambda r: "imputed=only" in r.url and r.ok):
        await toggle.click()
    await expect(toggle).to_have_attribute("aria-pressed", "true")
    shaded = heart.locator("rect.gap-imputed")
    await expect(shaded).not_to_have_count(0)
    title = await shaded.first.locator("title").text_content()
    assert title is not None
    assert f"run {RUN}" in title
    await expect(tab.locator("#chart-steps rect.gap-imputed")).not_to_have_count(0)
    assert "imputed=1" in tab.url

    await tab.reload()  # the route keeps the choice
    await expect(tab.locator("#chart-heart_rate")).to_have_attribute("data-state", "ready")
    await expect(tab.locator("#chart-heart_rate rect.gap-imputed")).not_to_have_count(0)
    await expect(tab.get_by_role("button", name="Imputed")).to_have_attribute("aria-pressed", "true")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "participant-imputed.png"
    await tab.locator(".charts").screenshot(path=str(path))
    if os.environ.get("WEARSTREAM_README_SCREENSHOTS") == "1":
        README_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, README_SHOTS / "participant-imputed.png")
