"""The parsers' result: one metric's columns from one file."""

from __future__ import annotations

import msgspec
import numpy as np
import numpy.typing as npt

from schemas.device_daily import DeviceDailyValue


class Readings(msgspec.Struct, frozen=True, kw_only=True):
    """One metric's readings from one file, in file order; `timestamps` are UTC epoch ms."""

    metric: str
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    extra: dict[str, npt.NDArray[np.float64]] = {}
    daily: tuple[DeviceDailyValue, ...] = ()
    """Daily values the device reported in the same responses (stored as such, beside the readings)."""

    def __len__(self) -> int:
        return int(self.timestamps.size)


def cat_int64(arrays: list[npt.NDArray[np.int64]]) -> npt.NDArray[np.int64]:
    return np.concatenate(arrays) if arrays else np.empty(0, dtype=np.int64)


def cat_float64(arrays: list[npt.NDArray[np.float64]]) -> npt.NDArray[np.float64]:
    return np.concatenate(arrays) if arrays else np.empty(0, dtype=np.float64)
