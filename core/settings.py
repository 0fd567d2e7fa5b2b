"""The one settings object, read from `WEARSTREAM_*` environment variables once, at the entry point.

Library code takes explicit arguments (a `KafkaSettings`, a DSN string, …), never reads the environment itself.
Defaults point at the local stack started by `wearstream stack up`.
"""

from __future__ import annotations

from typing import Final, Literal
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import Field, PrivateAttr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.stack_settings import StackSettings as StackSettings

LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WEARSTREAM_KAFKA_", frozen=True, extra="ignore")

    bootstrap_servers: str = ""
    """Empty: the local stack's broker (127.0.0.1:WEARSTREAM_KAFKA_PORT), or with WEARSTREAM_KAFKA_BROKERS=3 its
    cluster's three (WEARSTREAM_KAFKA_CLUSTER_PORT and the two after it)."""
    topic_prefix: str = "wearables"
    partitions: int = 6
    replication_factor: int = Field(default=0, ge=0)
    """Replicas of each topic wearstream creates. 0: as many as the cluster has brokers, at most 3 (so a
    3-broker cluster keeps every topic on all three; topics with 3 or more replicas get min.insync.replicas=2)."""
    retention_ms: int = 7 * 24 * 3600 * 1000
    """Retention of the readings topics (the database is the long-term store)."""


class DatabaseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WEARSTREAM_DATABASE_", frozen=True, extra="ignore")

    url: str = ""
    """The owner's DSN (migrations, `apikey`, `demo`), and every process's when the per-role URLs are empty.
    Empty: the local stack's database as `wearstream`, with the password from its state dir."""
    processor_url: str = ""
    """The stream processors' DSN. Empty: `url` when set, else the local stack's `wearstream_processor`."""
    api_url: str = ""
    """The API's DSN. Empty: `url` when set, else the local stack's `wearstream_api`."""
    readonly_url: str = ""
    """Read-only DSN (`wearstream export` without `--api`). Empty: `url` when set, else `wearstream_readonly`."""
    pool_size: int = 4
    _role_passwords: dict[str, str] = PrivateAttr(default_factory=dict)
    """The local stack's generated passwords of `wearstream_processor` / `wearstream_api` / `wearstream_readonly`
    (set by `load_settings`): those roles then reach the server and database of `url`, whatever `url` becomes."""

    @property
    def processor_dsn(self) -> str:
        return self.processor_url or self._as_role("wearstream_processor")

    @property
    def api_dsn(self) -> str:
        return self.api_url or self._as_role("wearstream_api")

    @property
    def readonly_dsn(self) -> str:
        return self.readonly_url or self._as_role("wearstream_readonly")

    def _as_role(self, role: str) -> str:
        password = self._role_passwords.get(role)
        if not password:
            return self.url
        parts = urlsplit(self.url)
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=f"{role}:{quote(password, safe='')}@{host}"))


class ProcessorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WEARSTREAM_PROCESSOR_", frozen=True, extra="ignore")

    group_id: str = "wearstream-processor"
    """Kafka consumer group (faust app id) shared by all workers."""
    take_max: int = 1000
    """Messages per group."""
    take_within_s: float = 0.5
    """Longest wait to fill a group (from its first message) before processing what arrived."""
    take_idle_s: float = Field(default=0.05, gt=0)
    """A group is processed once no message arrived for this long (the input paused), full or not."""
    store_concurrency: int = Field(default=2, ge=1)
    """Transactions one group is stored in at once, its participants split between them (1: one transaction);
    each takes a connection of the pool (`WEARSTREAM_DATABASE_POOL_SIZE`)."""
    not_synced_after_s: int = 6 * 3600
    """No upload for this long opens a `not_synced` gap."""
    gap_check_interval_s: float = 60.0
    live_window_s: int = 3600
    """Only batches with readings this recent are published on the live topic (history is not re-broadcast)."""
    compaction_interval_s: float = 300.0
    """How often the leader worker compacts finished periods of raw segments."""
    compaction_settle_s: int = 7200
    """A period (an hour of heart rate, a day of other metrics) is compacted this long after it ended."""
    retention_raw_days: int = 0
    """Raw readings are kept this many days (0: for ever)."""
    retention_rollup_1m_days: int = 180
    """1-minute rollups are kept this many days (0: for ever); hours, days and raw answer older ranges."""
    retention_rollup_1h_days: int = 0
    retention_rollup_1d_days: int = 0
    retention_gaps_days: int = 0
    retention_summaries_days: int = 0
    """Daily summaries and sleep nights are kept this many days (0: for ever)."""
    future_tolerance_s: int = 24 * 3600
    """Readings further than this in the future (relative to the worker's clock) are rejected."""
    deadletter_max_ratio: float = 0.5
    """A topic is paused when more than this share of its recent messages was wholly invalid."""
    deadletter_window: int = 1000
    metrics_port: int = 9102
    """Prometheus /metrics and /healthz port of a worker (0: none)."""
    session_timeout_s: float = 30.0
    """How long the group waits for a silent (e.g. killed) worker before giving its partitions to others."""


class AdherenceSettings(BaseSettings):
    """Thresholds of the adherence flags (the API's defaults; a request may override them)."""

    model_config = SettingsConfigDict(env_prefix="WEARSTREAM_API_ADHERENCE_", frozen=True, extra="ignore")

    window_days: int = 30
    """Days in the adherence window when a request names no start."""
    min_wear_pct: float = 70.0
    """`low_wear`: wear time below this percentage of the window's minutes."""
    max_upload_age_h: float = 48.0
    """`no_recent_upload`: no upload for more than this many hours."""
    min_sleep_pct: float = 50.0
    """`low_sleep_data`: nights with sleep data below this percentage of the window's nights."""


