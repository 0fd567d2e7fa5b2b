"""Every dashboard in grafana/ is one Grafana accepts, checked against grafana-foundation-sdk's dashboard model
(Grafana's own schema, generated from its CUE definitions): every field known to the model and of its type,
every panel type a Grafana panel plugin, every query on a provisioned datasource."""

from __future__ import annotations

import copy
import enum
import json
import re
import types
import typing
from pathlib import Path
from typing import Any, Final

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.cog.runtime import Runtime, UnknownDataquery
from grafana_foundation_sdk.models.dashboard import Dashboard

GRAFANA = Path(__file__).resolve().parents[2] / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "wearstream.yaml"

# Fields Grafana itself writes that the schema leaves out: the built-in annotation's marker, a query
# variable's display text, and a datasource-query annotation's query (the schema types `target` as the
# dashboard-native annotation filter; Grafana keeps the datasource's own query there).
NOT_IN_SCHEMA: Final = (
    "$.annotations.list[].builtIn",
    "$.annotations.list[].rawQuery",
    "$.annotations.list[].target.",
    "$.templating.list[].definition",
)

register_default_plugins()


def provisioned_datasources() -> dict[str, str]:
    """uid → type of the datasources Grafana is provisioned with."""
    config = yaml.safe_load(DATASOURCES.read_text())
    return {source["uid"]: source["type"] for source in config["datasources"]}


def lost_fields(original: Any, round_trip: Any, path: str = "$") -> list[str]:
    """Paths of what the model did not keep: a field it does not know, or a value it read differently."""
    if isinstance(original, dict):
        if not isinstance(round_trip, dict):
            return [f"{path}: not an object in the model"]
        return [
            problem
            for key, value in original.items()
            for problem in (
                lost_fields(value, round_trip[key], f"{path}.{key}")
                if key in round_trip
                else []
                if _written_by_grafana(f"{path}.{key}")
                else [f"{path}.{key}: unknown field"]
            )
        ]
    if isinstance(original, list):
        if not isinstance(round_trip, list) or len(original) != len(round_trip):
            return [f"{path}: list not kept"]
        return [
            p
            for i, (a, b) in enumerate(zip(original, round_trip, strict=True))
            for p in lost_fields(a, b, f"{path}[{i}]")
        ]
    return [] if original == round_trip else [f"{path}: {original!r} read as {round_trip!r}"]


def _written_by_grafana(path: str) -> bool:
    general = re.sub(r"\[\d+\]", "[]", path)
    return any(
        general == allowed or (allowed.endswith(".") and general.startswith(allowed)) for allowed in NOT_IN_SCHEMA
    )


