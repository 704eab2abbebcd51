"""What every benchmark in bench/ shares: a private sandbox MariaDB, a measured child process (wall time, CPU,
the process tree's peak RSS, the server's CPU and everyone else's), waiting for a quiet machine, the machine's
load around each run, interleaved rounds and medians.

The machine is shared (2 cores, other jobs come and go; absolute figures drift by tens of percent between
hours), so a figure counts only as a ratio against a contender measured in the same run, in interleaved rounds
(round 1: A B C, round 2: A B C, ...), each run preceded by a wait for a quiet machine and recorded with the
CPU other processes took during it.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from binlake.sandbox import Sandbox, SandboxInfo, free_port

MIB = 1024 * 1024
BUSY_FIELDS = ("user", "nice", "system", "irq", "softirq")  # steal (the hypervisor's) is reported apart


class TreeSampler(threading.Thread):
    """Samples the summed RSS of a process and its descendants every ``interval`` seconds until stopped.

    wait4's ru_maxrss is no substitute: on Linux it is at least the parent's RSS at the spawn (exec keeps the
    peak of the address space it replaces) and covers the largest single process, not the tree."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop_event.is_set():
            total = 0
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                break
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    total += proc.memory_info().rss
            self.peak = max(self.peak, total)
            self._stop_event.wait(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak


class CpuMeter:
    """CPU seconds of the server and of everything else on the machine between start() and stop()."""

    def __init__(self, server_pid: int | None) -> None:
        self.server = psutil.Process(server_pid) if server_pid else None
        self._start = (0.0, 0.0, 0.0, 0.0)

    def _now(self) -> tuple[float, float, float, float]:
        machine = psutil.cpu_times()
        busy = sum(getattr(machine, name) for name in BUSY_FIELDS)
        server = 0.0
        if self.server is not None:
            with contextlib.suppress(psutil.Error):
                times = self.server.cpu_times()
                server = times.user + times.system
        return time.monotonic(), busy, server, getattr(machine, "steal", 0.0)

    def start(self) -> None:
        self._start = self._now()

    def stop(self, measured_cpu: float) -> dict[str, float]:
        """``measured_cpu``: the CPU seconds of the measured process(es), to tell the others' share."""
        wall, busy, server, steal = (b - a for a, b in zip(self._start, self._now(), strict=True))
        others = max(0.0, busy - server - measured_cpu)
        return {
            "server_cpu_seconds": round(server, 2),
            "other_cpu_seconds": round(others, 2),
            "other_cores": round(others / wall, 2) if wall else 0.0,
            "steal_seconds": round(steal, 2),
        }


@dataclass
class Measured:
    """One child process run to completion, measured from outside."""

    seconds: float
    returncode: int
    cpu_seconds: float  # the child and its waited-for descendants (wait4)
    peak_rss_bytes: int  # the process tree, sampled
    server_cpu_seconds: float
    other_cpu_seconds: float  # everything else on the machine meanwhile: other users' jobs
    other_cores: float
    steal_seconds: float
    load_before: float  # 1-minute load average at the start and the end
    load_after: float

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["peak_rss_mib"] = round(self.peak_rss_bytes / MIB, 1)
        return data


def measure(
    cmd: list[str] | str,
    log_path: Path,
    server_pid: int | None,
    env: dict[str, str] | None = None,
    timeout: float = 3600.0,
    shell: bool = False,
    poll: Callable[[float], None] | None = None,
) -> Measured:
    """Run ``cmd`` to completion (stdout and stderr into ``log_path``; killed after ``timeout`` s). ``poll``, if
    given, is called with the seconds since the spawn every 10 ms while the child runs (to watch its progress)."""
    meter = CpuMeter(server_pid)
    load_before = os.getloadavg()[0]
    with open(log_path, "wb") as log:
        meter.start()
        started = time.monotonic()
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, shell=shell
        )
        sampler = TreeSampler(proc.pid)
        sampler.start()
        killer = threading.Timer(timeout, proc.kill)
        killer.daemon = True
        killer.start()
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, 0 if poll is None else os.WNOHANG)
                if pid:
                    break
                assert poll is not None
                poll(time.monotonic() - started)
                time.sleep(0.01)
            seconds = time.monotonic() - started
        except BaseException:  # interrupted: do not leave the child running
            proc.kill()
            os.wait4(proc.pid, 0)
            raise
        finally:
            killer.cancel()
            peak = sampler.stop()
    cpu = usage.ru_utime + usage.ru_stime
    others = meter.stop(cpu)
    return Measured(
        seconds=seconds,
        returncode=os.waitstatus_to_exitcode(status),
        cpu_seconds=round(cpu, 2),
        peak_rss_bytes=peak,
        load_before=round(load_before, 2),
        load_after=round(os.getloadavg()[0], 2),
        **others,
    )


