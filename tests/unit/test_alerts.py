"""Prometheus rules and Alertmanager configuration, checked with the real promtool, amtool and Alertmanager
(Debian's packages, installed by the same code as `wearstream stack up --with-monitoring`; a missing tool
fails the run)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.local.monitoring import (
    ALERTMANAGER_TEMPLATE,
    MONITORING_DIR,
    RULES_DIR,
    AlertmanagerServer,
    ScrapeTargets,
    prometheus_config,
    render_alertmanager_config,
)
from deploy.local.monitoring_tools import install_monitoring_tools, tool

RULES = RULES_DIR / "wearstream.yml"
RULE_TESTS = MONITORING_DIR / "tests" / "wearstream_test.yml"
RENDER_SH = MONITORING_DIR / "alertmanager" / "render.sh"


@pytest.fixture(scope="session")
def monitoring_tools() -> None:
    install_monitoring_tools(print)


def run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, env=env)


def alert_names() -> list[str]:
    rules = yaml.safe_load(RULES.read_text())
    return [rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_rules_pass_promtool_check(monitoring_tools: None) -> None:
    result = run(tool("promtool"), "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_names())} rules found" in result.stdout


def test_compose_and_local_prometheus_configs_pass_promtool(monitoring_tools: None, tmp_path: Path) -> None:
    compose_config = run(tool("promtool"), "check", "config", str(MONITORING_DIR / "prometheus.yml"))
    assert compose_config.returncode == 0, compose_config.stdout + compose_config.stderr
    assert "1 rule files found" in compose_config.stdout

    local = tmp_path / "prometheus.yml"
    targets = ScrapeTargets(processor=["127.0.0.1:9102"], producers=["127.0.0.1:9103"], api=["127.0.0.1:8000"])
    local.write_text(
        prometheus_config(
            targets, prometheus="127.0.0.1:9090", alertmanager="127.0.0.1:9095", rule_files=sorted(RULES_DIR.glob("*"))
        )
    )
    local_config = run(tool("promtool"), "check", "config", str(local))
    assert local_config.returncode == 0, local_config.stdout + local_config.stderr
    compose_jobs = {
        job["job_name"] for job in yaml.safe_load((MONITORING_DIR / "prometheus.yml").read_text())["scrape_configs"]
    }
    local_jobs = {job["job_name"] for job in json.loads(local.read_text())["scrape_configs"]}
    assert local_jobs <= compose_jobs, "the local stack's jobs are named as in compose (rules match on job)"


def test_every_alert_fires_and_stays_silent_in_promtool_unit_tests(monitoring_tools: None) -> None:
    result = run(tool("promtool"), "test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout

    cases = [case for test in yaml.safe_load(RULE_TESTS.read_text())["tests"] for case in test["alert_rule_test"]]
    for name in alert_names():
        own = [case for case in cases if case["alertname"] == name]
        assert any(case["exp_alerts"] for case in own), f"no test shows {name} firing"
        assert any(not case["exp_alerts"] for case in own), f"no test shows {name} silent"


def test_every_alert_has_severity_service_and_text() -> None:
    rules = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            labels = rule.get("labels", {})
            assert labels.get("severity") in {"critical", "warning"}, rule["alert"]
            # TargetDown derives `service` from the job in its expression.
            assert "service" in labels or '"service"' in rule["expr"], rule["alert"]
            assert rule["annotations"]["summary"], rule["alert"]


SMTP_ENV = {
    "WEARSTREAM_SMTP_HOST": "mail.example.org",
    "WEARSTREAM_SMTP_PORT": "587",
    "WEARSTREAM_SMTP_FROM_ADDRESS": "alerts@example.org",
    "WEARSTREAM_SMTP_USERNAME": "alerts",
    "WEARSTREAM_SMTP_STARTTLS": "true",
    "SMTP_PASSWORD_FILE": "/run/secrets/smtp_password",
    "ALERT_EMAIL_TO": "oncall@example.org",
}


def render_with_sh(tmp_path: Path, env: dict[str, str]) -> str:
    out = tmp_path / "rendered" / "alertmanager.yml"
    out.parent.mkdir(exist_ok=True)
    result = run("sh", str(RENDER_SH), str(ALERTMANAGER_TEMPLATE), str(out), env={"PATH": os.environ["PATH"], **env})
    assert result.returncode == 0, result.stderr
    return out.read_text()


def test_alertmanager_config_renders_from_the_environment_and_passes_amtool(
    monitoring_tools: None, tmp_path: Path
) -> None:
    python_rendered = render_alertmanager_config(ALERTMANAGER_TEMPLATE.read_text(), SMTP_ENV)
    assert render_with_sh(tmp_path, SMTP_ENV) == python_rendered, "render.sh (compose) and Python (local) agree"
    assert render_with_sh(tmp_path, {}) == render_alertmanager_config(ALERTMANAGER_TEMPLATE.read_text(), {})
    config = yaml.safe_load(python_rendered)
    assert config["global"]["smtp_smarthost"] == "mail.example.org:587"
    assert config["global"]["smtp_require_tls"] is True
    assert config["global"]["smtp_auth_password_file"] == "/run/secrets/smtp_password"
    assert "smtp_auth_password" not in config["global"], "no password in the configuration itself"
    path = tmp_path / "alertmanager.yml"
    path.write_text(python_rendered)
    result = run(tool("amtool"), "check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 inhibit rules" in result.stdout


def test_render_sh_keeps_the_smtp_password_in_a_private_file(tmp_path: Path) -> None:
    rendered = yaml.safe_load(render_with_sh(tmp_path, {"WEARSTREAM_SMTP_PASSWORD": "s3cret|&x"}))
    secret = Path(rendered["global"]["smtp_auth_password_file"])
    assert secret.read_text() == "s3cret|&x"
    assert secret.stat().st_mode & 0o777 == 0o600
    assert "s3cret" not in (tmp_path / "rendered" / "alertmanager.yml").read_text()


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "alertname=DatabaseUnreachable", "service=processor"], "email-critical"),
        (["severity=critical", "alertname=TargetDown", "service=api"], "email-critical"),
        (["severity=warning", "alertname=ConsumerLagHigh", "service=processor"], "log-only"),
        (["severity=warning", "alertname=ParticipantSilent", "service=participants", "participant=P1"], "log-only"),
    ],
)
def test_routes_send_critical_alerts_by_email(
    monitoring_tools: None, tmp_path: Path, labels: list[str], receiver: str
) -> None:
    path = tmp_path / "alertmanager.yml"
    path.write_text(render_alertmanager_config(ALERTMANAGER_TEMPLATE.read_text(), SMTP_ENV))
    result = run(tool("amtool"), "config", "routes", "test", f"--config.file={path}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Alertmanager on loopback, started by the local stack's code; yields its base URL."""
    install_monitoring_tools(print)
    server = AlertmanagerServer(state_dir=tmp_path_factory.mktemp("am"), port=free_port(), environ={})
    server.start(print)
    try:
        yield f"http://{server.address}"
    finally:
        server.stop(print)


