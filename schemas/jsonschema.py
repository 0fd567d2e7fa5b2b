"""JSON Schema of every wire message, for documentation: `python -m schemas.jsonschema` writes docs/schemas/.

The wire encoding is msgpack; the schemas describe the same fields (byte columns appear as base64 strings).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import msgspec

from schemas.device_daily import DeviceDaily
from schemas.events import GapEvent, LiveUpdate
from schemas.participants import Participant
from schemas.readings import ReadingBatch
from schemas.watermarks import Watermark

DOCS: Final = Path(__file__).parent.parent / "docs" / "schemas"
MESSAGES: Final[dict[str, Any]] = {
    "reading_batch": ReadingBatch,
    "participant": Participant,
    "gap_event": GapEvent,
    "live_update": LiveUpdate,
    "watermark": Watermark,
    "device_daily": DeviceDaily,
}


def rendered() -> dict[str, str]:
    """File name → schema text."""
    return {
        f"{name}.schema.json": json.dumps(msgspec.json.schema(message), indent=2, sort_keys=True) + "\n"
        for name, message in MESSAGES.items()
    }


def main() -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    for name, text in rendered().items():
        (DOCS / name).write_text(text)
        print(DOCS / name)


if __name__ == "__main__":
    main()
