"""The pure parts of bench/: interleaved rounds, medians and ratios, the markdown tables, the OLTP workload's shape,
and the harness's measurement of a child it watches. No server, no contender: figures here are made up."""

from __future__ import annotations

import random
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import harness
import report
import workload


def test_interleaved_runs_every_contender_once_a_round_and_rotates_the_order() -> None:
    calls: list[tuple[str, int]] = []
    results = harness.interleaved(
        ["a", "b", "c"], 4, lambda name, number: calls.append((name, number)) or name * number, log=lambda _: None
    )
    assert [c for c, _ in calls] == list("abcbcacababc")
    assert [n for _, n in calls] == [1] * 3 + [2] * 3 + [3] * 3 + [4] * 3
    assert results == {
        "a": ["a", "aa", "aaa", "aaaa"],
        "b": ["b", "bb", "bbb", "bbbb"],
        "c": ["c", "cc", "ccc", "cccc"],
    }


def run(contender: str, units: int, seconds: float, **extra: Any) -> dict[str, Any]:
    return {
        "contender": contender,
        "units": units,
        "seconds": seconds,
        "subset": extra.pop("subset", False),
        "cpu_seconds": extra.pop("cpu_seconds", seconds),
        "peak_rss_mib": 10.0,
        "load_before": extra.pop("load_before", 1.0),
        "other_cores": 0.25,
        "ok": extra.pop("ok", True),
    }


def test_the_median_is_the_run_of_median_rate_and_the_lower_one_of_an_even_count() -> None:
    runs = [run("x", 100, s) for s in (4.0, 1.0, 2.0)]
    assert report.median_run(runs)["seconds"] == 2.0
    # even count: rates 100, 50, 25, 20 → the lower middle is 25 (4 s)
    assert report.median_run([run("x", 100, s) for s in (1.0, 2.0, 4.0, 5.0)])["seconds"] == 4.0


def test_ratios_compare_rates_so_a_subset_run_compares_with_the_whole_data() -> None:
    limit = run("c", 1_000_000, 4.0, cpu_seconds=4.0)  # 250k/s, 4 µs CPU per row
    subset = run("slow", 100_000, 2.0, subset=True, cpu_seconds=2.0)  # 50k/s, 20 µs CPU per row
    assert report.ratio(subset, limit) == "0.20×"
    assert report.cpu_ratio(subset, limit) == "0.20×"
    assert report.ratio(subset, None) == "–"
    assert report.cpu_ratio(run("failed", 0, 1.0), limit) == "–"  # a run that moved nothing


def test_the_table_names_the_subset_and_the_load_of_every_round() -> None:
    runs_by = {
        "mariadb-client": [run("mariadb-client", 1000, 1.0, load_before=2.5), run("mariadb-client", 1000, 2.0)],
        "pymysql-loop": [
            run("pymysql-loop", 100, 1.0, subset=True, load_before=3.25),
            run("pymysql-loop", 100, 2.0, subset=True),
        ],
        "dlt": [run("dlt", 1000, 10.0, ok=False)],
    }
    lines = report.contender_table("full load", "rows", "mariadb-client", runs_by, total=1000)
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ") for line in lines[2:] if line}
    # median of two rates is the lower: mariadb-client 500/s, pymysql-loop 50/s
    assert rows["mariadb-client"][1:5] == ["500", "1.00×", "all 1,000", "1.0 / 2.0"]
    assert rows["pymysql-loop"][1:5] == ["50", "0.10×", "first 100", "1.0 / 2.0"]
    assert rows["pymysql-loop"][8] == "3.2 / 1.0"  # load average before each round
    assert rows["dlt"][-1] == "False |"


def test_the_docs_section_between_the_markers_is_replaced_and_nothing_else() -> None:
    doc = f"# B\n\nhistory\n{report.DOCS_BEGIN}\nold table\n{report.DOCS_END}\nmore history\n"
    assert report.replace_section(doc, "new table\n") == (
        f"# B\n\nhistory\n{report.DOCS_BEGIN}\nnew table\n{report.DOCS_END}\nmore history\n"
    )
    with pytest.raises(ValueError):
        report.replace_section("no markers", "x")


def test_an_oltp_transaction_is_30_inserts_50_updates_20_deletes_of_about_4_rows_a_statement() -> None:
    rng = random.Random(1)
    orders = set()
    for _ in range(200):
        statements = workload.oltp_statements(rng)
        rows: Counter[str] = Counter()
        for kind, k in statements:
            rows[kind] += k
        assert rows == {"I": 30, "U": 50, "D": 20}
        assert sum(k for _, k in statements) / len(statements) == pytest.approx(100 / 26)
        orders.add(tuple(kind for kind, _ in statements))
    assert len(orders) > 150  # shuffled: the kinds interleave differently from one transaction to the next


def test_measure_polls_while_the_child_runs_and_kills_it_when_the_poll_gives_up(tmp_path: Path) -> None:
    seen: list[float] = []
    measured = harness.measure(["sleep", "0.3"], tmp_path / "log", None, poll=seen.append)
    assert measured.returncode == 0 and measured.seconds >= 0.3
    assert len(seen) >= 5 and seen == sorted(seen) and seen[-1] < measured.seconds

    def give_up(elapsed: float) -> None:
        if elapsed > 0.2:
            raise TimeoutError("stuck")

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        harness.measure(["sleep", "30"], tmp_path / "log2", None, poll=give_up)
    assert time.monotonic() - started < 10  # the child was killed, not waited for


def rows_of(statement: workload.Statement) -> range:
    """The seq values a workload statement touches (an insert's from its SQL, the others' from their parameters)."""
    kind, sql, params = statement
    if kind == "I":
        found = re.search(r"SELECT (\d+) \+ seq AS n.*seq_1_to_(\d+)", sql, re.S)
        assert found, sql
        base, count = int(found[1]), int(found[2])
        return range(base + 1, base + count + 1)
    assert params is not None
    return range(params[0], params[1] + 1)


def replay(transactions: Iterator[list[workload.Statement]], live: set[int]) -> Counter[str]:
    """Apply the statements to a set of live seq values; every update and delete must find its rows alive, every
    insert must add new ones, so the server's affected rows equal the rows the workload means to change."""
    changed: Counter[str] = Counter()
    ever = set(live)
    for statements in transactions:
        for statement in statements:
            rows = set(rows_of(statement))
            kind = statement[0]
            if kind == "I":
                assert not rows & ever, "an insert reuses a key"
                live |= rows
                ever |= rows
            else:
                assert rows <= live, f"{kind} touches rows that are not there"
                if kind == "D":
                    live -= rows
            changed[kind] += len(rows)
    return changed


def test_the_oltp_workload_changes_only_rows_that_exist_100_a_transaction() -> None:
    changed = replay(workload.oltp_transactions(500, "orders", seed=14), set(range(1, workload.OLTP_PREFILL + 1)))
    assert changed == {"I": 500 * 30, "U": 500 * 50, "D": 500 * 20}


def test_the_bulk_workload_updates_and_deletes_distinct_inserted_rows() -> None:
    changed = replay(workload.bulk_transactions(6_000, 3_000, 1_000, "orders", rows=700), set())
    assert changed == {"I": 6_000, "U": 3_000, "D": 1_000}
    statements = list(workload.bulk_transactions(6_000, 3_000, 1_000, "orders", rows=700))
    assert max(len(rows_of(s)) for t in statements for s in t) == 700
