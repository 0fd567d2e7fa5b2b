"""How a plan shows its progress: finished participants on a tqdm bar, or nothing."""

from __future__ import annotations

from typing import Any


class Progress:
    """Counts finished units of work; with `show`, on a tqdm bar (a notebook widget where available)."""

    def __init__(self, show: bool, total: int, what: str) -> None:
        self._bar: Any = None
        if show:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=what, unit="participant")

    def advance(self, rows: int = 0) -> None:
        if self._bar is not None:
            self._bar.update(1)
            if rows:
                self._bar.set_postfix(rows=rows, refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
