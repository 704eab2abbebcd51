"""bench/run.py's results as markdown: one table per part, each contender's median against the limit of the same run.

A run is a dict (bench/run.py's ``summary``): ``contender``, ``units`` (rows or changes it moved), ``subset``
(True when it ran on the first ``units`` of the data only), ``seconds``, ``cpu_seconds``, ``peak_rss_mib``,
``other_cores`` (CPU other processes used meanwhile, in cores), ``load_before`` (1-minute load average) and ``ok``.
Ratios compare rates (units per second), so a contender that ran on a subset compares too; the table says so.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

DOCS_BEGIN = "<!-- bench/run.py: begin -->"
DOCS_END = "<!-- bench/run.py: end -->"


def rate(run: dict[str, Any]) -> float:
    return run["units"] / run["seconds"] if run["seconds"] else 0.0


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median rate (the lower one of an even count)."""
    middle = statistics.median_low(rate(r) for r in runs)
    return next(r for r in runs if rate(r) == middle)


def ratio(run: dict[str, Any], limit: dict[str, Any] | None) -> str:
    """The run's rate as a multiple of the limit's, e.g. '0.63×'."""
    if limit is None or not rate(limit):
        return "–"
    return f"{rate(run) / rate(limit):.2f}×"


def cpu_ratio(run: dict[str, Any], limit: dict[str, Any] | None) -> str:
    """CPU per unit of the limit ÷ the run's: how much of the limit's CPU efficiency the run reaches."""
    if limit is None or not run["cpu_seconds"] or not run["units"] or not limit["units"]:
        return "–"
    return f"{(limit['cpu_seconds'] / limit['units']) / (run['cpu_seconds'] / run['units']):.2f}×"


def contender_table(
    title: str, unit: str, limit_name: str, runs_by: dict[str, list[dict[str, Any]]], total: int
) -> list[str]:
    """Rows: contenders in the order run; columns: median rate, × the limit, seconds and load of every round."""
    limit = median_run(runs_by[limit_name]) if runs_by.get(limit_name) else None
    lines = [
        f"| {title} | {unit}/s | × {limit_name} | data | seconds (rounds) | peak RSS MiB | CPU s "
        f"| × {limit_name}'s CPU/{unit[:-1]} | load avg (rounds) | others, cores (rounds) | ok |",
        "|---|--:|--:|---|---|--:|--:|--:|---|---|---|",
    ]
    for name, runs in runs_by.items():
        if not runs:
            continue
        m = median_run(runs)
        data = f"first {m['units']:,}" if m.get("subset") else f"all {total:,}"
        seconds = " / ".join(f"{r['seconds']:.1f}" for r in runs)
        loads = " / ".join(f"{r['load_before']:.1f}" for r in runs)
        others = " / ".join(f"{r['other_cores']:.2f}" for r in runs)
        lines.append(
            f"| {name} | {round(rate(m)):,} | {ratio(m, limit)} | {data} | {seconds} | {m['peak_rss_mib']:.0f} "
            f"| {m['cpu_seconds']:.1f} | {cpu_ratio(m, limit)} | {loads} | {others} | {all(r['ok'] for r in runs)} |"
        )
    return [*lines, ""]


def memory_table(series: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| memory series | rows | rows/s | × mariadb-client | peak RSS MiB | load avg | others (cores) |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for size in sorted({s["size"] for s in series}):
        at = {s["contender"]: s for s in series if s["size"] == size}
        limit = at.get("mariadb-client")
        for name, s in at.items():
            lines.append(
                f"| {name} | {size:,} | {round(rate(s)):,} | {ratio(s, limit)} | {s['peak_rss_mib']:.0f} "
                f"| {s['load_before']:.1f} | {s['other_cores']:.2f} |"
            )
    return [*lines, ""]


def disk_reads_line(runs: list[dict[str, Any]]) -> list[str]:
    """What the server read from disk during the runs above (0: it served every row from its buffer pool)."""
    reads = [r["server_disk_reads"] for r in runs if "server_disk_reads" in r]
    if not reads:
        return []
    return [f"InnoDB pages the server read from disk during a run above: at most {max(reads):,}.", ""]


def markdown(result: dict[str, Any]) -> str:
    env = result["environment"]
    lines = [
        f"Run of {env['date']} ({result['command']}), {env['nproc']} cores ({env['cpu_model']}), MariaDB "
        f"{env['mariadb']}, commit {env['commit'][:10]}; {result['rounds']} interleaved rounds, medians; "
        f"{result.get('total_seconds', '?')} s in all. 'data' says when a slow contender read only the first rows "
        "or changes of the same data (its rate is what it reached on them); 'load avg' is the machine's 1-minute "
        "load average before each round's run, 'others' the CPU (in cores) other processes on the shared machine "
        "used during it: the load each figure was measured under.",
        "",
    ]
    full = result.get("full_load")
    if full:
        lines += [f"Full load of `orders`, {result['orders']:,} rows (12 columns), local Parquet:", ""]
        lines += contender_table("full load", "rows", "mariadb-client", full, result["orders"])
        lines += disk_reads_line([r for runs in full.values() for r in runs])
    if result.get("memory_series"):
        lines += memory_table(result["memory_series"])
        lines += disk_reads_line(result["memory_series"])
    for name, part in result.get("cdc", {}).items():
        w = part["workload"]
        changes = w["inserts"] + w["updates"] + w["deletes"]
        lines += [
            f"CDC, {name}: {changes:,} row changes ({w['inserts']:,} I, {w['updates']:,} U, {w['deletes']:,} D) in "
            f"{w['transactions']:,} transactions, {w['binlog_bytes'] / 1024 / 1024:.0f} MiB of binlog, read over TCP:",
            "",
        ]
        lines += contender_table("CDC", "changes", "mariadb-binlog", part["runs"], changes)
        failed = [r for runs in part.get("failed", {}).values() for r in runs]
        if failed:
            reasons = "; ".join(f"{r['contender']}: {r['error']}" for r in failed)
            lines += [f"Not finished (left out of the medians): {reasons}.", ""]
    return "\n".join(lines).rstrip() + "\n"


def replace_section(doc: str, text: str) -> str:
    """``doc`` with the text between the markers replaced by ``text`` (the markers must be there)."""
    begin, end = doc.index(DOCS_BEGIN) + len(DOCS_BEGIN), doc.index(DOCS_END)
    return doc[:begin] + "\n" + text + doc[end:]


def write_docs(path: Path, text: str) -> None:
    path.write_text(replace_section(path.read_text(), text))
