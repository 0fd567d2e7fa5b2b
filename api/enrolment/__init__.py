"""Device-source enrolment in the API: consent links (`POST /v1/participants/{id}/enrolment`) and the callback."""