class LiveSettings(BaseSettings):
    """The API's websocket fan-out: one Kafka consumer per process, a bounded queue per client."""

    model_config = SettingsConfigDict(env_prefix="WEARSTREAM_API_LIVE_", frozen=True, extra="ignore")

    enabled: bool = True
    """Consume the live and gaps topics (off: the websockets accept clients but receive nothing)."""
    queue_size: int = 1000
    """Messages buffered per client; when full the oldest is dropped (and counted)."""
    max_backfill_minutes: int = 1440
    """Longest backfill a client may ask for on connect."""


def retention_days(processing: ProcessorSettings) -> dict[str, int | None]:
    return {
        "raw_segments": processing.retention_raw_days,
        "rollup_1m": processing.retention_rollup_1m_days,
        "rollup_1h": processing.retention_rollup_1h_days,
        "rollup_1d": processing.retention_rollup_1d_days,
        "gaps": processing.retention_gaps_days,
        "daily_summary": processing.retention_summaries_days,
        "sleep_nights": processing.retention_summaries_days,
    }


class NotificationSettings(BaseSettings):
    """Who may send reminders, and how often a participant may receive one."""

    model_config = SettingsConfigDict(env_prefix="WEARSTREAM_API_NOTIFICATIONS_", frozen=True, extra="ignore")

    allow_researchers: bool = False
    """Researcher keys may send reminders too (by default admin keys only; anyone with a cohort key reads the audit)."""
    cooldown_h: float = 24.0
    """A participant sent (or being sent) a reminder is not sent another for this many hours; refusals are audited."""


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WEARSTREAM_API_", frozen=True, extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    rate_limit_per_minute: int = 1200
    """Requests per minute per API key (a token bucket of this size, refilled continuously; 0: no limit)."""
    key_cache_s: float = 30.0
    """How long a verified API key is trusted without reading the database again (revocation delay)."""
    auth_failures_per_minute: int = 20
    """Failed authentications allowed per client address per minute (a bucket of this size); beyond it the
    address gets 429 without a database query until the bucket refills."""
    negative_cache_s: float = 300.0
    """How long a token that failed is refused from memory, without reading the database again."""
    adherence: AdherenceSettings = Field(default_factory=AdherenceSettings)
    live: LiveSettings = Field(default_factory=LiveSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)


class SmtpSettings(BaseSettings):
    """The mail server that reminder notifications are sent through."""

    model_config = SettingsConfigDict(env_prefix="WEARSTREAM_SMTP_", frozen=True, extra="ignore")

    host: str = "127.0.0.1"
    port: int = 25
    username: str = ""
    """Empty: no SMTP authentication."""
    password: str = ""
    starttls: bool = False
    ssl: bool = False
    """Implicit TLS (usually port 465); otherwise plain SMTP, upgraded with STARTTLS when `starttls`."""
    from_address: str = "wearstream@localhost"
    timeout_s: float = 10.0


class TelemetrySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WEARSTREAM_TELEMETRY_", frozen=True, extra="ignore")

    service_name: str = "wearstream"
    log_level: str = "INFO"
    """Level of every process's log (DEBUG, INFO, WARNING, ERROR, CRITICAL)."""
    log_format: Literal["text", "json"] = "text"
    """`json`: one JSON object per line, with `trace_id` and `span_id` of the current span."""
    sampling_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    """Share of traces recorded (the root's decision; children follow their parent). OTEL_TRACES_SAMPLER wins."""
    zipkin_url: str = ""
    """Where spans are sent in Zipkin's JSON (`…/api/v2/spans`). Empty: the local Zipkin while it runs."""

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if (level := value.strip().upper()) not in LOG_LEVELS:
            raise ValueError(f"unknown log level {value!r}; one of {', '.join(LOG_LEVELS)}")
        return level


class Settings(BaseSettings):
    """All of wearstream's configuration, nested per subsystem."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    stack: StackSettings = Field(default_factory=StackSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    processor: ProcessorSettings = Field(default_factory=ProcessorSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)


def load_settings() -> Settings:
    """Reads the environment; Kafka and database addresses left empty point at the local stack's ports."""
    settings = Settings()
    stack = settings.stack
    kafka, database = settings.kafka, settings.database
    if not kafka.bootstrap_servers:
        kafka = kafka.model_copy(update={"bootstrap_servers": stack.kafka_bootstrap})
    if not database.url:
        # The local stack: each process as its role (when the stack generated its password; a stack made by an
        # older version has none, and serves every process as the owner).
        database = database.model_copy(update={"url": local_database_url(stack, "wearstream")})
        database._role_passwords = {
            role: password
            for role in ("wearstream_processor", "wearstream_api", "wearstream_readonly")
            if (password := local_password(stack, role))
        }
    return settings.model_copy(update={"kafka": kafka, "database": database})


def local_password(stack: StackSettings, role: str) -> str:
    """The password `stack up` generated for `role` (`<state_dir>/secrets/`), or "" (a stack made without)."""
    try:
        return (stack.state_dir / "secrets" / f"{role}.password").read_text().strip()
    except OSError:
        return ""


def local_database_url(stack: StackSettings, role: str, *, required: bool = False) -> str:
    """The local stack's DSN for `role`, with the password `stack up` generated (`<state_dir>/secrets/`);
    without one, no password — or, when `required`, empty."""
    password = local_password(stack, role)
    if required and not password:
        return ""
    secret = f":{password}" if password else ""
    return f"postgresql://{role}{secret}@127.0.0.1:{stack.pg_port}/wearstream"