def post_alerts(base: str, alerts: list[dict[str, Any]]) -> None:
    request = urllib.request.Request(
        f"{base}/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def alert(name: str, severity: str, service: str, *, ends: datetime) -> dict[str, Any]:
    return {
        "labels": {"alertname": name, "severity": severity, "service": service},
        "annotations": {"summary": name},
        "startsAt": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "endsAt": ends.isoformat(),
    }


def states(base: str) -> dict[str, tuple[str, list[str]]]:
    with urllib.request.urlopen(f"{base}/api/v2/alerts", timeout=5) as response:
        body = json.load(response)
    return {
        f"{a['labels']['alertname']}/{a['labels']['service']}": (a["status"]["state"], a["status"]["inhibitedBy"])
        for a in body
    }


def wait_for(base: str, expected: dict[str, str], timeout_s: float = 15.0) -> dict[str, tuple[str, list[str]]]:
    deadline = time.monotonic() + timeout_s
    seen: dict[str, tuple[str, list[str]]] = {}
    while time.monotonic() < deadline:
        seen = states(base)
        if {key: seen.get(key, ("absent", []))[0] for key in expected} == expected:
            return seen
        time.sleep(0.2)
    raise AssertionError(f"expected {expected}, Alertmanager shows {seen}")


def test_a_critical_alert_mutes_the_warnings_of_its_service_only_while_it_fires(alertmanager: str) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    post_alerts(
        alertmanager,
        [
            alert("DatabaseUnreachable", "critical", "processor", ends=later),
            alert("ConsumerLagHigh", "warning", "processor", ends=later),
            alert("ApiLatencyHigh", "warning", "api", ends=later),
        ],
    )
    seen = wait_for(
        alertmanager,
        {
            "DatabaseUnreachable/processor": "active",
            "ConsumerLagHigh/processor": "suppressed",
            "ApiLatencyHigh/api": "active",  # another service: not muted
        },
    )
    assert seen["ConsumerLagHigh/processor"][1], "suppressed by an inhibition (not a silence)"

    # The critical alert resolves: the warning is shown again.
    post_alerts(alertmanager, [alert("DatabaseUnreachable", "critical", "processor", ends=datetime.now(UTC))])
    seen = wait_for(alertmanager, {"ConsumerLagHigh/processor": "active", "ApiLatencyHigh/api": "active"})
    assert seen["ConsumerLagHigh/processor"][1] == []
