"""A seeded generator of hostile ReadingBatch messages (and good ones), shared by the unit and integration
fuzz tests. Each message carries what a correct processor must do with it."""

from __future__ import annotations

import random
from typing import Final, Literal

import msgspec
import numpy as np

from schemas.metrics import METRICS
from schemas.readings import TIMESTAMP_DTYPE, encode_batch, make_batch
from stream_processors.validate import MAX_READINGS

HUGE_COLUMN: Final = b"\x00" * ((MAX_READINGS + 1) * TIMESTAMP_DTYPE.itemsize)
Expect = Literal["store", "dead-letter"]
KINDS: Final = (
    "random_bytes",
    "truncated",
    "wrong_types",
    "nul",
    "bad_zone",
    "bad_id",
    "mismatched_columns",
    "huge",
    "extreme_timestamps",
    "extreme_sync_time",
    "wrong_metric",
)
ZONES: Final = ("", "UTC", "Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe")
BAD_ZONES: Final = ("Mars/Olympus_Mons", "../../etc/passwd", "Europe/London\x00", "utc ", "GMT+25", "\x00", "x" * 300)


class Generated(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    payload: bytes
    expect: Expect
    participant_id: str = ""
    readings: int = 0


def good_values(metric: str, n: int, rng: random.Random) -> np.ndarray:
    spec = METRICS[metric]
    lo, hi = spec.min_value, spec.max_value
    draw = np.random.default_rng(rng.getrandbits(32))
    if np.dtype(spec.wire_dtype).kind == "i":
        return draw.integers(int(lo), int(hi), endpoint=True, size=n)
    return np.round(draw.uniform(lo, hi, size=n), 1)


class HostileGenerator:
    def __init__(self, seed: int, *, now_ms: int) -> None:
        self.rng = random.Random(seed)
        self.now_ms = now_ms
        self.serial = 0

    def good(self, metric: str, *, participant_id: str | None = None, n: int | None = None) -> Generated:
        rng = self.rng
        self.serial += 1
        pid = participant_id or f"P{rng.randint(0, 99):04d}"
        count = n if n is not None else rng.randint(1, 120)
        start = self.now_ms - 25 * 86_400_000 + (self.serial % 8000) * 200_000 + rng.randint(0, 199) * 1000
        ts = start + np.arange(count, dtype=np.int64) * 1000
        spec = METRICS[metric]
        extra = {c: np.full(count, 0.5 if c != "stage" else 2.0) for c in spec.extra_columns} or None
        batch = make_batch(
            participant_id=pid,
            metric=metric,
            device_id=rng.choice(["", "fitbit-0001-00ab12", "charge6-1"]),
            sync_time=int(ts[-1]) + 1000,
            timestamps=ts,
            values=good_values(metric, count, rng),
            extra=extra,  # type: ignore[arg-type]
            timezone=rng.choice(ZONES),
        )
        return Generated(kind="good", payload=encode_batch(batch), expect="store", participant_id=pid, readings=count)

    def bad(self, metric: str, kind: str | None = None) -> Generated:
        rng = self.rng
        kind = kind or rng.choice(KINDS)
        fields = msgspec.msgpack.decode(self.good(metric).payload)
        if kind == "random_bytes":
            payload = rng.randbytes(rng.randint(0, 300))
        elif kind == "truncated":
            full = msgspec.msgpack.encode(fields)
            payload = full[: rng.randint(0, len(full) - 1)]
        elif kind == "wrong_types":
            field = rng.choice(sorted(fields))
            text_fields = ("participant_id", "metric", "device_id", "batch_id", "timezone")
            wrong = [None, 3.5, [1, 2], {"a": 1}, True, *(() if field in text_fields else ("text",))]
            fields[field] = rng.choice(wrong)
            payload = msgspec.msgpack.encode(fields)
        elif kind == "nul":
            field = rng.choice(["participant_id", "device_id", "batch_id"])
            value = fields[field] or "d"
            cut = rng.randint(0, len(value))
            fields[field] = value[:cut] + "\x00" + value[cut:]
            payload = msgspec.msgpack.encode(fields)
        elif kind == "bad_zone":
            fields["timezone"] = rng.choice(BAD_ZONES)
            payload = msgspec.msgpack.encode(fields)
        elif kind == "bad_id":
            field = rng.choice(["participant_id", "device_id", "batch_id"])
            hostile_ids = ["P 1", "x" * 129, "P1;DROP TABLE raw_segments", "-P1", "Pé", "P1\n", "\u202eP1"]
            fields[field] = rng.choice(hostile_ids)
            payload = msgspec.msgpack.encode(fields)
        elif kind == "mismatched_columns":
            choice = rng.randint(0, 3)
            if choice == 0:  # one timestamp more than values
                fields["timestamps"] += np.array([self.now_ms], dtype=TIMESTAMP_DTYPE).tobytes()
            elif choice == 1:
                fields["timestamps"] = fields["timestamps"][:-3]
            elif choice == 2:
                fields["extra"] = {**fields["extra"], "surprise": b"\x00\x00\x80\x3f"}
            else:
                fields["values"] += b"\x01" * (np.dtype(METRICS[metric].wire_dtype).itemsize * 3)
            payload = msgspec.msgpack.encode(fields)
        elif kind == "huge":
            fields["timestamps"] = HUGE_COLUMN
            payload = msgspec.msgpack.encode(fields)
        elif kind == "extreme_timestamps":
            n = len(fields["timestamps"]) // 8
            extreme = [np.iinfo(np.int64).min, np.iinfo(np.int64).max, 0, -1, 10**18, self.now_ms + 400 * 86_400_000]
            fields["timestamps"] = np.array([rng.choice(extreme) for _ in range(n)], dtype=TIMESTAMP_DTYPE).tobytes()
            payload = msgspec.msgpack.encode(fields)
        elif kind == "extreme_sync_time":
            fields["sync_time"] = rng.choice([0, -1, -(2**63), 2**63 - 1, 2**64 - 1, self.now_ms + 400 * 86_400_000])
            payload = msgspec.msgpack.encode(fields)
        elif kind == "wrong_metric":
            fields["metric"] = rng.choice([m for m in (*METRICS, "blood_pressure", "") if m != metric])
            payload = msgspec.msgpack.encode(fields)
        else:
            raise ValueError(f"unknown kind {kind!r}")
        return Generated(kind=kind, payload=payload, expect="dead-letter")
