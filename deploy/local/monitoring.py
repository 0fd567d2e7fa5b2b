"""Prometheus and Alertmanager for the local stack (`wearstream stack up --with-monitoring`), from Debian's
`prometheus` and `prometheus-alertmanager` packages, run as local processes with their state in the state dir.

Prometheus scrapes the local processes (processor worker, replay/import, API) at their `/metrics` ports and
evaluates `deploy/monitoring/rules/`; Alertmanager gets its configuration from the template in
`deploy/monitoring/alertmanager/`, filled from the environment at each start. Zipkin (`deploy/local/zipkin.py`)
runs beside them and receives the processes' traces. `install_monitoring_tools` is
also what the tests call to get `promtool` and `amtool`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

import msgspec

from core.settings import Settings
from core.telemetry import IMPORT_METRICS_PORT, REPLAY_METRICS_PORT
from deploy.local.daemon import Daemon, Log, http_ok
from deploy.local.errors import StackError
from deploy.local.monitoring_tools import install_monitoring_tools, tool, version_of
from deploy.local.process import run
from deploy.local.status import ComponentStatus
from deploy.local.zipkin import ZipkinServer

MONITORING_DIR: Final = Path(__file__).resolve().parents[1] / "monitoring"
RULES_DIR: Final = MONITORING_DIR / "rules"
ALERTMANAGER_TEMPLATE: Final = MONITORING_DIR / "alertmanager" / "alertmanager.yml"

# Placeholders of the Alertmanager template and their defaults (the same as render.sh's).
ALERTMANAGER_DEFAULTS: Final = {
    "WEARSTREAM_SMTP_HOST": "127.0.0.1",
    "WEARSTREAM_SMTP_PORT": "25",
    "WEARSTREAM_SMTP_FROM_ADDRESS": "wearstream@localhost",
    "WEARSTREAM_SMTP_USERNAME": "",
    "WEARSTREAM_SMTP_STARTTLS": "false",
    "SMTP_PASSWORD_FILE": "",
    "ALERT_EMAIL_TO": "root@localhost",
}


def render_alertmanager_config(template: str, environ: Mapping[str, str]) -> str:
    """Fills the template's ${NAME} placeholders from `environ` (defaults: ALERTMANAGER_DEFAULTS)."""
    text = template
    for name, default in ALERTMANAGER_DEFAULTS.items():
        value = environ.get(name, default)
        if name == "WEARSTREAM_SMTP_STARTTLS":
            value = "true" if value.strip().lower() in {"1", "true", "yes", "on"} else "false"
        text = text.replace("${" + name + "}", value)
    return text


class ScrapeTargets(msgspec.Struct, frozen=True, kw_only=True):
    """host:port of each wearstream process's /metrics, by Prometheus job."""

    processor: list[str]
    producers: list[str]
    api: list[str]


def targets_for(settings: Settings) -> ScrapeTargets:
    """Where the local processes serve /metrics with their default ports."""
    api_host = settings.api.host if settings.api.host not in {"0.0.0.0", "::", ""} else "127.0.0.1"
    return ScrapeTargets(
        processor=[f"127.0.0.1:{settings.processor.metrics_port}"],
        producers=[f"127.0.0.1:{REPLAY_METRICS_PORT}", f"127.0.0.1:{IMPORT_METRICS_PORT}"],
        api=[f"{api_host}:{settings.api.port}"],
    )


def prometheus_config(
    targets: ScrapeTargets,
    *,
    prometheus: str,
    alertmanager: str,
    rule_files: Sequence[Path],
    scrape_interval: str = "15s",
) -> str:
    """The local Prometheus configuration (JSON, which Prometheus reads as YAML); job names as in compose."""

    def job(name: str, addresses: Sequence[str]) -> dict[str, object]:
        return {"job_name": name, "static_configs": [{"targets": list(addresses)}]}

    config = {
        "global": {
            "scrape_interval": scrape_interval,
            "evaluation_interval": scrape_interval,
            "external_labels": {"stack": "local"},
        },
        "rule_files": [str(path) for path in rule_files],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": [
            job("wearstream-processor", targets.processor),
            job("wearstream-producer", targets.producers),
            job("wearstream-api", targets.api),
            job("prometheus", [prometheus]),
            job("alertmanager", [alertmanager]),
        ],
    }
    return json.dumps(config, indent=2) + "\n"


class _MonitoringDaemon(Daemon):
    """A Debian monitoring server (`command`), ready when its `/-/ready` answers 200."""

    command: str

    def __init__(self, *, state_dir: Path, port: int) -> None:
        super().__init__(home=state_dir / self.name, port=port)

    def argv(self) -> list[str]:
        raise NotImplementedError

    def configure(self) -> None:
        raise NotImplementedError

    def ready(self) -> bool:
        return http_ok(f"http://{self.address}/-/ready")

    def start(self, log: Log, *, timeout_s: float = 30.0) -> None:
        """Starts the server unless ours runs (its configuration is rewritten first); returns once ready."""
        self.home.mkdir(parents=True, exist_ok=True)
        if self.running_pid() is not None:
            log(f"{self.name}: already running on {self.address}")
            self.wait_ready(timeout_s)
            return
        if self.ready():
            raise StackError(f"{self.name}: port {self.port} already serves one that this stack did not start")
        self.configure()
        log(f"{self.name}: starting on {self.address}")
        process = self.spawn([tool(self.command), *self.argv()], cwd=self.home)
        self.wait_ready(timeout_s, process=process)

    def status(self) -> ComponentStatus:
        pid = self.running_pid()
        return ComponentStatus(
            name=self.name,
            address=self.address,
            version=version_of(tool(self.command)) if shutil.which(self.command) else "not installed",
            up=self.ready(),
            managed=pid is not None,
        )


