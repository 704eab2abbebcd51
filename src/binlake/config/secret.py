"""Secrets are read from an environment variable or a file at use, never stored or printed."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from binlake.errors import BinlakeError


class Secret:
    """A value that never shows itself in repr, str or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


@dataclass(frozen=True)
class SecretRef:
    """Where a secret lives: ``env:NAME`` or ``file:/path``. Only the reference is stored."""

    kind: str
    location: str

    @classmethod
    def parse(cls, text: str) -> SecretRef:
        kind, _, location = text.partition(":")
        if kind not in ("env", "file") or not location:
            raise BinlakeError(f"bad secret reference {text!r}", fix="use env:VARIABLE or file:/path/to/file")
        return cls(kind, location)

    def __str__(self) -> str:
        return f"{self.kind}:{self.location}"

    def resolve(self) -> Secret:
        if self.kind == "env":
            value = os.environ.get(self.location)
            if value is None:
                raise BinlakeError(
                    f"environment variable {self.location} is not set",
                    fix=f"export {self.location}=... before running binlake",
                )
            return Secret(value)
        path = Path(self.location)
        try:
            return Secret(path.read_text().rstrip("\r\n"))
        except OSError as exc:
            raise BinlakeError(
                f"cannot read password file {path}: {exc.strerror}",
                fix="pass --password-file with a readable file",
            ) from None
