"""Options every command shares, fitted onto the built command tree rather than declared in each function:
``--region`` (accepted and ignored, as the README promises) and the default of ``--output``.

``--output`` follows the AWS CLI: JSON unless told otherwise, so ``binlake describe-... | jq`` works as
``aws dms describe-... | jq`` does; on a terminal binlake shows tables. ``BINLAKE_DEFAULT_OUTPUT``
(table, json; csv where a command has it) sets the default everywhere, like ``aws configure set output``.
"""

from __future__ import annotations

import copy
import os
import sys
from enum import Enum
from typing import Any

REGION_HELP = "Accepted for AWS CLI compatibility; ignored."
OUTPUT_ENV = "BINLAKE_DEFAULT_OUTPUT"


def default_output(choices: type[Enum]) -> Enum:
    """The --output default: BINLAKE_DEFAULT_OUTPUT when set, else table on a terminal and json off one."""
    wanted = os.environ.get(OUTPUT_ENV, "").strip().lower()
    values = {member.value: member for member in choices}
    if wanted in values:
        return values[wanted]
    return values["table"] if sys.stdout.isatty() else values["json"]


def _commands(command: Any) -> list[Any]:
    subs = getattr(command, "commands", None)
    if subs is None:
        return [command]
    return [leaf for sub in subs.values() for leaf in _commands(sub)]


def adapt(root: Any) -> None:
    """Give every command ``--region`` and the terminal-aware ``--output`` default."""
    leaves = _commands(root)
    region = next(p for c in leaves for p in c.params if p.name == "region")
    for command in leaves:
        if all(p.name != "region" for p in command.params):
            accepted = copy.copy(region)
            accepted.expose_value = False
            command.params.append(accepted)
        for param in command.params:
            kind = getattr(getattr(param, "type_descriptor", None), "annotation", None)
            if param.name == "output" and isinstance(kind, type) and issubclass(kind, Enum):
                param.default = lambda kind=kind: default_output(kind)
