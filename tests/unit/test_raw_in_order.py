"""`in_order` — the readings of a window, ordered by time and value — gives what a sort of the masked readings
gives, whether the decoded times are strictly increasing (a slice) or not (repeated or out-of-order times,
extra columns), for windows inside, around, between and outside the readings."""

from __future__ import annotations

import numpy as np
import pytest

from api.series.raw import Decoded, in_order


def _sorted_reference(decoded: Decoded, low_ms: int, high_ms: int) -> Decoded:
    keep = np.flatnonzero((decoded.times >= low_ms) & (decoded.times < high_ms))
    return decoded.select(keep[np.lexsort((decoded.values[keep], decoded.times[keep]))])


def _decoded(rng: np.random.Generator, n: int, kind: str) -> Decoded:
    times = 1_700_000_000_000 + np.cumsum(rng.integers(1, 3000, n))
    if kind == "repeated" and n > 1:
        picks = rng.integers(1, n, max(1, n // 10))
        times[picks] = times[picks - 1]
    elif kind == "shuffled":
        rng.shuffle(times)
    values = rng.integers(40, 200, n).astype(np.float64)
    extra = [rng.normal(size=n).astype(np.float32), rng.normal(size=n).astype(np.float32)]
    return Decoded(times.astype(np.int64), values, extra, rng.random(n) < 0.5)


@pytest.mark.parametrize("kind", ["increasing", "repeated", "shuffled"])
def test_in_order_equals_a_sort_of_the_window(kind: str) -> None:
    rng = np.random.default_rng(7)
    for n in (0, 1, 2, 5, 300, 4000):
        decoded = _decoded(rng, n, kind)
        first = int(decoded.times.min()) if n else 0
        last = int(decoded.times.max()) if n else 0
        windows = [(first, last + 1), (first - 10, first), (last + 1, last + 99), (first + 1, last), (last, last)]
        windows += [tuple(sorted(rng.integers(first - 5, last + 5, 2).tolist())) for _ in range(20)] if n else []
        for low, high in windows:
            got, want = in_order(decoded, low, high), _sorted_reference(decoded, low, high)
            assert got.times.tolist() == want.times.tolist()
            assert got.values.tolist() == want.values.tolist()
            assert [c.tobytes() for c in got.extra] == [c.tobytes() for c in want.extra]
            assert got.has_extra.tolist() == want.has_extra.tolist()
