"""Device sources in the API: consent links (`POST /v1/participants/{id}/enrolment`) and the consent callback."""