class PrometheusServer(_MonitoringDaemon):
    name = "prometheus"
    command = "prometheus"

    def __init__(
        self, *, state_dir: Path, port: int, alertmanager: str, targets: ScrapeTargets, scrape_interval: str = "15s"
    ) -> None:
        super().__init__(state_dir=state_dir, port=port)
        self.alertmanager = alertmanager
        self.targets = targets
        self.scrape_interval = scrape_interval
        self.config_file = self.home / "prometheus.yml"

    def configure(self) -> None:
        rules = sorted(RULES_DIR.glob("*.yml"))
        self.config_file.write_text(
            prometheus_config(
                self.targets,
                prometheus=self.address,
                alertmanager=self.alertmanager,
                rule_files=rules,
                scrape_interval=self.scrape_interval,
            )
        )
        run([tool("promtool"), "check", "config", str(self.config_file)])

    def argv(self) -> list[str]:
        return [
            f"--config.file={self.config_file}",
            f"--storage.tsdb.path={self.home / 'data'}",
            "--storage.tsdb.retention.time=15d",
            f"--web.listen-address={self.address}",
            "--web.enable-lifecycle",
        ]


class AlertmanagerServer(_MonitoringDaemon):
    name = "alertmanager"
    command = "prometheus-alertmanager"

    def __init__(self, *, state_dir: Path, port: int, environ: Mapping[str, str]) -> None:
        super().__init__(state_dir=state_dir, port=port)
        self.environ = environ
        self.config_file = self.home / "alertmanager.yml"

    def configure(self) -> None:
        values = dict(self.environ)
        password = values.get("WEARSTREAM_SMTP_PASSWORD")
        if password and not values.get("SMTP_PASSWORD_FILE"):
            secret = self.home / "smtp_password"
            secret.touch(mode=0o600)
            secret.chmod(0o600)
            secret.write_text(password)
            values["SMTP_PASSWORD_FILE"] = str(secret)
        self.config_file.write_text(render_alertmanager_config(ALERTMANAGER_TEMPLATE.read_text(), values))
        self.config_file.chmod(0o600)
        run([tool("amtool"), "check-config", str(self.config_file)])

    def argv(self) -> list[str]:
        return [
            f"--config.file={self.config_file}",
            f"--storage.path={self.home / 'data'}",
            f"--web.listen-address={self.address}",
            "--cluster.listen-address=",  # one node: no gossip port
        ]


class LocalMonitoring:
    """Prometheus scraping the local processes, Alertmanager receiving its alerts, and (when given) Zipkin
    receiving their traces."""

    def __init__(
        self,
        *,
        state_dir: Path,
        prometheus_port: int,
        alertmanager_port: int,
        targets: ScrapeTargets,
        environ: Mapping[str, str] | None = None,
        scrape_interval: str = "15s",
        zipkin: ZipkinServer | None = None,
    ) -> None:
        self.zipkin = zipkin
        self.alertmanager = AlertmanagerServer(
            state_dir=state_dir, port=alertmanager_port, environ=os.environ if environ is None else environ
        )
        self.prometheus = PrometheusServer(
            state_dir=state_dir,
            port=prometheus_port,
            alertmanager=self.alertmanager.address,
            targets=targets,
            scrape_interval=scrape_interval,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalMonitoring:
        return cls(
            state_dir=settings.stack.state_dir,
            prometheus_port=settings.stack.prometheus_port,
            alertmanager_port=settings.stack.alertmanager_port,
            targets=targets_for(settings),
            zipkin=ZipkinServer(
                state_dir=settings.stack.state_dir,
                cache_dir=settings.stack.cache_dir,
                port=settings.stack.zipkin_port,
                max_spans=settings.stack.zipkin_max_spans,
                heap=settings.stack.zipkin_heap,
            ),
        )

    def _servers(self) -> list[Daemon]:
        zipkin: list[Daemon] = [self.zipkin] if self.zipkin is not None else []
        return [self.alertmanager, self.prometheus, *zipkin]

    def install(self, log: Log) -> None:
        install_monitoring_tools(log)
        if self.zipkin is not None:
            self.zipkin.install(log)

    def start(self, log: Log) -> None:
        self.alertmanager.start(log)
        self.prometheus.start(log)
        if self.zipkin is not None:
            self.zipkin.start(log)

    def stop(self, log: Log) -> None:
        for server in reversed(self._servers()):
            server.stop(log)

    def running(self) -> bool:
        return any(server.running_pid() is not None for server in self._servers())

    def status(self) -> list[ComponentStatus]:
        zipkin = [self.zipkin.status()] if self.zipkin is not None else []
        return [self.prometheus.status(), self.alertmanager.status(), *zipkin]
