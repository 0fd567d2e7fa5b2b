"""Errors of the local stack."""

from __future__ import annotations


class StackError(RuntimeError):
    """A component of the local stack could not be installed, started or reached; the message says why."""
