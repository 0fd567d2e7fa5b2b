"""Dependencies every controller may ask for by name: `pool` (asyncpg), `settings`, `thresholds`."""

from __future__ import annotations

import datetime as dt
from typing import Final

import asyncpg
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery

from api.adherence.schemas import Thresholds
from api.errors import invalid
from api.params import parse_instant
from core.settings import Settings


def provide_pool(state: State) -> asyncpg.Pool:
    pool: asyncpg.Pool = state.pool
    return pool


def provide_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


def thresholds(
    settings: NamedDependency[Settings],
    min_wear_pct: FromQuery[float | None] = None,
    max_upload_age_h: FromQuery[float | None] = None,
    min_sleep_pct: FromQuery[float | None] = None,
) -> Thresholds:
    """The adherence thresholds: the settings' defaults, overridden per request."""
    defaults = settings.api.adherence
    checks = (("min_wear_pct", min_wear_pct, 100.0), ("max_upload_age_h", max_upload_age_h, 24.0 * 3650))
    for field, value, high in (*checks, ("min_sleep_pct", min_sleep_pct, 100.0)):
        if value is not None and not 0 <= value <= high:
            raise invalid(field, f"must be between 0 and {high:g}")
    return Thresholds(
        min_wear_pct=defaults.min_wear_pct if min_wear_pct is None else min_wear_pct,
        max_upload_age_h=defaults.max_upload_age_h if max_upload_age_h is None else max_upload_age_h,
        min_sleep_pct=defaults.min_sleep_pct if min_sleep_pct is None else min_sleep_pct,
    )


def as_of_or_now(raw: str | None, *, cap: dt.datetime | None = None) -> dt.datetime:
    """`as_of` as given, else now (no later than `cap`)."""
    if raw is not None:
        return parse_instant("as_of", raw)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return min(now, cap) if cap is not None else now


DEPENDENCIES: Final = {
    "pool": Provide(provide_pool, sync_to_thread=False),
    "settings": Provide(provide_settings, sync_to_thread=False),
    "thresholds": Provide(thresholds, sync_to_thread=False),
}
