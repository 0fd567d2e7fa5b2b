"""Alert state changes: raised, upgraded, downgraded, withdrawn (keeping the level), raised again."""

from __future__ import annotations

import datetime as dt

from stream_processors.nightly import complete_through, transition


def test_every_transition() -> None:
    assert transition(None, None) is None
    assert transition("red", "red") is None
    assert transition(None, "yellow") == ("raised", "yellow")
    assert transition("yellow", "red") == ("upgraded", "red")
    assert transition("red", "yellow") == ("downgraded", "yellow")
    assert transition("red", None) == ("withdrawn", "red")
    assert transition(None, "red") == ("raised", "red")  # a withdrawn alert raised again


def test_night_completes_at_seven_local_across_zones() -> None:
    seven_tokyo = int(dt.datetime(2026, 2, 10, 7, 0, tzinfo=dt.timezone(dt.timedelta(hours=9))).timestamp() * 1000)
    assert complete_through(seven_tokyo, "Asia/Tokyo") == dt.date(2026, 2, 10)
    assert complete_through(seven_tokyo, "America/Los_Angeles") == dt.date(2026, 2, 9)  # 14:00 on the 9th
