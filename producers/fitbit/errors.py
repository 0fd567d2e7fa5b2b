"""Errors of the Fitbit importer.

Every problem with an input file surfaces as one `ImportFileError` naming the file, the JSON path of the
offending element and the reason, so a study coordinator can open the file at that spot. Import is
all-or-nothing: when any file raises, no batch from any file is returned.
"""

from __future__ import annotations


class FitbitImportError(Exception):
    """Base class of the importer's errors; all are fatal for the import that raised them (never retried)."""


class ImportFileError(FitbitImportError):
    """A file is unreadable, not JSON, of an unknown shape, or has a missing or mistyped field.

    `json_path` is in bracket notation from the file's root, e.g.
    `$[3]["activities-heart-intraday"]["dataset"][17]["value"]`; `$` means the file as a whole.
    """

    def __init__(self, path: str, json_path: str, reason: str) -> None:
        super().__init__(path, json_path, reason)
        self.path = path
        self.json_path = json_path
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.json_path}: {self.reason}"


class ImportArgumentError(FitbitImportError, ValueError):
    """An argument of `import_files` is unusable (unknown timezone, empty participant id, no files)."""


class ShapeError(Exception):
    """Raised inside the parsers for a semantic problem at a JSON path relative to one response.

    Internal: the importer re-raises it as `ImportFileError` with the file path and the response's position.
    """

    def __init__(self, json_path: str, reason: str) -> None:
        super().__init__(json_path, reason)
        self.json_path = json_path
        self.reason = reason


class NoHomeError(ShapeError):
    """A well-formed response that wearstream has nowhere to store (a daily summary without intraday data, a
    Fitbit error body): the importer skips it with a warning naming file, JSON path and reason."""
