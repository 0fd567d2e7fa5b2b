"""The Google Health API connector (`health.googleapis.com/v4`), the Fitbit Web API's successor.

`oauth` (PKCE, the consent link, code exchange, refresh), `tokens` (grants sealed at rest), `client` (HTTP:
paging, rate limits, retries, errors), `mapping` (data points → ReadingBatches), `source` (the `Source`),
`enrolment` (consent link → callback → stored grant). Scheduling and publishing are the runner's.
"""
