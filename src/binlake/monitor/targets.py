"""Targets from the guide's Performance Metrics table, and the guide's Troubleshooting hint when one is missed.

Defaults: CDCLatencySource < 60, CDCLatencyTarget < 60, FullLoadThroughputRowsSource > 1000, CPUUtilization < 80.
Override them in ``<state dir>/monitor.json`` (``{"Targets": {"CDCLatencySource": "< 30"}}``), in the
environment (``BINLAKE_TARGETS='CDCLatencySource<30,CPUUtilization<90'``), or with ``--target`` flags;
later sources win.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from binlake.errors import BinlakeError
from binlake.monitor.metrics import BY_NAME

SETTINGS_FILE = "monitor.json"
DEFAULTS = {
    "CDCLatencySource": "< 60",
    "CDCLatencyTarget": "< 60",
    "FullLoadThroughputRowsSource": "> 1000",
    "CPUUtilization": "< 80",
}
_LAG = (
    "High Replication Lag (guide's Troubleshooting): the guide's 'increase replication instance size' is more CPU "
    "for the task process (see CPUUtilization; one task per source); check the network between the source and "
    "binlake, and look for one very large transaction with binlake logs tail {task}"
)
HINTS = {
    "CDCLatencySource": _LAG,
    "CDCLatencyTarget": _LAG + "; CDCLatencyTarget also waits up to CdcMaxBatchInterval seconds per batch",
    "FullLoadThroughputRowsSource": (
        "Enable parallel load (guide's Troubleshooting): raise FullLoadSettings.MaxFullLoadSubTasks so tables load "
        "in parallel, and check the network bandwidth between the source and binlake"
    ),
    "CPUUtilization": (
        "The guide's 'increase replication instance size': run the task on a faster or less busy machine, lower "
        "FullLoadSettings.MaxFullLoadSubTasks, or split the tables between tasks"
    ),
}
_TARGET = re.compile(r"^\s*([A-Za-z]+)\s*([<>])\s*(-?\d+(?:\.\d+)?)\s*$")
_BOUND = re.compile(r"^\s*([<>])\s*(-?\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True)
class Target:
    metric: str
    operator: str  # '<' or '>'
    value: float

    def met(self, observed: float) -> bool:
        return observed < self.value if self.operator == "<" else observed > self.value

    @property
    def text(self) -> str:
        return f"{self.operator} {self.value:g}"

    def as_json(self) -> dict[str, object]:
        return {"Operator": self.operator, "Value": self.value}


def _known(metric: str, where: str) -> str:
    if metric in BY_NAME:
        return metric
    close = difflib.get_close_matches(metric, list(BY_NAME), n=1)
    raise BinlakeError(
        f"{where}: {metric!r} is not a metric binlake records",
        fix=f"did you mean {close[0]}?" if close else f"use one of {', '.join(BY_NAME)}",
    )


def _bound(metric: str, text: str, where: str) -> Target:
    match = _BOUND.match(str(text))
    if not match:
        raise BinlakeError(f"{where}: target {text!r} for {metric} is not '< N' or '> N'", fix='e.g. "< 60"')
    return Target(_known(metric, where), match.group(1), float(match.group(2)))


def parse_target(text: str, where: str = "--target") -> Target:
    """``CDCLatencySource<30`` or ``FullLoadThroughputRowsSource > 5000``."""
    match = _TARGET.match(text)
    if not match:
        raise BinlakeError(f"{where} {text!r} is not METRIC<N or METRIC>N", fix=f"e.g. {where} 'CDCLatencySource<30'")
    return Target(_known(match.group(1), where), match.group(2), float(match.group(3)))


def load_targets(state_dir: Path, flags: list[str] | None = None) -> dict[str, Target]:
    targets = {name: _bound(name, text, "default") for name, text in DEFAULTS.items()}
    path = state_dir / SETTINGS_FILE
    if path.exists():
        try:
            settings = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise BinlakeError(
                f"cannot read {path}: {exc}", fix='write {"Targets": {"CDCLatencySource": "< 60"}}'
            ) from None
        unknown = set(settings) - {"Targets"} if isinstance(settings, dict) else {"(not an object)"}
        if unknown or not isinstance(settings.get("Targets", {}), dict):
            raise BinlakeError(f"{path}: unknown settings {sorted(unknown)}", fix='only "Targets" is read there')
        for name, text in settings.get("Targets", {}).items():
            targets[name] = _bound(name, text, str(path))
    for text in filter(None, os.environ.get("BINLAKE_TARGETS", "").split(",")):
        target = parse_target(text, "BINLAKE_TARGETS")
        targets[target.metric] = target
    for text in flags or []:
        target = parse_target(text)
        targets[target.metric] = target
    return targets


def hint(metric: str, task: str) -> str:
    return HINTS.get(metric, "see binlake logs tail {task}").format(task=task)
