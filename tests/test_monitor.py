"""Monitoring against the real sandbox: events, task logs, metrics over time, Prometheus, bad input."""

from __future__ import annotations

import ast
import itertools
import json
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

import binlake
from binlake.cli.main import main
from binlake.monitor import metrics
from binlake.monitor.logs import FilterPattern
from binlake.monitor.sampler import Calculator, Observation
from binlake.sandbox import SandboxInfo
from binlake.state.store import StateStore
from tests.conftest import Binlake, create_task, mappings, run_task
from tests.helpers import (
    SAMPLE_ENV,
    assert_one_line_error,
    create_cdc_task,
    execute,
    next_line,
    read_lines,
    samples,
    start_detached,
    stop,
    wait_caught_up,
    wait_streaming,
)
from tests.lake import wait_for


def integral(series: list[tuple[float, float]]) -> float:
    """Rate x interval summed over the samples: the count the rate was computed from."""
    return sum(value * (at - series[i - 1][0]) for i, (at, value) in enumerate(series) if i)


@pytest.fixture
def server(binlake: Binlake) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``binlake metrics --serve --port 0`` as its own process; yields it and its base URL."""
    process = binlake.spawn("metrics", "--serve", "--port", "0", "--target", "CPUUtilization<95")
    lines = read_lines(process)
    banner = next_line(lines, lambda line: "http://" in line, "server URL")
    url = re.search(r"(http://127\.0\.0\.1:\d+/)", banner).group(1)
    yield process, url
    process.terminate()
    process.wait(10)


def fetch(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


# -- events -----------------------------------------------------------------------------------------------


def test_describe_events_lists_the_task_history(binlake: Binlake, endpoints, admin, database: str) -> None:
    execute(
        admin, f"CREATE TABLE `{database}`.items (id INT PRIMARY KEY)", f"INSERT INTO `{database}`.items VALUES (1)"
    )
    create_task(binlake, "history", mappings(database))
    assert run_task(binlake, "history").exit_code == 0
    create_task(binlake, "broken", mappings("no_such_schema"))
    assert run_task(binlake, "broken").exit_code == 1

    events = binlake.ok(
        "describe-events", "--source-identifier", "history", "--source-type", "replication-task", "--duration", "60",
        "--region", "us-east-1", "--output", "json",
    ).json()["Events"]  # fmt: skip
    assert [(e["EventCategories"], e["Message"]) for e in events] == [
        (["creation"], "Replication task created"),
        (["state change"], "Replication task started"),
        (["state change"], f"Full load started for table {database}.items"),
        (["state change"], f"Full load finished for table {database}.items: 1 row in 1 file"),
        (["state change"], "Full load completed"),
        (["state change"], "Replication task stopped (FULL_LOAD_ONLY_FINISHED)"),
    ]
    assert {(e["SourceIdentifier"], e["SourceType"], e["SourceArn"]) for e in events} == {
        ("history", "replication-task", "history")
    }
    assert [e["Date"] for e in events] == sorted(e["Date"] for e in events)

    failures = binlake.ok("describe-events", "--event-categories", "failure", "--output", "json").json()["Events"]
    assert [(e["SourceIdentifier"], e["Message"].split(":")[0]) for e in failures] == [
        ("broken", "Replication task failed")
    ]
    assert "the table mappings select no table" in failures[0]["Message"]
    table = binlake.ok("describe-events", "--source-identifier", "broken").stdout
    assert "Replication task failed" in table and "failure" in table
    assert binlake.ok("describe-events", "--start-time", "2999-01-01T00:00:00Z", "--output", "json").json() == {
        "Events": []
    }
    newest = binlake.ok("describe-events", "--max-records", "1", "--output", "json").json()["Events"]
    assert [e["SourceIdentifier"] for e in newest] == ["broken"]


# -- logs -------------------------------------------------------------------------------------------------


def test_logs_tail_with_levels_filters_and_streams(binlake: Binlake, endpoints, admin, database: str) -> None:
    execute(admin, f"CREATE TABLE `{database}`.items (id INT PRIMARY KEY)")
    create_task(binlake, "logged", mappings(database))
    assert run_task(binlake, "logged").exit_code == 0
    log = binlake.state_dir / "tasks" / "logged" / "task.log"
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S,000")
    with log.open("a") as handle:  # a record with a traceback, as logging writes one
        handle.write(f"{stamp} ERROR [MainThread] binlake.engine.task: Task logged failed: boom\n")
        handle.write('Traceback (most recent call last):\n  File "x.py", line 1, in <module>\nValueError: boom\n')

    everything = binlake.ok("logs", "tail", "/aws/dms/tasks/logged", "--region", "us-east-1").stdout.splitlines()
    assert any(line.endswith(f"Full load started for table {database}.items") for line in everything)
    assert binlake.ok("logs", "tail", "logged").stdout.splitlines() == everything

    errors = binlake.ok("logs", "tail", "logged", "--level", "ERROR").stdout.splitlines()
    assert errors == [
        f"{stamp} ERROR [MainThread] binlake.engine.task: Task logged failed: boom",
        "Traceback (most recent call last):",
        '  File "x.py", line 1, in <module>',
        "ValueError: boom",
    ]
    started = binlake.ok("logs", "tail", "logged", "--filter-pattern", '"Full load started"').stdout.splitlines()
    assert len(started) == 1 and started[0].endswith(f"table {database}.items")
    either = binlake.ok("logs", "tail", "logged", "--filter-pattern", "?boom ?started").stdout
    assert "boom" in either and "started for table" in either and "ValueError" in either
    without = binlake.ok("logs", "tail", "logged", "--filter-pattern", "Task -boom").stdout.splitlines()
    assert [line.split(": ", 1)[1] for line in without] == [
        "Task logged running: 1 tables to load",
        "Task logged stopped: FULL_LOAD_ONLY_FINISHED",
    ]
    assert binlake.ok("logs", "tail", "logged", "--since", "2999-01-01T00:00:00").stdout == ""

    streams = binlake.ok(
        "logs", "describe-log-streams", "--log-group-name", "/aws/dms/tasks/logged", "--output", "json"
    ).json()["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["task.log"]
    assert streams[0]["storedBytes"] == log.stat().st_size
    assert streams[0]["firstEventTimestamp"] <= streams[0]["lastEventTimestamp"]


def test_logs_tail_follow_prints_new_lines(binlake: Binlake, cdc_target: str, admin, database: str) -> None:
    execute(admin, f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY)")
    create_cdc_task(binlake, "followed", database, migration="cdc")
    start_detached(binlake, "followed")
    wait_streaming(binlake, "followed")
    follower = binlake.spawn("logs", "tail", "/aws/dms/tasks/followed", "--follow")
    try:
        lines = read_lines(follower)
        next_line(lines, lambda line: "CDC started from" in line, "the existing log")
        stop(binlake, "followed")
        line = next_line(lines, lambda line: "Task followed stopped" in line, "a line written after --follow began")
        assert " INFO [" in line
    finally:
        follower.terminate()
        follower.wait(10)


# -- metrics ----------------------------------------------------------------------------------------------


def test_metrics_follow_a_full_load_and_cdc_task(
    binlake: Binlake, cdc_target: str, admin, database: str, bucket: Path
) -> None:
    db = database
    execute(
        admin,
        f"CREATE TABLE `{db}`.items (id INT PRIMARY KEY, v VARCHAR(20))",
        f"INSERT INTO `{db}`.items SELECT seq, 'loaded' FROM `{db}`.seq_1_to_5000",
    )
    create_cdc_task(binlake, "measured", db)
    # The pause between publishing a batch and its checkpoint holds changes in memory long enough to be seen.
    start_detached(binlake, "measured", env={**SAMPLE_ENV, "BINLAKE_FAULT_PAUSE_BEFORE_CHECKPOINT": "2"})
    wait_streaming(binlake, "measured")
    execute(admin, f"INSERT INTO `{db}`.items SELECT 10000 + seq, 'cdc' FROM `{db}`.seq_1_to_3000")
    wait_caught_up(binlake, "measured", admin)

    def idle_sample() -> bool:
        found = samples(binlake.state_dir, "measured")
        return found["CDCLatencySource"][-1][1] == 0 and found["CDCLatencyTarget"][-1][1] == 0

    wait_for(idle_sample, what="a caught-up sample")
    running = binlake.ok(
        "metrics", "measured", "--target", "CDCLatencySource<0", "--output", "json"
    ).json()  # a target nobody meets
    checks = {c["MetricName"]: c for c in running["Checks"]}
    assert checks["CDCLatencySource"]["TargetMet"] is False
    assert checks["CDCLatencySource"]["Basis"] == "latest sample"
    assert "High Replication Lag" in checks["CDCLatencySource"]["Hint"]
    assert checks["CDCLatencyTarget"]["Target"] == "< 60"
    assert checks["CDCLatencyTarget"]["TargetMet"] is True
    stop(binlake, "measured")

    found = samples(binlake.state_dir, "measured")
    assert set(found) == set(metrics.NAMES)
    assert round(integral(found["FullLoadThroughputRowsSource"])) == 5000
    assert round(integral(found["FullLoadThroughputRowsTarget"])) == 5000
    assert round(integral(found["CDCThroughputRowsTarget"])) == 3000
    assert round(integral(found["CDCThroughputRowsSource"])) == 3000
    assert max(v for _, v in found["CDCIncomingChanges"]) == 3000  # one transaction, held until its checkpoint
    assert max(v for _, v in found["CDCChangesMemoryTarget"]) == 3000
    assert found["CDCIncomingChanges"][-1][1] == 0
    assert max(v for _, v in found["CDCLatencyTarget"]) >= 1  # while the batch waited for its checkpoint
    assert all(v >= 0 for name in found for _, v in found[name])
    assert min(v for _, v in found["MemoryUsageBytes"]) > 10 * 1024 * 1024

    report = binlake.ok(
        "metrics", "measured", "--window", "1h", "--target", "FullLoadThroughputRowsSource>1000000000000",
        "--output", "json",
    ).json()  # fmt: skip
    assert report["ReplicationTaskIdentifier"] == "measured" and report["Status"] == "stopped"
    assert [m["MetricName"] for m in report["Metrics"]] == list(metrics.NAMES)
    assert report["Samples"] == len(found["CPUUtilization"])
    results = {r["Label"]: r for r in report["MetricDataResults"]}
    assert results["CDCIncomingChanges"]["Values"] == [v for _, v in found["CDCIncomingChanges"]]
    checks = {c["MetricName"]: c for c in report["Checks"]}
    assert checks["CDCLatencySource"]["TargetMet"] is None  # a stopped task has no lag to judge
    assert checks["CDCLatencySource"]["Basis"] == "task is not running CDC"
    assert checks["FullLoadThroughputRowsSource"]["TargetMet"] is False
    assert checks["FullLoadThroughputRowsSource"]["Basis"].startswith("last full load: 5,000 rows in ")
    assert "MaxFullLoadSubTasks" in checks["FullLoadThroughputRowsSource"]["Hint"]

    shown = binlake("metrics", "--replication-task-arn", "measured", "--target", "CPUUtilization<0")
    assert shown.exit_code == 0, shown.stderr
    assert "Metrics of measured (stopped)" in shown.stdout
    assert all(name in shown.stdout for name in metrics.NAMES)
    assert "CDCChangesMemorySource: not measured" in shown.stdout
    warnings = [line for line in shown.stderr.splitlines() if line.startswith("Warning: ")]
    assert len(warnings) == 1
    assert warnings[0].startswith("Warning: CPUUtilization is ")
    assert "target < 0. The guide's 'increase replication instance size'" in warnings[0]


def test_targets_from_the_settings_file_and_environment(
    binlake: Binlake, endpoints, admin, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    execute(admin, f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY)")
    create_task(binlake, "targets", mappings(database))
    (binlake.state_dir / "monitor.json").write_text(json.dumps({"Targets": {"CDCLatencySource": "< 30"}}))
    monkeypatch.setenv("BINLAKE_TARGETS", "CPUUtilization<90,CDCLatencyTarget<45")
    checks = binlake.ok("metrics", "targets", "--target", "CPUUtilization < 70", "--output", "json").json()["Checks"]
    assert {c["MetricName"]: c["Target"] for c in checks} == {
        "CDCLatencySource": "< 30",
        "CDCLatencyTarget": "< 45",
        "FullLoadThroughputRowsSource": "> 1000",
        "CPUUtilization": "< 70",
    }
    assert {c["TargetMet"] for c in checks} == {None}  # never ran: nothing to judge


def test_samples_of_an_earlier_task_of_the_same_name_are_not_shown(binlake: Binlake, endpoints, database: str) -> None:
    create_task(binlake, "again", mappings(database))
    store = StateStore(binlake.state_dir)
    metrics.record(store, "again", time.time() - 3600 * 100, {"CPUUtilization": 99})  # before it was created
    store.close()
    report = binlake.ok("metrics", "again", "--window", "1w", "--output", "json").json()
    assert report["Samples"] == 0
    assert {m["Latest"] for m in report["Metrics"]} == {None}


def test_sampling_switched_off(binlake: Binlake, endpoints, admin, database: str) -> None:
    execute(admin, f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY)", f"INSERT INTO `{database}`.t VALUES (1)")
    create_task(binlake, "quiet", mappings(database))
    result = binlake.run_process("start-replication-task", "--replication-task-arn", "quiet", "--quiet",
                                 env={"BINLAKE_METRICS_INTERVAL": "0"})  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert samples(binlake.state_dir, "quiet") == {}
    shown = binlake.ok("metrics", "quiet")
    assert "0 samples" in shown.stdout


# -- Prometheus and the JSON API --------------------------------------------------------------------------


def test_prometheus_scrape_and_api(
    binlake: Binlake, cdc_target: str, admin, database: str, sandbox_info: SandboxInfo, server
) -> None:
    _process, url = server
    db = database
    execute(admin, f"CREATE TABLE `{db}`.items (id INT PRIMARY KEY)", f"INSERT INTO `{db}`.items VALUES (1), (2)")
    create_cdc_task(binlake, "scraped", db)
    start_detached(binlake, "scraped", env=SAMPLE_ENV)
    wait_streaming(binlake, "scraped")
    execute(admin, f"INSERT INTO `{db}`.items VALUES (3), (4), (5)", f"ALTER TABLE `{db}`.items ADD COLUMN v INT")
    wait_caught_up(binlake, "scraped", admin)
    wait_for(lambda: len(samples(binlake.state_dir, "scraped").get("CPUUtilization", [])) >= 3, what="samples")

    status, content_type, text = fetch(url + "metrics")
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    lines = text.splitlines()
    labels = f'replication_task="scraped",schema_name="{db}",table_name="items"'
    assert 'binlake_task_status{replication_task="scraped",status="running"} 1' in lines
    assert f"binlake_FullLoadRows{{{labels}}} 2" in lines
    assert f"binlake_Inserts{{{labels}}} 3" in lines
    assert f"binlake_Ddls{{{labels}}} 1" in lines
    assert f'binlake_table_state{{{labels},table_state="Table completed"}} 1' in lines
    for metric in metrics.METRICS:
        assert f"# TYPE binlake_{metric.name} gauge" in lines
        value = [line for line in lines if line.startswith(f'binlake_{metric.name}{{replication_task="scraped"}} ')]
        assert len(value) == 1 and float(value[0].rsplit(" ", 1)[1]) >= 0
    sample_lines = [line for line in lines if line and not line.startswith("#")]
    assert all(re.match(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.e+]+$", line) for line in sample_lines)

    status, _, body = fetch(url + "api/tasks")
    task = {t["ReplicationTaskIdentifier"]: t for t in json.loads(body)["ReplicationTasks"]}["scraped"]
    assert task["Status"] == "running"
    assert [(s["TableName"], s["Inserts"], s["Ddls"]) for s in task["TableStatistics"]] == [("items", 3, 1)]
    assert set(task["LatestMetrics"]) == set(metrics.NAMES)
    status, _, body = fetch(url + "api/tasks/scraped/metrics?window=600")
    document = json.loads(body)
    assert status == 200
    assert document["Targets"]["CPUUtilization"] == {"Operator": "<", "Value": 95.0}
    assert document["Targets"]["CDCLatencySource"] == {"Operator": "<", "Value": 60.0}
    assert any(e["EventCategories"] == ["ddl"] and "ADD COLUMN v INT" in e["Message"] for e in document["Events"])
    assert len({r["Label"]: r for r in document["MetricDataResults"]}["CPUUtilization"]["Values"]) >= 3

    status, _, body = fetch(url + "api/tasks/nope/metrics")
    assert status == 404 and json.loads(body)["Error"].startswith("replication task nope not found")
    assert fetch(url + "nowhere")[0] == 404
    assert fetch(url + "api/tasks/scraped/metrics?window=soon")[0] == 400
    page = fetch(url)[2]
    assert "<title>binlake dashboard</title>" in page
    stop(binlake, "scraped")

    password = Path(sandbox_info.password_file).read_text().strip()
    everything = [fetch(url + "metrics")[2], fetch(url + "api/tasks")[2], fetch(url + "api/tasks/scraped/metrics")[2]]
    everything += [binlake.ok("logs", "tail", "scraped").stdout, binlake.ok("describe-events").stdout]
    assert not [text for text in everything if password in text]


# -- bad input --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("describe-events", "--source-identifier", "nope"),
        ("logs", "tail", "/aws/dms/tasks/nope"),
        ("logs", "tail", "nope", "--follow"),
        ("logs", "describe-log-streams", "--log-group-name", "/aws/dms/tasks/nope"),
        ("metrics", "nope"),
    ],
)
def test_unknown_task(binlake: Binlake, args: tuple[str, ...]) -> None:
    assert_one_line_error(binlake(*args), "replication task nope not found", "binlake describe-replication-tasks")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("describe-events", "--source-type", "replication-instance"), ["has no events", "replication-task"]),
        (("describe-events", "--event-categories", "explosions"), ["'explosions' is not a category"]),
        (("describe-events", "--start-time", "yesterday"), ["--start-time 'yesterday' is neither"]),
        (("logs", "tail", "t", "--since", "a while"), ["--since 'a while' is neither a duration nor a time"]),
        (("logs", "tail", "t", "--level", "LOUD"), ["--level 'LOUD' is not a log level", "ERROR"]),
        (("logs", "tail", "t", "--log-stream-names", "other.log"), ["other.log is not a task log"]),
        (("metrics", "t", "--window", "forever"), ["--window 'forever' is neither"]),
        (("metrics", "t", "--target", "CDCLatncySource<5"), ["not a metric", "did you mean CDCLatencySource?"]),
        (("metrics", "t", "--target", "CPUUtilization=5"), ["is not METRIC<N or METRIC>N"]),
        (("metrics",), ["which task?"]),
        (("dashboard", "--host", "203.0.113.1"), ["cannot listen on 203.0.113.1:8080"]),
    ],
)
def test_bad_monitor_input(binlake: Binlake, endpoints, admin, database: str, args, fragments) -> None:
    create_task(binlake, "t", mappings(database))
    assert_one_line_error(binlake(*args), *fragments)


def test_malformed_settings_file(binlake: Binlake, endpoints, admin, database: str) -> None:
    create_task(binlake, "t", mappings(database))
    settings = binlake.state_dir / "monitor.json"
    settings.write_text("{nope")
    assert_one_line_error(binlake("metrics", "t"), f"cannot read {settings}")
    settings.write_text(json.dumps({"Targets": {"CDCLatencySource": "soon"}}))
    assert_one_line_error(binlake("metrics", "t"), "target 'soon' for CDCLatencySource is not '< N' or '> N'")
    settings.write_text(json.dumps({"Thresholds": {}}))
    assert_one_line_error(binlake("metrics", "t"), "unknown settings ['Thresholds']")


def test_port_in_use(binlake: Binlake) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for command in (("dashboard",), ("metrics", "--serve"), ("api", "serve")):
            result = binlake(*command, "--port", str(port))
            assert_one_line_error(result, f"port {port} on 127.0.0.1 is in use", "--port")


def test_state_directory_that_is_not_binlakes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    for args in (("dashboard",), ("metrics", "--serve"), ("metrics", "t"), ("describe-events",), ("logs", "tail", "t")):
        capsys.readouterr()
        code = main(["--state-dir", str(other), *args])
        out, err = capsys.readouterr()
        assert code == 1, (args, out, err)
        assert err.strip() == f"Error: {other} is not a binlake state directory (fix: pass --state-dir with an " \
            "empty or binlake directory)"  # fmt: skip
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


# -- pieces -----------------------------------------------------------------------------------------------


def observation(at: float, read: str, checkpoint: str, source: float, commit: float, pending: int = 0) -> Observation:
    return Observation(at, {}, 0, read, checkpoint, source, commit, 0, pending)


def test_latency_is_zero_when_caught_up_and_measured_otherwise() -> None:
    calc = Calculator()
    idle = observation(960.0, "bin.1:500", "bin.1:500", 900.0, 900.0)
    assert calc.values(idle, idle)["CDCLatencySource"] == 0
    # Lagging: the reader is 30 s behind, the checkpoint 40 s.
    lagging = observation(1005.0, "bin.1:900", "bin.1:700", 975.0, 965.0, pending=10)
    values = calc.values(idle, lagging)
    assert (values["CDCLatencySource"], values["CDCLatencyTarget"], values["CDCIncomingChanges"]) == (30, 40, 10)
    # Idle again after the checkpoint caught up; then one change arrives an hour later.
    caught = observation(1010.0, "bin.1:950", "bin.1:950", 1008.0, 1008.0)
    calc.values(lagging, caught)
    still = observation(1015.0, "bin.1:950", "bin.1:950", 1008.0, 1008.0)
    assert calc.values(caught, still)["CDCLatencyTarget"] == 0
    later = observation(4615.0, "bin.1:990", "bin.1:950", 4614.0, 1008.0, pending=1)
    values = calc.values(still, later)
    # The waiting change is younger than the last caught-up sample, not as old as the checkpoint's commit.
    assert (values["CDCLatencySource"], values["CDCLatencyTarget"]) == (1, 3600)
    # A binlog rotation moves the read position past the last COMMIT: still idle after a few still samples.
    rotated = [observation(5000.0 + i, "bin.2:256", "bin.1:990", 4614.0, 4614.0) for i in range(5)]
    latencies = [calc.values(a, b)["CDCLatencySource"] for a, b in itertools.pairwise(rotated)]
    assert latencies[-1] == 0 and latencies[0] > 0


def test_latency_at_cdc_start_ignores_the_binlog_header_time() -> None:
    calc = Calculator()
    loading = Observation(1000.0, {}, 0, None, None, None, None)
    # CDC starts at the snapshot position; the last event read is the file's header, written hours ago.
    started = observation(1001.0, "bin.1:500", "bin.1:500", 1000.0 - 7200, None)
    assert calc.values(loading, started)["CDCLatencySource"] == 0
    assert calc.values(started, started)["CDCLatencyTarget"] == 0


def test_rates_survive_counter_resets() -> None:
    calc = Calculator()
    before = Observation(0.0, {("s", "a"): 500, ("s", "b"): 100}, 1000, None, None, None, None)
    after = Observation(2.0, {("s", "a"): 700, ("s", "b"): 40}, 400, None, None, None, None)  # b and CDC reset
    values = calc.values(before, after)
    assert values["FullLoadThroughputRowsSource"] == (200 + 40) / 2
    assert values["CDCThroughputRowsTarget"] == 400 / 2
    assert values["CDCLatencySource"] == 0  # CDC not started


def test_retention_by_age_and_count(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")
    now = time.time()
    for i in range(10):
        metrics.record(store, "a", now - 3600 * (9 - i), {"CPUUtilization": i, "MemoryUsageBytes": i})
    metrics.record(store, "b", now - 7200 * 24, {"CPUUtilization": 1})
    deleted = metrics.prune(store, "a", now, keep_seconds=5.5 * 3600, cap=8)
    # Too old: a's four oldest samples (two rows each) and b's one row; beyond the cap of 8 rows: two more samples.
    assert deleted == 8 + 1 + 4
    assert metrics.window(store, "a", 0)["CPUUtilization"].values == [6, 7, 8, 9]
    metrics.prune(store, "a", now, keep_seconds=10 * 3600, cap=4)
    assert metrics.window(store, "a", 0)["CPUUtilization"].values == [8, 9]


def test_filter_patterns() -> None:
    assert FilterPattern('"Full load" orders').matches("Full load started for table shop.orders")
    assert not FilterPattern('"Full load" orders').matches("Full load started for table shop.items")
    assert FilterPattern("?ERROR ?WARNING").matches("x WARNING y")
    assert not FilterPattern("?ERROR ?WARNING").matches("x INFO y")
    assert not FilterPattern("table -cancelled").matches("Full load cancelled for table x")
    assert not FilterPattern("error").matches("ERROR")  # case-sensitive, as in CloudWatch


def test_monitor_never_imports_the_engine_or_the_cli() -> None:
    package = Path(binlake.__file__).parent / "monitor"
    imported = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    layers = {name.split(".")[1] for name in imported if name.startswith("binlake.")}
    assert layers <= {"monitor", "state", "dms", "errors", "http_server"}, layers  # http_server: stdlib only


def test_every_monitor_command_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for command in ("binlake describe-events", "binlake logs tail", "binlake metrics", "binlake dashboard"):
        row = next(line for line in readme.splitlines() if command in line)
        assert "planned" not in row, row
