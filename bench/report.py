"""Writes results: bench/results/<date>.json, a Markdown table beside it, and the README's summary."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Final

import msgspec

from bench.common import Measurement

RESULTS: Final = Path(__file__).parent / "results"
README: Final = Path(__file__).parent.parent / "README.md"
START_MARK: Final = "<!-- bench:start -->"
END_MARK: Final = "<!-- bench:end -->"


class Run(msgspec.Struct, kw_only=True):
    date: str
    machine: dict[str, str]
    seconds: float
    measurements: list[Measurement]
    ratios: dict[str, float]


def ratios(measurements: list[Measurement]) -> dict[str, float]:
    by_name = {m.name: m.value for m in measurements}
    found: dict[str, float] = {}
    ours = next((v for k, v in by_name.items() if k.startswith("end_to_end.heart_rate.w1")), None)
    if ours is not None:
        if "common.insert_per_reading" in by_name:
            found["wearstream ÷ INSERT per reading"] = ours / by_name["common.insert_per_reading"]
        if "common.copy_rows" in by_name:
            found["wearstream ÷ row COPY"] = ours / by_name["common.copy_rows"]
        if "ceiling.copy_segments" in by_name:
            found["wearstream ÷ ceiling (COPY of packed segments)"] = ours / by_name["ceiling.copy_segments"]
    if "storage.rows.heart_rate" in by_name and "storage.wearstream.heart_rate" in by_name:
        found["row layout bytes ÷ wearstream bytes"] = (
            by_name["storage.rows.heart_rate"] / by_name["storage.wearstream.heart_rate"]
        )
    return found


def markdown(run: Run) -> str:
    lines = [
        f"Measured {run.date} on {run.machine['cores']} cores, {run.machine['memory_gib']} GiB "
        f"(Python {run.machine['python']}); the whole run took {run.seconds / 60:.1f} min. "
        "Median of the repeats; spread = max − min.",
        "",
        "| benchmark | result | spread | data | note |",
        "|---|---|---|---|---|",
    ]
    for m in run.measurements:
        value = f"{m.value:,.0f}" if m.value >= 100 else f"{m.value:,.2f}"
        spread = (f"{m.spread:,.0f}" if m.spread >= 100 else f"{m.spread:,.2f}") if m.spread else "—"
        lines.append(f"| {m.name} | {value} {m.unit} | {spread} | {m.data} | {m.note} |")
    if run.ratios:
        lines += ["", "| ratio (same run) | value |", "|---|---|"]
        lines += [f"| {name} | {value:,.1f}× |" for name, value in run.ratios.items()]
    return "\n".join(lines) + "\n"


def write(run: Run, *, update_readme: bool = True) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = run.date.replace(":", "").replace(" ", "T")
    path = RESULTS / f"{stem}.json"
    path.write_bytes(msgspec.json.format(msgspec.json.encode(run)))
    table = markdown(run)
    (RESULTS / f"{stem}.md").write_text(table)
    (RESULTS / "latest.md").write_text(table)
    if update_readme and README.exists():
        text = README.read_text()
        if START_MARK in text and END_MARK in text:
            pattern = re.compile(re.escape(START_MARK) + ".*?" + re.escape(END_MARK), re.S)
            README.write_text(pattern.sub(lambda _: f"{START_MARK}\n{table}{END_MARK}", text))
    return path


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
