"""The JSON shapes of the Google Health API's `dataPoints.list` answers that the connector reads (msgspec).

Field names are the REST reference's (camelCase); fields the connector does not use are ignored, not refused.
int64 fields arrive as JSON strings (proto3 JSON mapping) and are accepted as strings or numbers.
"""

from __future__ import annotations

import msgspec


class SampleTime(msgspec.Struct, frozen=True, rename="camel"):
    physical_time: str
    utc_offset: str | None = None


class Interval(msgspec.Struct, frozen=True, rename="camel"):
    start_time: str
    end_time: str


class HeartRate(msgspec.Struct, frozen=True, rename="camel"):
    sample_time: SampleTime
    beats_per_minute: int | str


class Steps(msgspec.Struct, frozen=True, rename="camel"):
    interval: Interval
    count: int | str


class ActiveZoneMinutes(msgspec.Struct, frozen=True, rename="camel"):
    interval: Interval
    active_zone_minutes: int | str
    heart_rate_zone: str = "HEART_RATE_ZONE_UNSPECIFIED"


class OxygenSaturation(msgspec.Struct, frozen=True, rename="camel"):
    sample_time: SampleTime
    percentage: float


class HeartRateVariability(msgspec.Struct, frozen=True, rename="camel"):
    sample_time: SampleTime
    root_mean_square_of_successive_differences_milliseconds: float | None = None
    standard_deviation_milliseconds: float | None = None


class RespiratoryStats(msgspec.Struct, frozen=True, rename="camel"):
    breaths_per_minute: float
    standard_deviation: float | None = None
    signal_to_noise: float | None = None


class RespiratoryRateSleepSummary(msgspec.Struct, frozen=True, rename="camel"):
    sample_time: SampleTime
    full_sleep_stats: RespiratoryStats | None = None
    deep_sleep_stats: RespiratoryStats | None = None
    light_sleep_stats: RespiratoryStats | None = None
    rem_sleep_stats: RespiratoryStats | None = None


class SleepStageSegment(msgspec.Struct, frozen=True, rename="camel"):
    start_time: str
    end_time: str
    type: str


class Sleep(msgspec.Struct, frozen=True, rename="camel"):
    interval: Interval
    stages: list[SleepStageSegment] = []


class DataPoint(msgspec.Struct, frozen=True, rename="camel"):
    name: str | None = None
    heart_rate: HeartRate | None = None
    steps: Steps | None = None
    active_zone_minutes: ActiveZoneMinutes | None = None
    oxygen_saturation: OxygenSaturation | None = None
    heart_rate_variability: HeartRateVariability | None = None
    respiratory_rate_sleep_summary: RespiratoryRateSleepSummary | None = None
    sleep: Sleep | None = None


class ListDataPointsResponse(msgspec.Struct, frozen=True, rename="camel"):
    data_points: list[DataPoint] = []
    next_page_token: str = ""


class PairedDevice(msgspec.Struct, frozen=True, rename="camel"):
    name: str = ""
    device_type: str = ""
    last_sync_time: str | None = None


class ListPairedDevicesResponse(msgspec.Struct, frozen=True, rename="camel"):
    paired_devices: list[PairedDevice] = []
    next_page_token: str = ""


list_decoder = msgspec.json.Decoder(ListDataPointsResponse)
devices_decoder = msgspec.json.Decoder(ListPairedDevicesResponse)
