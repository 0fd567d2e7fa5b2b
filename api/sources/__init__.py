"""`GET /v1/sources`: where the sources runner stands, per source × participant × metric."""
