"""validate's fast path (every reading kept, checked in whole-array comparisons) gives exactly what the full
per-reading check gives — over clean uploads and over uploads with each kind of bad reading, values at the
range's very edges, times at the enrolment and future limits, repeated and unsorted timestamps."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from schemas.metrics import METRICS
from schemas.readings import ReadingBatch
from stream_processors import validate as validate_module
from stream_processors.errors import InvalidMessage
from stream_processors.validate import DAY_MS, ValidBatch, validate
from tests import factories

NOW = 1_780_000_000_000
ENROLLED = NOW - 20 * DAY_MS


def _outcome(batch: ReadingBatch) -> ValidBatch | str:
    try:
        return validate(
            factories.envelope(batch), expected_metric=batch.metric, now_ms=NOW, enrolment_start_ms={"p-1": ENROLLED}
        )
    except InvalidMessage as error:
        return error.reason


def _batches(metric_name: str, rng: np.random.Generator) -> list[ReadingBatch]:
    metric = METRICS[metric_name]
    found = []
    for k in range(300):
        n = int(rng.integers(1, 400))
        ts = NOW - int(rng.integers(0, 10 * DAY_MS)) + np.cumsum(rng.integers(1, 5000, n))
        values = rng.uniform(metric.min_value, metric.max_value, n)
        defect = k % 8
        if defect == 1:
            values[rng.integers(0, n)] = rng.choice([np.nan, np.inf, -np.inf, metric.max_value + 1e-9])
        elif defect == 2:
            values[[0, -1]] = metric.min_value, metric.max_value
        elif defect == 3:
            ts[-1] = NOW + DAY_MS + int(rng.integers(0, 2))  # at or just past the future limit
        elif defect == 4:
            ts[0] = ENROLLED - DAY_MS - int(rng.integers(0, 2))  # at or just before the enrolment limit
        elif defect == 5 and n > 1:
            ts[1] = ts[0]
        elif defect == 6:
            rng.shuffle(ts)
        extra: dict[str, npt.ArrayLike] = {c: rng.normal(size=n).astype(np.float32) for c in metric.extra_columns}
        found.append(factories.reading_batch("p-1" if k % 2 else "p-2", metric_name, ts, values, extra=extra))
    return found


@pytest.mark.parametrize("metric", list(METRICS))
def test_fast_path_equals_the_full_check(metric: str, monkeypatch: pytest.MonkeyPatch) -> None:
    batches = _batches(metric, np.random.default_rng(len(metric)))
    fast = [_outcome(b) for b in batches]
    kept = [o for o in fast if not isinstance(o, str)]
    taken = [validate_module._all_kept(o.timestamps, o.values, o.metric, NOW + DAY_MS, None) for o in kept]
    monkeypatch.setattr(validate_module, "_all_kept", lambda *_: False)
    full = [_outcome(b) for b in batches]
    assert 50 < sum(taken) < len(batches)
    for a, b in zip(fast, full, strict=True):
        if isinstance(a, str) or isinstance(b, str):
            assert a == b
            continue
        assert a.rejected == b.rejected
        assert a.timestamps.tolist() == b.timestamps.tolist()
        assert a.values.view(np.int64).tolist() == b.values.view(np.int64).tolist()
        assert {c: v.tobytes() for c, v in a.extra.items()} == {c: v.tobytes() for c, v in b.extra.items()}
