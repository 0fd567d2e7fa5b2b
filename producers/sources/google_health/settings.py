"""The connector's settings, read from `WEARSTREAM_GOOGLE_HEALTH_*` (and the sealing key from
`WEARSTREAM_SOURCES_KEY` / `WEARSTREAM_SOURCES_KEY_FILE`) once, at the entry point."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

READ_SCOPES: Final = (
    "https://www.googleapis.com/auth/googlehealth.activity_and_fitness.readonly",
    "https://www.googleapis.com/auth/googlehealth.health_metrics_and_measurements.readonly",
    "https://www.googleapis.com/auth/googlehealth.sleep.readonly",
    "https://www.googleapis.com/auth/googlehealth.settings.readonly",
)
"""Heart rate, steps, active zone minutes (activity and fitness); SpO2, HRV, breathing rate (health metrics);
sleep; paired devices' last sync time (settings). Read-only: wearstream never writes to a participant's data."""


class GoogleHealthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WEARSTREAM_GOOGLE_HEALTH_", frozen=True, extra="ignore")

    client_id: str = ""
    """The OAuth 2.0 client id of the study's Google Cloud project (empty: the connector is not configured)."""
    client_secret: str = ""
    redirect_uri: str = "http://127.0.0.1:8000/v1/sources/google_health/callback"
    """Our callback page, exactly as registered with the OAuth client."""
    auth_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    token_url: str = "https://oauth2.googleapis.com/token"
    revoke_url: str = "https://oauth2.googleapis.com/revoke"
    api_url: str = "https://health.googleapis.com/v4"
    scopes: tuple[str, ...] = READ_SCOPES
    enrolment_ttl_s: int = Field(default=7 * 86_400, gt=0)
    """How long a consent link stays valid."""
    refresh_margin_s: int = Field(default=300, ge=0)
    """An access token this close to expiry is refreshed before use."""
    page_size: int = Field(default=10_000, ge=1, le=10_000)
    """Data points per `list` page (the service caps pages at 10,000; its default is 1,440)."""
    max_attempts: int = Field(default=5, ge=1)
    """Tries per request on 5xx / timeouts before `Unavailable`."""
    max_rate_limited_waits: int = Field(default=30, ge=0)
    """429 answers one request may wait out (honouring Retry-After) before `RateLimited`."""
    backoff_cap_s: float = Field(default=30.0, gt=0)
    sources_key: str = Field(default="", validation_alias=AliasChoices("WEARSTREAM_SOURCES_KEY"))
    """The Fernet key (urlsafe base64, 32 bytes) sealing grants; several, comma-separated, to rotate (first seals)."""
    sources_key_file: Path | None = Field(default=None, validation_alias=AliasChoices("WEARSTREAM_SOURCES_KEY_FILE"))
    """A file holding the key(s), one a line, when `WEARSTREAM_SOURCES_KEY` is not set."""
