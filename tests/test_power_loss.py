"""Invariants 1 and 2 under power loss, not only kill -9: a task whose state directory and bucket live on a
disk that loses every write not yet synced.

The disk is an ext4 filesystem in an image file on a loop device. A "power loss" freezes the task process
(SIGSTOP), copies the image file, kills the task, unmounts, and mounts the copy in its place after
``e2fsck`` replays its journal. The copy holds exactly what the kernel had sent to the loop device:
what was fsynced, plus whatever writeback and journal commits happened to flush; data still in ext4's
page cache is lost, as it is when the power goes (a file created but not synced comes back empty or not at
all; the test checks that on a canary file each time). Then ``resume-processing`` must bring the lake to
the source's state with no change lost and none written twice, while a writer keeps changing the source.
Needs root and loop devices; skipped elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from binlake.sandbox import Sandbox, SandboxInfo, process_alive
from tests.conftest import Binlake, mappings
from tests.helpers import execute, start_detached, stop, wait_caught_up, wait_streaming
from tests.lake import cdc_rows, merged, source_state, table_dir, target_settings, task_row, wait_for

IMAGE_MB = 128


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)


def holders(mount: Path) -> list[str]:
    """The processes with a file, directory or mapping open under ``mount``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            links = [os.readlink(fd) for fd in (proc / "fd").iterdir()] + [os.readlink(proc / "cwd")]
            links += [line.split()[-1] for line in (proc / "maps").read_text().splitlines() if "/" in line]
            if any(link.startswith(str(mount)) for link in links):
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                found.append(f"{proc.name} {command[:120]}")
    return found


class LoopDisk:
    """An ext4 filesystem in ``image``, mounted at ``mount``, that can lose power."""

    def __init__(self, image: Path, mount: Path) -> None:
        self.image, self.mount = image, mount
        self.device = ""
        self.tasks: list[int] = []  # task processes using the disk, killed at the teardown

    def create(self) -> None:
        with open(self.image, "wb") as handle:
            handle.truncate(IMAGE_MB * 1024 * 1024)
        done = _run("mkfs.ext4", "-q", "-F", str(self.image))
        if done.returncode:
            pytest.skip(f"mkfs.ext4 failed: {done.stderr.strip()}")
        self.mount.mkdir()
        self.attach()

    def attach(self) -> None:
        done = _run("losetup", "--find", "--show", str(self.image))
        if done.returncode:
            pytest.skip(f"no loop device: {done.stderr.strip()}")
        self.device = done.stdout.strip()
        # commit=1: metadata reaches the journal every second while file data waits for writeback, the
        # order in which an unsynced file comes back empty after a crash.
        done = _run("mount", "-o", "commit=1", self.device, str(self.mount))
        if done.returncode:
            _run("losetup", "-d", self.device)
            pytest.skip(f"cannot mount a loop device here: {done.stderr.strip()}")

    def detach(self, lazy: bool = False) -> None:
        """Unmount; every process must have let go of the filesystem (or ``lazy``, for the teardown)."""
        if self.device:
            for _ in range(50):
                done = _run("umount", *(["-l"] if lazy else []), str(self.mount))
                if done.returncode == 0:
                    break
                time.sleep(0.1)
            else:
                raise AssertionError(
                    f"cannot unmount {self.mount}: {done.stderr.strip()}; used by {holders(self.mount)} "
                    + _run("lsof", "-n", "+f", "--", str(self.mount)).stdout
                    + _run("grep", str(self.mount), "/proc/self/mountinfo").stdout
                )
            _run("losetup", "-d", self.device)
            self.device = ""

    def power_loss(self, frozen: list[int]) -> None:
        """Keep only what reached the device, with ``frozen`` processes (SIGSTOPped) killed meanwhile."""
        snapshot = self.image.with_suffix(".crash")
        shutil.copyfile(self.image, snapshot)
        for pid in frozen:
            os.kill(pid, signal.SIGKILL)
        for pid in frozen:
            wait_for(lambda pid=pid: not process_alive(pid), 10, what=f"process {pid} gone")
        self.detach()
        fsck = _run("e2fsck", "-fy", str(snapshot))
        assert fsck.returncode in (0, 1), fsck.stdout + fsck.stderr  # 1: errors corrected (journal replayed)
        os.replace(snapshot, self.image)
        self.attach()


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[LoopDisk]:
    if os.geteuid() != 0 or not all(shutil.which(t) for t in ("losetup", "mkfs.ext4", "e2fsck", "mount")):
        pytest.skip("needs root, losetup, mkfs.ext4 and e2fsck")
    loop = LoopDisk(tmp_path / "disk.img", tmp_path / "disk")
    loop.create()
    yield loop
    for pid in loop.tasks:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    loop.detach(lazy=True)


