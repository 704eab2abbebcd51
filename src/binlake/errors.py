"""Errors a user sees: one line saying what failed, why, and the fix."""

from __future__ import annotations


class BinlakeError(Exception):
    """A failure caused by input or environment; the CLI prints it as one line, no traceback."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message} (fix: {self.fix})" if self.fix else self.message


class TransientError(BinlakeError):
    """A failure worth retrying with backoff: a lost connection, an S3 5xx."""
