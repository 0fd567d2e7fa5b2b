"""What `wearstream stack status` reports for each component."""

from __future__ import annotations

import msgspec


class ComponentStatus(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    address: str
    version: str
    up: bool
    managed: bool
    """Started by this stack (and so stopped by `stack down`)."""

    def line(self) -> str:
        state = "" if self.up else " DOWN"
        return f"{self.name} {self.address} {self.version}{state}"
