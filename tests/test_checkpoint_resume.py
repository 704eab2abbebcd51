"""The checkpoint a task shows survives a resume that finds nothing new (describe-replication-tasks CdcState)."""

from __future__ import annotations

import json

from tests.conftest import Binlake
from tests.helpers import create_cdc_task, execute, start_detached, stop, wait_caught_up, wait_streaming


def cdc_state(binlake: Binlake) -> dict:
    shown = json.loads(binlake.run_process("describe-replication-tasks", "--output", "json").stdout)
    return shown["ReplicationTasks"][0]["CdcState"]


def test_resume_without_changes_keeps_checkpoint_gtid_and_commit_time(
    binlake: Binlake, cdc_target: str, admin, database: str
) -> None:
    execute(admin, f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY)")
    create_cdc_task(binlake, "calm", database, migration="cdc")
    start_detached(binlake, "calm")
    wait_streaming(binlake, "calm")
    execute(admin, f"INSERT INTO `{database}`.t VALUES (1)")
    wait_caught_up(binlake, "calm", admin)
    stop(binlake, "calm")
    before = cdc_state(binlake)
    assert before["CheckpointGtid"].startswith("0-1-") and before["CheckpointSourceCommitTime"]
    for _ in range(2):
        start_detached(binlake, "calm", "resume-processing")
        wait_streaming(binlake, "calm")
        stop(binlake, "calm")
        after = cdc_state(binlake)
        assert after["CheckpointPosition"] == before["CheckpointPosition"]
        assert after["CheckpointGtid"] == before["CheckpointGtid"]
        assert after["CheckpointSourceCommitTime"] == before["CheckpointSourceCommitTime"]
