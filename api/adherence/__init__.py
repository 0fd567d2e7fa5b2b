"""Adherence, the coordinator's view: wear time, uploads and sleep data per participant and local date.

Definitions (per participant, dates in the participant's time zone):
- the window is the dates in [start, end) on or after the enrolment date;
- worn minutes of a date = 1-minute buckets with heart rate that day (`rollup_1d.minutes` of heart_rate);
  wear % = worn minutes / minutes in the local day (1,380–1,500 on daylight-saving days) × 100, and over the
  window Σ worn / Σ day minutes × 100;
- the night of date D is [D−1 12:00, D 12:00) local; it has sleep data if any sleep-stage epoch lies in it;
- last upload = the latest device upload at or before `as_of`; hours since last upload = (as_of − it) / 1 h.
Flags: `not_authorised` (authorisation is not `authorised`, or no data was ever stored), `no_recent_upload`
(no upload within `max_upload_age_h`), `low_wear` (window wear % below `min_wear_pct`), `low_sleep_data`
(nights with sleep data below `min_sleep_pct` of the window's nights). Computed in one SQL statement.
"""