def wait_quiet(server_pid: int | None, max_cores: float, timeout: float) -> dict[str, Any]:
    """Wait until the server is idle (below 5 % of a core for 2 s: no purge or flushing left over), then until
    the machine is quiet (everything but this script below ``max_cores`` cores for 3 s), ``timeout`` s at most
    each. Returns what was waited and how busy the machine was at the end (recorded with each run)."""
    started = time.monotonic()
    if server_pid:
        server = psutil.Process(server_pid)
        server.cpu_percent()
        quiet, deadline = 0, time.monotonic() + timeout
        while time.monotonic() < deadline and quiet < 2:
            time.sleep(1.0)
            quiet = quiet + 1 if server.cpu_percent() < 5.0 else 0
    psutil.cpu_percent()
    quiet, busy, deadline = 0, 0.0, time.monotonic() + timeout
    while time.monotonic() < deadline and quiet < 3:
        time.sleep(1.0)
        busy = psutil.cpu_percent() * (os.cpu_count() or 1) / 100
        quiet = quiet + 1 if busy < max_cores else 0
    return {
        "waited_seconds": round(time.monotonic() - started, 1),
        "busy_cores_before": round(busy, 2),
        "quiet": quiet >= 3,
    }


@dataclass
class Round:
    """Every contender once, in order; ``runs`` by contender."""

    number: int
    runs: dict[str, Any] = field(default_factory=dict)


def interleaved(
    contenders: Iterable[str], rounds: int, run: Callable[[str, int], Any], log: Callable[[str], None] = print
) -> dict[str, list[Any]]:
    """``run(contender, round)`` for every contender in each of ``rounds`` rounds: A B C, A B C, ...

    The order rotates by one per round, so no contender always runs right after the same neighbour (the
    server's caches and the page cache then favour no one)."""
    order = list(contenders)
    results: dict[str, list[Any]] = {name: [] for name in order}
    for number in range(1, rounds + 1):
        shift = (number - 1) % len(order) if order else 0
        log(f"round {number} of {rounds}")
        for name in order[shift:] + order[:shift]:
            results[name].append(run(name, number))
    return results


def median_run(runs: list[Any], seconds: Callable[[Any], float]) -> Any:
    """The run with the median time (the lower one of an even count)."""
    median = statistics.median_low(seconds(r) for r in runs)
    return next(r for r in runs if seconds(r) == median)


class SandboxServer:
    """A private MariaDB under ``work`` (binlake.sandbox; never the system server)."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.sandbox = Sandbox(work / "sandbox", port=free_port())
        self.info: SandboxInfo | None = None

    def start(self) -> SandboxInfo:
        if self.work.exists():
            self.sandbox.destroy()  # one left by --keep: stop its server before removing its files
            shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        self.info = self.sandbox.start()
        return self.info

    def destroy(self) -> None:
        self.sandbox.destroy()
        shutil.rmtree(self.work, ignore_errors=True)

    @property
    def pid(self) -> int:
        pid = self.sandbox.pid()
        assert pid is not None, "sandbox MariaDB is not running"
        return pid

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        conn = self.sandbox.root_connection()
        try:
            cur = conn.cursor()
            cur.execute(sql, params or None)  # no params: a % in the SQL is not a placeholder
            return list(cur.fetchall())
        finally:
            conn.close()

    def client_config(self, path: Path) -> Path:
        """A [client] option file with the password, so it stays off command lines."""
        assert self.info is not None
        path.write_text(f"[client]\npassword={Path(self.info.password_file).read_text().strip()}\n")
        path.chmod(0o600)
        return path


def environment(server: SandboxServer, packages: Iterable[str]) -> dict[str, Any]:
    versions = {}
    for dist in packages:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    root = Path(__file__).resolve().parent.parent
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "ram_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "mariadb": str(server.query("SELECT VERSION()")[0][0]),
        "versions": versions,
        "commit": commit.stdout.strip(),
        "load_average": os.getloadavg(),
    }
