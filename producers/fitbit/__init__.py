"""Fitbit Web API JSON importer: exported files of one participant's device → ReadingBatches.

    result = import_files(["hr.json", "sleep.json"], participant_id="p-001", device_id="charge6-1",
                          timezone="America/Los_Angeles")

What is accepted (detected from the content, never from the file name):
- layouts (`decode.py`): one Web API response object (`web_api`), or a JSON array of such responses, one per
  day, as wearipedia returns and the Snyder lab challenge dumped them (`wearipedia`; also what Fitbit's
  SpO2 / HRV interval endpoints answer); wearipedia's `{"heart_rate_day": [response]}` wrapper is unwrapped;
- responses (`detect.py`, `shapes.py`): intraday heart rate, steps, active zone minutes, SpO2, HRV and
  breathing rate, and sleep logs v1.2 ("stages" and "classic"); the device's daily values (step totals,
  resting heart rate, SpO2 / HRV / breathing-rate summaries) as `ImportResult.device_daily`, never as
  readings; what has no home (the AZM summary without intraday data, Fitbit error bodies) is skipped with a
  warning naming file, JSON path and reason;
- a folder stands for the `*.json` files under it;
- times are the wearer's local wall clock, converted with `timezone` (`localtime.py`: DST rules).

How readings are derived is in `parse/` (one module per export family) and `sleep.py`; batching,
de-duplication and the all-or-nothing contract in `importer.py`.
"""

from producers.fitbit.decode import Layout
from producers.fitbit.errors import FitbitImportError, ImportArgumentError, ImportFileError
from producers.fitbit.importer import FileSummary, ImportResult, Skipped, import_files
from producers.fitbit.shapes import DataType

__all__ = [
    "DataType",
    "FileSummary",
    "FitbitImportError",
    "ImportArgumentError",
    "ImportFileError",
    "ImportResult",
    "Layout",
    "Skipped",
    "import_files",
]
