"""End to end against the code before values were kept losslessly, in the same run.

The reference is the commit before the lossless change (`REFERENCE`), checked out once as a git worktree under
`~/.cache/wearstream/` and set up with its own `make setup`. Each pair runs that checkout's own end-to-end
harness (`bench.ingest.end_to_end`: simulator → Kafka → one worker → committed, heart rate, 6 partitions) and
then this checkout's, on the same cohort, against the same Kafka and PostgreSQL; pairs alternate so that drift
in the machine's load hits both alike. Each side runs in a process of its own, started the same way.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Final

from bench.common import Measurement, summarise
from bench.ingest import data_label
from core.settings import Settings

REFERENCE: Final = "57c69479dd7acc44e531b0ed4f3664f25868c883"
"""The parent of the lossless change (bee175e): integer-only wire and raw store."""
HERE: Final = Path(__file__).resolve().parents[1]
CHECKOUT: Final = Path.home() / ".cache" / "wearstream" / f"bench-reference-{REFERENCE[:12]}"

# Runs in either checkout: its own settings module and its own harness.
_DRIVER: Final = """
import asyncio, json, sys, tempfile
from pathlib import Path
try:
    from core.settings import load_settings
except ImportError:
    from wearstream.settings import load_settings
from bench import ingest

found = asyncio.run(ingest.end_to_end(
    load_settings(), participants=int(sys.argv[1]), days=int(sys.argv[2]), metrics=("heart_rate",),
    workers=1, partitions=6, repeats=1, log_dir=Path(tempfile.mkdtemp(prefix="wearstream-bench-ref-"))))
print(json.dumps([m.value for m in found if m.unit == "readings/s"]))
"""


def reference_checkout() -> Path:
    """The reference commit as a set-up worktree of this repository (made once, then reused)."""
    if not (CHECKOUT / ".venv" / "bin" / "python").exists():
        if not CHECKOUT.exists():
            print(f"    checking out {REFERENCE[:12]} into {CHECKOUT}", flush=True)
            CHECKOUT.parent.mkdir(parents=True, exist_ok=True)
            done = subprocess.run(
                ["git", "-C", str(HERE), "worktree", "add", "--detach", str(CHECKOUT), REFERENCE],
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                raise RuntimeError(
                    f"cannot check out the reference commit {REFERENCE[:12]} (a clone with its history is "
                    f"needed): {done.stderr.strip()}"
                )
        print("    setting up the reference checkout (make setup)", flush=True)
        subprocess.run(["make", "setup"], cwd=CHECKOUT, check=True, stdout=subprocess.DEVNULL)
    return CHECKOUT


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _one_run(checkout: Path, python: Path, settings: Settings, participants: int, days: int) -> tuple[float, float]:
    """Readings/s of one end-to-end run, and the CPU seconds of its process tree (harness, producer, worker;
    Kafka and PostgreSQL are not children and are left out)."""
    env = {**os.environ, "WEARSTREAM_DATABASE_URL": settings.database.url}
    cpu_before = _children_cpu_s()
    done = subprocess.run(
        [str(python), "-c", _DRIVER, str(participants), str(days)],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"end to end in {checkout} failed:\n{done.stderr[-4000:]}")
    rates: list[float] = json.loads(done.stdout.strip().splitlines()[-1])
    return rates[0], _children_cpu_s() - cpu_before


async def before_and_after(settings: Settings, *, participants: int, days: int, pairs: int) -> list[Measurement]:
    checkout = reference_checkout()
    before: list[float] = []
    after: list[float] = []
    cpu_before: list[float] = []
    cpu_after: list[float] = []
    for pair in range(1, pairs + 1):
        rate, cpu = _one_run(checkout, checkout / ".venv" / "bin" / "python", settings, participants, days)
        before.append(rate)
        cpu_before.append(cpu)
        rate, cpu = _one_run(HERE, Path(sys.executable), settings, participants, days)
        after.append(rate)
        cpu_after.append(cpu)
        print(
            f"    pair {pair}/{pairs}: before {before[-1]:,.0f}, now {after[-1]:,.0f} readings/s; "
            f"CPU {cpu_before[-1]:.1f} s before, {cpu_after[-1]:.1f} s now",
            flush=True,
        )
    paired = [a / b for a, b in zip(after, before, strict=True)]
    ratio = statistics.median(after) / statistics.median(before)
    label = data_label(participants, days, "heart rate (simulator, whole bpm); 1 worker, 6 partitions")
    note = "producer → Kafka → 1 worker → committed; each checkout's own harness, alternating pairs"
    return [
        summarise(
            "end_to_end.heart_rate.before_lossless", before, "readings/s", data=label, note=f"{REFERENCE[:12]}; {note}"
        ),
        summarise("end_to_end.heart_rate.now", after, "readings/s", data=label, note=f"this checkout; {note}"),
        Measurement(
            name="end_to_end.heart_rate now ÷ before_lossless",
            value=ratio,
            unit="×",
            repeats=paired,
            data=label,
            note=f"medians; paired ratios {', '.join(f'{r:.2f}' for r in paired)} (median "
            f"{statistics.median(paired):.2f}); target ≥ 0.9: " + ("met" if ratio >= 0.9 else "NOT met"),
        ),
        *_cpu_measurements(cpu_before, cpu_after, label),
    ]


def _cpu_measurements(cpu_before: list[float], cpu_after: list[float], label: str) -> list[Measurement]:
    """The same pairs' CPU: what the load of other jobs cannot move (it takes wall time, not CPU time)."""
    note = "CPU seconds (user + system) of each run's process tree: harness, simulator, producer, worker"
    ratio = statistics.median(cpu_before) / statistics.median(cpu_after)
    paired = [b / a for a, b in zip(cpu_after, cpu_before, strict=True)]
    return [
        summarise("end_to_end.heart_rate.before_lossless.cpu", cpu_before, "s", data=label, note=note),
        summarise("end_to_end.heart_rate.now.cpu", cpu_after, "s", data=label, note=note),
        Measurement(
            name="end_to_end.heart_rate CPU before_lossless ÷ now",
            value=ratio,
            unit="×",
            repeats=paired,
            data=label,
            note=f"readings per CPU-second, now ÷ before (medians); paired {', '.join(f'{r:.2f}' for r in paired)} "
            f"(median {statistics.median(paired):.2f})",
        ),
    ]
