"""Illness alerts and nightly values: `GET /v1/participants/{id}/alerts`, `GET /v1/alerts` (cohort, paged),
`GET /v1/participants/{id}/nights`. Nights are dated by the local date of their morning."""