def type_errors(value: Any, hint: Any, path: str) -> list[str]:
    """Where a decoded value does not have the type the model declares (the SDK's decoding does not check)."""
    origin = typing.get_origin(hint)
    if hint is Any or hint is object:
        return []
    if origin in (typing.Union, types.UnionType):
        options = [option for option in typing.get_args(hint) if value is None or option is not type(None)]
        errors = [type_errors(value, option, path) for option in options]
        if any(not option_errors for option_errors in errors):
            return []
        # Report inside the one option the value is an instance of (a Panel among Panel | RowPanel), if any.
        matching = [e for option, e in zip(options, errors, strict=True) if _is_model_of(value, option)]
        return (
            matching[0]
            if len(matching) == 1
            else errors[0]
            if len(errors) == 1
            else [f"{path}: {value!r} is not {hint}"]
        )
    if origin is typing.Literal:
        return [] if value in typing.get_args(hint) else [f"{path}: {value!r} is not one of {typing.get_args(hint)}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {value!r}"]
        (item,) = typing.get_args(hint)
        return [e for i, v in enumerate(value) for e in type_errors(v, item, f"{path}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {value!r}"]
        _, item = typing.get_args(hint)
        return [e for k, v in value.items() for e in type_errors(v, item, f"{path}.{k}")]
    if hint is type(None):
        return [] if value is None else [f"{path}: expected null"]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return [] if value in {member.value for member in hint} else [f"{path}: {value!r} is not a {hint.__name__}"]
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a number, got {value!r}"]
    if hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected an integer, got {value!r}"]
    if hint in (str, bool):
        return [] if isinstance(value, hint) else [f"{path}: expected {hint.__name__}, got {value!r}"]
    if isinstance(hint, type):
        if not isinstance(value, hint):
            return [f"{path}: expected {hint.__name__}, got {value!r}"]
        return model_type_errors(value, path)
    return []


def _is_model_of(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint) or hint
    return isinstance(origin, type) and isinstance(value, origin)


def model_type_errors(model: Any, path: str = "$") -> list[str]:
    if isinstance(model, UnknownDataquery):
        return []
    hints = typing.get_type_hints(type(model))
    return [e for name, hint in hints.items() for e in type_errors(getattr(model, name, None), hint, f"{path}.{name}")]


def problems(dashboard_json: dict[str, Any]) -> list[str]:
    """Everything in a dashboard that Grafana's model rejects, or that Grafana could not run."""
    try:
        dashboard = Dashboard.from_json(copy.deepcopy(dashboard_json))
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        return [f"$: does not decode as a Dashboard: {error!r}"]
    round_trip = json.loads(json.dumps(dashboard, cls=JSONEncoder))
    found = lost_fields(dashboard_json, round_trip) + model_type_errors(dashboard)
    sources = provisioned_datasources()
    for index, panel in enumerate(dashboard_json.get("panels", [])):
        where = f"$.panels[{index}]"
        if panel.get("type") != "row" and Runtime().panelcfg_config(panel.get("type", "")) is None:
            found.append(f"{where}.type: {panel.get('type')!r} is not a Grafana panel plugin")
        for target_index, target in enumerate(panel.get("targets", [])):
            source = target.get("datasource") or panel.get("datasource")
            if not isinstance(source, dict) or sources.get(str(source.get("uid"))) != source.get("type"):
                found.append(f"{where}.targets[{target_index}].datasource: {source!r} is not provisioned")
    return found


def load(path: Path) -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(path.read_text())
    return dashboard


def test_the_dashboards_are_found() -> None:
    assert {path.name for path in DASHBOARDS} >= {"cohort-adherence.json", "participant.json", "pipeline.json"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_each_dashboard_matches_grafanas_model(path: Path) -> None:
    assert problems(load(path)) == []


def broken(change: str) -> dict[str, Any]:
    dashboard = load(GRAFANA / "dashboards" / "pipeline.json")
    panel = dashboard["panels"][0]
    if change == "unknown panel type":
        panel["type"] = "timeseries-v2"
    elif change == "unknown field":
        panel["gridPoss"] = panel.pop("gridPos")
    elif change == "bad field type":
        panel["gridPos"]["h"] = "8"
    elif change == "bad enum value":
        dashboard["graphTooltip"] = 7
    elif change == "missing datasource":
        panel.pop("datasource")
        for target in panel["targets"]:
            target.pop("datasource", None)
    elif change == "unprovisioned datasource":
        panel["datasource"] = {"type": "prometheus", "uid": "someone-elses-prometheus"}
        for target in panel["targets"]:
            target.pop("datasource", None)
    return dashboard


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("unknown panel type", "$.panels[0].type: 'timeseries-v2' is not a Grafana panel plugin"),
        ("unknown field", "$.panels[0].gridPoss: unknown field"),
        ("bad field type", "$.panels[0].grid_pos.h: expected an integer, got '8'"),
        ("bad enum value", "$.graph_tooltip: 7 is not a DashboardCursorSync"),
        ("missing datasource", "$.panels[0].targets[0].datasource: None is not provisioned"),
        ("unprovisioned datasource", "$.panels[0].targets[0].datasource: {'type': 'prometheus', 'uid': 'someone-elses"),
    ],
)
def test_a_broken_copy_is_rejected_for_its_fault(change: str, reason: str) -> None:
    found = problems(broken(change))
    assert any(problem.startswith(reason) for problem in found), found
