"""compose.yaml, checked statically (there is no Docker engine here): pinned images, healthchecks, start order,
volumes, environment variables that the settings object knows, commands the CLI accepts, and Prometheus
targets that are real services on the ports they listen on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings
from typer.testing import CliRunner

from core.settings import Settings
from wearstream.cli import app

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
PROMETHEUS = yaml.safe_load((ROOT / "deploy" / "monitoring" / "prometheus.yml").read_text())
PYTHON_SERVICES = sorted(name for name, service in SERVICES.items() if service.get("build"))
EXPECTED = {"kafka", "timescaledb", "migrate", "processor", "api", "replay", "prometheus", "alertmanager", "grafana"}
EXPECTED |= {"otel-collector", "jaeger", "node-exporter", "cadvisor"}


def settings_variables(model: type[BaseSettings] = Settings, prefix: str = "") -> set[str]:
    """Every WEARSTREAM_* variable the settings object reads (nested settings read their own prefix)."""
    names = set()
    own_prefix = str(model.model_config.get("env_prefix", prefix))
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
            names |= settings_variables(annotation, own_prefix)
        else:
            names.add(f"{own_prefix}{name}".upper())
    return names


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_the_whole_system_is_there() -> None:
    assert set(SERVICES) >= EXPECTED
    assert PYTHON_SERVICES == ["api", "migrate", "processor", "replay"]
    assert SERVICES["processor"]["deploy"]["replicas"] >= 2


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_images_are_pinned_by_version(name: str) -> None:
    image = SERVICES[name]["image"]
    repository, _, tag = image.rpartition(":")
    assert repository, f"{name}: {image} has no tag"
    assert tag != "latest"
    assert re.search(r"\d+\.\d+", tag), f"{name}: {image} is not pinned to a version"


def test_the_python_image_installs_from_the_lock_file() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    for service in PYTHON_SERVICES:
        assert SERVICES[service]["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}
    assert "COPY pyproject.toml uv.lock" in dockerfile
    assert dockerfile.count("uv sync --frozen --no-dev") == 2
    setup = (ROOT / "deploy" / "local" / "setup-venv.sh").read_text()
    uv_version = re.search(r"UV_VERSION=(\S+)", setup)
    assert uv_version is not None
    assert f"uv=={uv_version.group(1)}" in dockerfile, "the same uv as the local set-up"
    for line in dockerfile.splitlines():
        if line.startswith("FROM "):
            assert re.search(r":\d+\.\d+\.\d+", line), line


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_healthcheck(name: str) -> None:
    check = SERVICES[name].get("healthcheck")
    assert check, f"{name} has no healthcheck"
    assert not check.get("disable")
    assert check["test"][0] in {"CMD", "CMD-SHELL"}
    for key in ("interval", "timeout", "retries"):
        assert key in check


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_dependencies_wait_for_a_condition(name: str) -> None:
    depends = SERVICES[name].get("depends_on", {})
    assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
    for other, spec in depends.items():
        assert other in SERVICES, f"{name} depends on unknown {other}"
        condition = spec["condition"]
        assert condition in {"service_healthy", "service_completed_successfully", "service_started"}
        if condition == "service_healthy":
            assert SERVICES[other].get("healthcheck"), other
    if name in {"processor", "api", "replay"}:
        assert depends["kafka"]["condition"] == "service_healthy"
    if name in {"processor", "api"}:
        assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_state_lives_in_named_volumes() -> None:
    declared = set(COMPOSE["volumes"])
    used = set()
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith(("/", ".")):
                used.add(source)
            elif source.startswith("."):
                assert (ROOT / source).exists(), f"bind mount {source} does not exist"
    assert used == declared
    for stateful in ("kafka", "timescaledb", "prometheus", "alertmanager", "grafana"):
        assert any(not v.startswith(("/", ".")) for v in SERVICES[stateful]["volumes"]), stateful


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_wearstream_variables_are_settings(name: str) -> None:
    known = settings_variables()
    unknown = {v for v in environment(SERVICES[name]) if v.startswith("WEARSTREAM_") and v not in known}
    assert not unknown, f"{name}: not in core/settings.py: {sorted(unknown)}"


def test_settings_variables_are_derived_correctly() -> None:
    known = settings_variables()
    assert {"WEARSTREAM_KAFKA_BOOTSTRAP_SERVERS", "WEARSTREAM_DATABASE_URL", "WEARSTREAM_API_PORT"} <= known
    assert "WEARSTREAM_API_ADHERENCE_MIN_WEAR_PCT" in known
    assert "WEARSTREAM_STATE_DIR" in known


@pytest.mark.parametrize("name", PYTHON_SERVICES)
def test_python_services_run_real_commands(name: str) -> None:
    args = [re.sub(r"\$\{(\w+):-([^}]*)\}", r"\2", str(a)) for a in SERVICES[name]["command"]]
    # Click parses every option before acting on --help: an unknown command or option fails with exit 2.
    result = CliRunner().invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def listening_ports(name: str) -> set[int]:
    """Ports a service listens on, as far as its definition (and its mounted config files) says."""
    service = SERVICES[name]
    text = yaml.safe_dump(service)
    for volume in service.get("volumes", []):
        source = volume.split(":", 1)[0]
        if source.startswith(".") and (ROOT / source).is_file():
            text += (ROOT / source).read_text()
    return {int(p) for p in re.findall(r"(?<![\d.])(\d{4,5})(?![\d.])", text)}


def scrape_targets() -> list[tuple[str, str, int]]:
    targets = []
    for job in PROMETHEUS["scrape_configs"]:
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, port = target.rsplit(":", 1)
                targets.append((job["job_name"], host, int(port)))
        for dns in job.get("dns_sd_configs", []):
            for host in dns["names"]:
                targets.append((job["job_name"], host, int(dns["port"])))
    return targets


@pytest.mark.parametrize(("job", "host", "port"), scrape_targets())
def test_prometheus_targets_are_services_on_their_ports(job: str, host: str, port: int) -> None:
    service = "prometheus" if host == "localhost" else host
    assert service in SERVICES, f"{job}: {host} is not a service"
    assert port in listening_ports(service), f"{job}: {service} does not listen on {port}"


def test_every_service_exposing_metrics_is_scraped() -> None:
    scraped = {("prometheus" if host == "localhost" else host) for _, host, _ in scrape_targets()}
    assert scraped == set(SERVICES) - {"kafka", "timescaledb", "migrate", "grafana", "jaeger"}
    jobs = {job for job, _, _ in scrape_targets()}
    assert {"wearstream-processor", "wearstream-producer", "wearstream-api"} <= jobs
    processor = SERVICES["processor"]["command"]
    assert processor[processor.index("--metrics-port") + 1] == "9102"


def test_traces_and_alerts_flow_between_services() -> None:
    for name in PYTHON_SERVICES:
        endpoint = environment(SERVICES[name])["OTEL_EXPORTER_OTLP_ENDPOINT"]
        assert re.fullmatch(r"http://otel-collector:4318", endpoint), name
    collector = yaml.safe_load((ROOT / "deploy" / "monitoring" / "otel-collector.yaml").read_text())
    assert collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    assert collector["exporters"]["otlp/jaeger"]["endpoint"] == "jaeger:4317"
    assert environment(SERVICES["jaeger"])["COLLECTOR_OTLP_ENABLED"] == "true"
    assert PROMETHEUS["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    grafana = environment(SERVICES["grafana"])
    assert grafana["PROMETHEUS_URL"] == "http://prometheus:9090"
    assert grafana["TIMESCALEDB_ADDRESS"] == "timescaledb:5432"


def test_grafana_gets_its_provisioning_and_no_secret_is_in_the_repository() -> None:
    volumes = SERVICES["grafana"]["volumes"]
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in volumes
    assert "./grafana/dashboards:/var/lib/grafana/dashboards:ro" in volumes
    for name, service in SERVICES.items():
        for variable, value in environment(service).items():
            if "PASSWORD" in variable:
                assert value.startswith("${"), f"{name}: {variable} must come from the environment"


def test_no_secret_has_a_default() -> None:
    """`${VAR:?…}`: compose refuses to start without each password; none falls back to a known value."""
    text = (ROOT / "compose.yaml").read_text()
    for variable, operator in re.findall(r"\$\{(\w*PASSWORD\w*)(:[?-]|)", text):
        if variable == "WEARSTREAM_SMTP_PASSWORD":  # empty means "no SMTP login", not a weak password
            continue
        assert operator == ":?", f"${{{variable}}} must be required (`:?`), not defaulted"
    assert "${GRAFANA_ADMIN_PASSWORD:?" in environment(SERVICES["grafana"])["GF_SECURITY_ADMIN_PASSWORD"]
    assert "admin}" not in text
    assert ":-wearstream}" not in text


def test_each_process_connects_with_its_own_role_and_none_is_a_superuser() -> None:
    from deploy.local.postgres import ROLE, ROLES

    processor, api, readonly = ROLES
    expected = {"migrate": ROLE, "processor": processor, "api": api}
    for name, role in expected.items():
        url = environment(SERVICES[name])["WEARSTREAM_DATABASE_URL"]
        assert url.startswith(f"postgresql://{role}:${{"), (name, url)
        assert url.endswith("@timescaledb:5432/wearstream")
    assert "WEARSTREAM_DATABASE_URL" not in environment(SERVICES["replay"])  # it only publishes to Kafka
    grafana = environment(SERVICES["grafana"])
    assert grafana["TIMESCALEDB_USER"] == readonly
    assert grafana["TIMESCALEDB_PASSWORD"].startswith("${DB_READONLY_PASSWORD:?")
    database = environment(SERVICES["timescaledb"])
    assert database["POSTGRES_USER"] == "postgres"  # the only superuser, used by nobody but the set-up
    assert database["POSTGRES_HOST_AUTH_METHOD"] == "scram-sha-256"
    assert "--auth-local=scram-sha-256" in database["POSTGRES_INITDB_ARGS"]
    mount = next(v for v in SERVICES["timescaledb"]["volumes"] if "docker-entrypoint-initdb.d" in v)
    script = (ROOT / mount.split(":", 1)[0]).read_text()
    for role in (ROLE, *ROLES):
        line = next(line for line in script.splitlines() if line.startswith(f"CREATE ROLE {role} "))
        assert "LOGIN NOSUPERUSER" in line
        assert "NOCREATEROLE" in line
        assert "PASSWORD :'" in line  # from the environment, quoted by psql
    assert "SUPERUSER" not in script.replace("NOSUPERUSER", "")
    assert "CREATE DATABASE wearstream OWNER wearstream" in script
