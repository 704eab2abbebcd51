"""What every output path shares, without rich: the ``--output`` choices and the JSON printer."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Any


class Output(StrEnum):
    table = "table"
    json = "json"


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=4, default=str, ensure_ascii=False) + "\n")
