"""The pages' chart axis (api/pages/static/js/chart.js, run with node): ticks sit at true local wall-clock
boundaries on both sides of a daylight-saving change."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import shutil
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

CHART = Path(__file__).parents[2] / "api" / "pages" / "static" / "js" / "chart.js"
NEW_YORK = ZoneInfo("America/New_York")
HOUR = 3_600_000


def ticks(start: dt.datetime, end: dt.datetime, width: int, zone: str) -> tuple[list[dt.datetime], int]:
    node = shutil.which("node")
    assert node, "node is needed to run the pages' JavaScript"
    script = (
        f"import {{ timeTicks }} from {json.dumps(CHART.as_uri())};"
        f" console.log(JSON.stringify(timeTicks({int(start.timestamp() * 1000)}, {int(end.timestamp() * 1000)},"
        f" {width}, {json.dumps(zone)})));"
    )
    done = subprocess.run(
        [node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60, check=True
    )
    answer = json.loads(done.stdout)
    return [dt.datetime.fromtimestamp(t / 1000, NEW_YORK) for t in answer["ticks"]], answer["step"]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        # Clocks go back on 1 November 2026 at 02:00 EDT, forward on 8 March 2026 at 02:00 EST.
        (dt.datetime(2026, 10, 31, 12, tzinfo=NEW_YORK), dt.datetime(2026, 11, 2, 12, tzinfo=NEW_YORK)),
        (dt.datetime(2026, 3, 7, 12, tzinfo=NEW_YORK), dt.datetime(2026, 3, 9, 12, tzinfo=NEW_YORK)),
    ],
)
def test_six_hour_ticks_stay_on_local_hours_across_the_change(start: dt.datetime, end: dt.datetime) -> None:
    found, step = ticks(start, end, 1200, "America/New_York")
    assert step == 6 * HOUR
    dates = [start.date() + dt.timedelta(days=i) for i in range((end.date() - start.date()).days + 1)]
    expected = [
        at
        for d in dates
        for h in (0, 6, 12, 18)
        if start <= (at := dt.datetime.combine(d, dt.time(h), NEW_YORK)) <= end
    ]
    assert [(t.date(), t.hour, t.minute) for t in found] == [(t.date(), t.hour, 0) for t in expected]
    assert found == expected


def test_hourly_ticks_show_the_repeated_hour_and_skip_the_missing_one() -> None:
    back, step = ticks(
        dt.datetime(2026, 11, 1, 0, tzinfo=NEW_YORK),
        dt.datetime(2026, 11, 1, 4, tzinfo=NEW_YORK),
        600,
        "America/New_York",
    )
    assert step == HOUR
    assert [t.hour for t in back] == [0, 1, 1, 2, 3, 4]
    assert [t.utcoffset() for t in back][1:3] == [dt.timedelta(hours=-4), dt.timedelta(hours=-5)]
    forward, _ = ticks(
        dt.datetime(2026, 3, 8, 0, tzinfo=NEW_YORK),
        dt.datetime(2026, 3, 8, 5, tzinfo=NEW_YORK),
        600,
        "America/New_York",
    )
    assert [t.hour for t in forward] == [0, 1, 3, 4, 5]
    assert all(b.timestamp() - a.timestamp() == 3600 for a, b in itertools.pairwise(forward))
