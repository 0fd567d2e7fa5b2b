"""A contract server for the Google Health API and Google's OAuth 2.0 endpoints, built from their documentation.

The real service cannot be reached from the test machines; this server implements what its pages document
and the tests rely on. Sources (read 2026-12-03):

- list, paging, filter: https://developers.google.com/health/reference/rest/v4/users.dataTypes.dataPoints/list
  — `GET v4/{parent=users/*/dataTypes/*}/dataPoints`; `pageSize` "if unspecified, at most 1440 … maximum 10000;
  values above that will be truncated"; exercise and sleep default and maximum 25; `pageToken` is the previous
  `nextPageToken`; `filter` (AIP-160): `{data_type}.interval.start_time >= "RFC 3339" AND … < "…"`.
- response: https://doc.deno.land/https://googleapis.deno.dev/v1/health:v4.ts/~/ListDataPointsResponse
  (`dataPoints`, `nextPageToken`, "empty if the response is complete").
- data point shapes: https://developers.google.com/health/reference/rest/v4/users.dataTypes.dataPoints
  (the `DataPoint` union: `heartRate`, `steps`, `activeZoneMinutes`, `oxygenSaturation`, `heartRateVariability`,
  `respiratoryRateSleepSummary`, `sleep`); field names from the generated clients:
  https://googleapis.dev/dotnet/Google.Apis.GoogleHealthAPI.v4/latest/api/Google.Apis.GoogleHealthAPI.v4.Data.HeartRate.html,
  …Data.HeartRateVariability.html, …Data.ActiveZoneMinutes.html, …Data.RespiratoryRateSleepSummary.html,
  https://doc.deno.land/https://googleapis.deno.dev/v1/health:v4.ts/~/SleepStage (AWAKE, LIGHT, DEEP, REM,
  ASLEEP, RESTLESS).
- roll-ups: https://developers.google.com/health/reference/rest/v4/users.dataTypes.dataPoints/rollUp and
  …/dailyRollUp — "the maximum range for calories-in-heart-rate-zone, heart-rate, active-minutes and
  total-calories is 14 days … 90 days" otherwise. `reconcile` (same paging) is listed in the deno client:
  https://doc.deno.land/https://googleapis.deno.dev/v1/health:v4.ts/~/UsersDataTypesDataPointsReconcileOptions.
- rate limits: https://developers.google.com/health/rate-limits — 429 Too Many Requests; 300 requests / minute
  per user, 120,000 / minute and 86.4 M / day per project; unverified apps capped at 100 users.
- OAuth: https://developers.google.com/health/migration/data-access (Google OAuth 2.0:
  `accounts.google.com/o/oauth2/v2/auth`, `oauth2.googleapis.com/token`), https://developers.google.com/health/setup
  (unverified clients: 100 users), scopes: https://developers.google.com/health/scopes
  (`https://www.googleapis.com/auth/googlehealth.*.readonly`).
- paired devices: https://developers.google.com/health/reference/rest/v4beta/users.pairedDevices
  (`lastSyncTime`, scope `googlehealth.settings.readonly`).

Where the pages are silent, the smallest assumption, said here:
- `reconcile`, `rollUp` and `dailyRollUp` are not served: the connector reads raw points with `list` only.
- Points are listed in ascending time. A paged listing is a snapshot taken at its first page (the token carries
  it), so late uploads during paging show up in the next listing, never as a duplicate or a hole.
- Data uploaded late (a point's device sync time after the server clock) is invisible until the clock reaches it.
- A corrected point (the same data type and time, uploaded again with another value) replaces the earlier
  version from the correction's upload on: listings before it show the earlier version, later ones the correction.
- The sample-time filter field of sample types is `{data_type}.sample_time.physical_time`; sleep filters on
  `sleep.interval.start_time`. Only `>=` / `<` joined by AND are accepted, as documented for intervals.
- Codes live 10 minutes and are single use; access tokens 3,599 s; refresh tokens are not rotated; revoke
  (`POST /revoke`, form `token`) ends the grant, its refresh token and its access tokens.
- Error bodies are Google's `{"error": {"code", "message", "status"}}`; `Retry-After` on 429 is whole seconds.
- `pairedDevices` is documented under v4beta; it is served here under v4 beside the data points.
"""