class Writer(threading.Thread):
    """Transactions on the source until stopped: inserts of new ids, updates that bump a version, deletes.
    Each change carries a unique (Op, id, version), so a change written twice can be counted."""

    def __init__(self, sandbox: Sandbox, db: str) -> None:
        super().__init__(daemon=True)
        self.conn = sandbox.root_connection()
        self.db = db
        self.halt = threading.Event()
        self.next_id = 1000
        self.live: list[int] = list(range(1, 201))
        self.random = random.Random(7)

    def run(self) -> None:
        cur = self.conn.cursor()
        while not self.halt.is_set():
            cur.execute("BEGIN")
            for _ in range(self.random.randint(1, 5)):
                roll = self.random.random()
                if roll < 0.4 or len(self.live) < 50:
                    cur.execute(f"INSERT INTO `{self.db}`.t VALUES ({self.next_id}, 0, REPEAT('x', 200))")
                    self.live.append(self.next_id)
                    self.next_id += 1
                elif roll < 0.85:
                    key = self.random.choice(self.live)
                    cur.execute(f"UPDATE `{self.db}`.t SET version = version + 1 WHERE id = {key}")
                else:
                    key = self.live.pop(self.random.randrange(len(self.live)))
                    cur.execute(f"DELETE FROM `{self.db}`.t WHERE id = {key}")
            cur.execute("COMMIT")
            time.sleep(0.005)
        self.conn.close()


def test_exactly_once_after_power_loss(
    disk: LoopDisk, sandbox: Sandbox, sandbox_info: SandboxInfo, admin, database: str, capsys
) -> None:
    db = database
    execute(
        admin,
        f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, version INT NOT NULL, pad VARCHAR(255))",
        f"INSERT INTO `{db}`.t SELECT seq, 0, REPEAT('x', 200) FROM `{db}`.seq_1_to_200",
    )
    # Every command runs as a process of its own: this process must hold nothing open on the disk, or it
    # could not be unmounted at the power loss.
    binlake = Binlake(disk.mount / "state", capsys)
    bucket = disk.mount / "bucket"
    bucket.mkdir()

    def cli(*args: str) -> None:
        result = binlake.run_process(*args)
        assert result.exit_code == 0, result.stderr

    cli(
        "create-endpoint", "--endpoint-identifier", "src", "--endpoint-type", "source", "--engine-name", "mariadb",
        "--server-name", sandbox_info.host, "--port", str(sandbox_info.port), "--username", sandbox_info.user,
        "--password-file", sandbox_info.password_file,
    )  # fmt: skip
    cli(
        "create-endpoint", "--endpoint-identifier", "lake", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", target_settings(bucket, CdcMaxBatchInterval=0.2),
    )  # fmt: skip
    cli(
        "create-replication-task", "--replication-task-identifier", "power", "--source-endpoint-arn", "src",
        "--target-endpoint-arn", "lake", "--migration-type", "full-load-and-cdc", "--table-mappings", mappings(db),
    )  # fmt: skip
    writer = Writer(sandbox, db)
    pid = start_detached(binlake, "power")
    disk.tasks.append(pid)
    wait_streaming(binlake, "power")
    writer.start()
    try:
        for crash in range(3):
            # Long enough for a journal commit to record files whose data is still only in the page cache.
            time.sleep(2.5 + crash)
            canary = disk.mount / f"unsynced-{crash}.txt"
            canary.write_text("written, never synced")
            os.kill(pid, signal.SIGSTOP)
            disk.power_loss([pid])
            assert not canary.exists() or canary.read_text() == "", "the simulated crash kept unsynced data"
            assert task_row(binlake.state_dir, "power")["status"] == "running"  # as the power loss left it
            pid = start_detached(binlake, "power", "resume-processing")
            disk.tasks.append(pid)
            wait_streaming(binlake, "power")
    finally:
        writer.halt.set()
        writer.join(10)
    wait_caught_up(binlake, "power", admin, timeout=120)
    stop(binlake, "power")

    directory = table_dir(bucket, db, "t")
    assert merged(directory, ("id",), drop=("Op", "pad")) == {
        key: {k: v for k, v in row.items() if k != "pad"} for key, row in source_state(admin, db, "t", ("id",)).items()
    }
    changes = Counter((r["Op"], r["id"], r["version"]) for r in cdc_rows(directory))
    assert [change for change, n in changes.items() if n > 1] == []
    assert len(changes) > 100  # the crashes happened in the middle of real traffic
