"""Change data capture: follow the binlog, write CDC files per table, checkpoint exactly once.

A flush writes one file per table from whole transactions, in four steps (invariants 1-3):

1. record an intent (the files about to be written and the position they end at) in the state store;
2. publish the files;
3. in one state-store transaction: move the checkpoint to that position, add the statistics, drop the intent;
4. start collecting the next batch.

A crash before 3 leaves an intent; the next start deletes the files it names and reads again from the
checkpoint, so those changes are written once, by the new run. A crash after 3 loses nothing either: the
checkpoint says where the files end.

Full-load handoff: each table's LOAD files come from a snapshot at a binlog position; a transaction of that
table committed at or before it is in the LOAD files, so CDC skips it there.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime

from binlake.capture.binlog.charsets import load_codec
from binlake.capture.binlog.reader import BinlogReader, Commit, Heartbeat, RowChanges, Statement
from binlake.capture.binlog.rows import RowDecoder, ZeroDates
from binlake.capture.binlog.stream import BinlogStream
from binlake.changes import ChangeBuffer, Route
from binlake.config.endpoint import S3Settings
from binlake.config.mappings import TableMappings
from binlake.errors import BinlakeError
from binlake.position import BinlogPosition
from binlake.source.connection import SourceAddress, connect
from binlake.state.store import StateStore, utcnow
from binlake.target import naming
from binlake.target.store import Bucket
from binlake.target.writer import write_file

log = logging.getLogger(__name__)
STATUS_EVERY_SECONDS = 0.5
FAULT_PAUSE_BEFORE_CHECKPOINT = float(os.environ.get("BINLAKE_FAULT_PAUSE_BEFORE_CHECKPOINT", "0") or 0)

_NAME = r"(?:`(?:[^`]|``)+`|[\w$]+)"
_QUALIFIED = rf"({_NAME})(?:\s*\.\s*({_NAME}))?"
_DDL_PATTERNS = [
    ("create", re.compile(rf"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?{_QUALIFIED}", re.I)),
    ("alter", re.compile(rf"^\s*ALTER\s+(?:ONLINE\s+|IGNORE\s+)*TABLE\s+(?:IF\s+EXISTS\s+)?{_QUALIFIED}", re.I)),
    ("truncate", re.compile(rf"^\s*TRUNCATE\s+(?:TABLE\s+)?{_QUALIFIED}", re.I)),
    ("drop", re.compile(r"^\s*DROP\s+(?:TEMPORARY\s+)?TABLE\s+(?:IF\s+EXISTS\s+)?(.+?)(?:\s*/\*.*)?$", re.I | re.S)),
    ("rename", re.compile(r"^\s*RENAME\s+TABLE\s+(.+)$", re.I | re.S)),
]  # fmt: skip


def _unquote(name: str) -> str:
    return name[1:-1].replace("``", "`") if name.startswith("`") else name


def _split_names(text: str, default_schema: str) -> list[tuple[str, str]]:
    names = []
    for part in re.findall(_QUALIFIED, text):
        first, second = part
        names.append((_unquote(first), _unquote(second)) if second else (default_schema, _unquote(first)))
    return names


def ddl_targets(sql: str, default_schema: str) -> list[tuple[str, str, str]]:
    """(kind, schema, table) for each table a DDL statement touches; RENAME gives 'drop' and 'create'."""
    for kind, pattern in _DDL_PATTERNS:
        match = pattern.match(sql)
        if not match:
            continue
        if kind == "drop":
            return [("drop", s, t) for s, t in _split_names(match.group(1), default_schema)]
        if kind == "rename":
            names = _split_names(re.sub(r"\s+TO\s+", " ", match.group(1), flags=re.I), default_schema)
            targets = []
            for old, new in zip(names[::2], names[1::2], strict=False):
                targets += [("drop", *old), ("create", *new)]
            return targets
        first, second = match.group(1), match.group(2)
        schema, table = (_unquote(first), _unquote(second)) if second else (default_schema, _unquote(first))
        if kind == "alter" and re.search(r"\bRENAME\s+(?:TO\s+|AS\s+)?(?!COLUMN|INDEX|KEY)" + _NAME, sql, re.I):
            renamed = re.search(r"\bRENAME\s+(?:TO\s+|AS\s+)?(" + _QUALIFIED + ")", sql, re.I)
            if renamed and not re.match(r"(?i)(COLUMN|INDEX|KEY)\b", renamed.group(1)):
                new = _split_names(renamed.group(1), default_schema)
                return [("drop", schema, table), *(("create", s, t) for s, t in new)]
        return [(kind, schema, table)]
    return []


def dump_server_id(task_id: str) -> int:
    """A replica server_id of our own per task, away from small ids that real replicas use."""
    return 1_000_000 + zlib.crc32(task_id.encode()) % 1_000_000_000


class CdcRunner:
    def __init__(
        self,
        store: StateStore,
        task_id: str,
        address: SourceAddress,
        bucket: Bucket,
        s3: S3Settings,
        mappings: TableMappings,
        stop: threading.Event,
        reload_table: Callable[[str, str], BinlogPosition | None],
    ) -> None:
        self.store = store
        self.task_id = task_id
        self.address = address
        self.bucket = bucket
        self.s3 = s3
        self.mappings = mappings
        self.stop = stop
        self.reload_table = reload_table
        self.buffer = ChangeBuffer()
        self.routes: dict[int, Route] = {}
        self.snapshots: dict[tuple[str, str], BinlogPosition] = {}
        self.last_commit: BinlogPosition | None = None
        self.last_commit_time = 0
        self.last_gtid: str | None = None
        self.checkpoint: BinlogPosition | None = None
        self._last_status = 0.0
        self._checkpointed_at = time.monotonic()
        self._last_file: str | None = None
        self.changes_seen = 0
        self._data_types: dict[tuple[str, str], dict[str, str]] = {}

    # -- setup ------------------------------------------------------------------------------------------
    def load_state(self) -> None:
        row = self.store.query("SELECT last_cdc_file FROM tasks WHERE identifier = ?", (self.task_id,))
        self._last_file = row[0]["last_cdc_file"] if row else None
        for stat in self.store.query(
            "SELECT schema_name, table_name, snapshot_position FROM table_statistics WHERE task = ?", (self.task_id,)
        ):
            if stat["snapshot_position"]:
                self.snapshots[(stat["schema_name"], stat["table_name"])] = BinlogPosition.parse(
                    stat["snapshot_position"]
                )

    def recover_intents(self) -> None:
        """Delete the files of a flush that never reached its checkpoint (a crash between steps 1 and 3)."""
        for intent in self.store.query("SELECT batch, files FROM cdc_intents WHERE task = ?", (self.task_id,)):
            files = json.loads(intent["files"])
            for path in files:
                self.bucket.discard(path)
            self.store.execute("DELETE FROM cdc_intents WHERE task = ? AND batch = ?", (self.task_id, intent["batch"]))
            log.warning("Removed %d CDC files of an unfinished batch; their changes are read again", len(files))
            self.store.add_event(self.task_id, "recovery", f"Removed {len(files)} CDC files of an unfinished batch")

    # -- the loop -----------------------------------------------------------------------------------------
    def run(self, start: BinlogPosition, gtid: str | None = None) -> None:
        """Stream from ``start`` (or from the MariaDB GTID position ``gtid``) until asked to stop."""
        self.load_state()
        self.recover_intents()
        self.checkpoint = self.last_commit = start
        codec_conn = connect(self.address)
        try:
            codec = load_codec(codec_conn)
        finally:
            codec_conn.close()
        interval = float(self.s3.CdcMaxBatchInterval)
        heartbeat = max(0.05, min(1.0, interval / 2 if interval else 1.0))
        stream = BinlogStream(self.address, start, dump_server_id(self.task_id), heartbeat_seconds=heartbeat, gtid=gtid)
        reader = BinlogReader(stream, codec, self.mappings.selects, self.data_types)
        if not gtid:
            self._checkpoint([], {})  # the task shows where CDC stands before the first change arrives
        origin = f"GTID position {gtid}" if gtid else f"binlog position {start}"
        log.info("CDC started from %s", origin)
        self.store.add_event(self.task_id, "state change", f"CDC started from {origin}")
        transaction: list[RowChanges] = []
        try:
            for item in reader:
                if isinstance(item, RowChanges):
                    transaction.append(item)
                    continue
                if isinstance(item, Commit):
                    self._commit(transaction, item)
                    transaction = []
                elif isinstance(item, Statement):
                    self._statement(item)
                elif isinstance(item, Heartbeat):
                    self._note_read(item.position, item.timestamp)
                if self.stop.is_set():
                    break
                if self._due():
                    self.flush()
        finally:
            stream.close()
        self.flush()
        log.info("CDC stopped at %s", self.checkpoint)

    def data_types(self, schema: str, table: str) -> dict[str, str]:
        """Column name → information_schema COLUMN_TYPE, read once per table and again after its DDL."""
        key = (schema, table)
        types = self._data_types.get(key)
        if types is None:
            conn = connect(self.address)
            try:
                cur = conn.cursor()
                cur.execute(
                    "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS "
                    "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
                    (schema, table),
                )
                types = self._data_types[key] = {str(name): str(kind) for name, kind in cur.fetchall()}
            finally:
                conn.close()
        return types

    def _due(self) -> bool:
        buffer = self.buffer
        if buffer.first_change_at is None:
            # Nothing to write, but the position moved (other tables' transactions): checkpoint it now and
            # then, so a restart does not reread them and the binlog they sit in may be purged.
            return self.last_commit != self.checkpoint and time.monotonic() - self._checkpointed_at > 1.0
        if buffer.bytes >= self.s3.CdcMinFileSize * 1024:
            return True
        return time.monotonic() - buffer.first_change_at >= float(self.s3.CdcMaxBatchInterval)

    def _route(self, decoder: RowDecoder) -> Route:
        key = id(decoder)
        route = self.routes.get(key)
        if route is None:
            table_map = decoder.table_map
            schema, table = table_map.schema, table_map.table
            keep, names = [], []
            for index, name in enumerate(table_map.column_names):
                target = self.mappings.target_column(schema, table, name)
                if target is not None:
                    keep.append(index)
                    names.append(target)
            route = Route(
                schema,
                table,
                self.mappings.target_schema(schema),
                self.mappings.target_table(schema, table),
                tuple(keep),
                tuple(names),
                tuple(decoder.specs[i] for i in keep),
                tuple(table_map.primary_key),
            )
            self.routes[key] = route
            self._register_table(route)
        return route

    def _register_table(self, route: Route) -> None:
        self.store.execute(
            "INSERT INTO table_statistics (task, schema_name, table_name, target_schema, target_table, table_state, "
            "last_update_time, primary_key) VALUES (?, ?, ?, ?, ?, 'Table completed', ?, ?) "
            "ON CONFLICT (task, schema_name, table_name) DO NOTHING",
            (
                self.task_id,
                route.schema,
                route.table,
                route.target_schema,
                route.target_table,
                utcnow(),
                json.dumps(route.target_key),
            ),
        )

    def _commit(self, transaction: list[RowChanges], commit: Commit) -> None:
        self.last_commit, self.last_commit_time, self.last_gtid = commit.position, commit.timestamp, commit.gtid
        inserts_only, no_deletes = self.s3.CdcInsertsOnly, self.s3.CdcInsertsAndUpdates
        buffer = self.buffer
        for changes in transaction:
            route = self._route(changes.decoder)
            snapshot = self.snapshots.get((route.schema, route.table))
            if snapshot is not None and commit.position <= snapshot:
                continue  # already in the table's LOAD files
            pending = buffer.table(route, id(changes.decoder))
            rows, ts = changes.rows, commit.timestamp
            if changes.kind == "I":
                pending.inserts += len(rows)
                for row in rows:
                    pending.add("I", ts, row)
            elif changes.kind == "D":
                pending.deletes += len(rows)
                if not (inserts_only or no_deletes):
                    for row in rows:
                        pending.add("D", ts, row)
            else:
                pending.updates += len(rows) // 2
                if inserts_only:
                    continue
                key = route.primary_key
                for i in range(0, len(rows), 2):
                    before, after = rows[i], rows[i + 1]
                    if key and any(before[k] != after[k] for k in key):
                        # A key change: the old key's row is gone, so merging by key needs a delete.
                        if not no_deletes:
                            pending.add("D", ts, before)
                        pending.add("I", ts, after)
                    else:
                        pending.add("U", ts, after)
            pending.end_transaction(commit.position)
            buffer.bytes += changes.size
            buffer.changes += len(rows) // 2 if changes.kind == "U" else len(rows)
            if buffer.first_change_at is None:
                buffer.first_change_at = time.monotonic()
        self.changes_seen += sum(len(c.rows) // 2 if c.kind == "U" else len(c.rows) for c in transaction)
        self._note_read(commit.position, commit.timestamp)

    def _note_read(self, position: BinlogPosition, timestamp: int) -> None:
        now = time.monotonic()
        if now - self._last_status < STATUS_EVERY_SECONDS:
            return
        self._last_status = now
        self.store.execute(
            "UPDATE tasks SET cdc_read_position = ?, cdc_source_time = ? WHERE identifier = ?",
            (str(position), _iso(timestamp), self.task_id),
        )

    def _statement(self, statement: Statement) -> None:
        self.flush()
        self.last_commit, self.last_commit_time, self.last_gtid = (
            statement.position,
            statement.timestamp,
            statement.gtid,
        )
        touched = [
            (kind, schema, table)
            for kind, schema, table in ddl_targets(statement.sql, statement.schema)
            if self.mappings.selects(schema, table)
        ]
        for kind, schema, table in touched:
            self._data_types.pop((schema, table), None)
            self.store.add_event(self.task_id, "ddl", f"DDL on {schema}.{table}: {statement.sql.strip()[:200]}")
            log.info("DDL on %s.%s at %s: %s", schema, table, statement.position, kind)
            if kind in ("create", "truncate"):
                # Reload from a fresh snapshot: its LOAD files hold the table as of a position after this
                # statement, and the stream skips this table's transactions up to it.
                snapshot = self.reload_table(schema, table)
                if snapshot is not None:
                    self.snapshots[(schema, table)] = snapshot
            elif kind == "drop":
                self.store.execute(
                    "UPDATE table_statistics SET table_state = 'Table cancelled' WHERE task = ? AND "
                    "schema_name = ? AND table_name = ?",
                    (self.task_id, schema, table),
                )
            self.routes = {k: r for k, r in self.routes.items() if (r.schema, r.table) != (schema, table)}
        self._checkpoint([], {(s, t): 1 for _, s, t in touched})

    # -- flushing -----------------------------------------------------------------------------------------
    def flush(self) -> None:
        if not self.buffer:
            if self.last_commit != self.checkpoint:
                self._checkpoint([], {})
            return
        moment = datetime.now(UTC)
        extension = self.s3.extension
        planned: list[tuple[str, object]] = []
        for pending in self.buffer.tables.values():
            route = pending.route
            prefix = naming.table_prefix(self.s3.BucketFolder, route.target_schema, route.target_table)
            if self.s3.DatePartitionEnabled:
                prefix += "/" + naming.date_partition(
                    moment, self.s3.DatePartitionSequence, self.s3.DatePartitionDelimiter
                )
            self._last_file = naming.next_cdc_file_name(moment, extension, self._last_file)
            planned.append((f"{prefix}/{self._last_file}", pending))
        batch_id = int(time.time() * 1000)
        self.store.execute(
            "INSERT INTO cdc_intents (task, batch, start_position, end_position, files) VALUES (?, ?, ?, ?, ?)",
            (self.task_id, batch_id, str(self.checkpoint), str(self.last_commit), json.dumps([p for p, _ in planned])),
        )
        for path, pending in planned:
            batch = pending.record_batch(True, self.s3.TimestampColumnName)  # type: ignore[attr-defined]
            write_file(self.bucket, path, self.s3, batch)
        stats: dict[tuple[str, str], tuple[int, int, int]] = {}
        for pending in self.buffer.tables.values():
            key = (pending.route.schema, pending.route.table)
            i, u, d = stats.get(key, (0, 0, 0))
            stats[key] = (i + pending.inserts, u + pending.updates, d + pending.deletes)
        changes = self.buffer.changes
        if FAULT_PAUSE_BEFORE_CHECKPOINT:
            # Fault injection for the exactly-once tests: widen the window between publish and checkpoint.
            log.info("Batch %d published; checkpoint pending", batch_id)
            time.sleep(FAULT_PAUSE_BEFORE_CHECKPOINT)
        self._checkpoint([p for p, _ in planned], {}, stats, batch_id, changes)
        log.debug("Flushed %d changes into %d files up to %s", changes, len(planned), self.last_commit)
        self.buffer.clear()

    def _checkpoint(
        self,
        files: list[str],
        ddls: dict[tuple[str, str], int],
        stats: dict[tuple[str, str], tuple[int, int, int]] | None = None,
        batch_id: int | None = None,
        changes: int = 0,
    ) -> None:
        now = utcnow()
        with self.store.transaction() as db:
            db.execute(
                "UPDATE tasks SET cdc_checkpoint = ?, cdc_checkpoint_gtid = COALESCE(?, cdc_checkpoint_gtid), "
                "cdc_checkpoint_commit_time = ?, cdc_read_position = ?, cdc_source_time = ?, "
                "cdc_changes_total = cdc_changes_total + ?, last_cdc_file = COALESCE(?, last_cdc_file) "
                "WHERE identifier = ?",
                (
                    str(self.last_commit),
                    self.last_gtid,
                    _iso(self.last_commit_time),
                    str(self.last_commit),
                    _iso(self.last_commit_time),
                    changes,
                    self._last_file if files else None,
                    self.task_id,
                ),
            )
            for (schema, table), (inserts, updates, deletes) in (stats or {}).items():
                db.execute(
                    "UPDATE table_statistics SET inserts = inserts + ?, updates = updates + ?, "
                    "deletes = deletes + ?, last_update_time = ? WHERE task = ? AND schema_name = ? AND table_name = ?",
                    (inserts, updates, deletes, now, self.task_id, schema, table),
                )
            for (schema, table), count in ddls.items():
                db.execute(
                    "UPDATE table_statistics SET ddls = ddls + ?, last_update_time = ? WHERE task = ? AND "
                    "schema_name = ? AND table_name = ?",
                    (count, now, self.task_id, schema, table),
                )
            if batch_id is not None:
                db.execute("DELETE FROM cdc_intents WHERE task = ? AND batch = ?", (self.task_id, batch_id))
        self.checkpoint = self.last_commit
        self._checkpointed_at = time.monotonic()
        if ZeroDates.count:
            log.warning("%d zero or invalid dates written as NULL", ZeroDates.count)
            ZeroDates.count = 0


def _iso(timestamp: int) -> str | None:
    if not timestamp:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


MARIADB_GTID = re.compile(r"^\d+-\d+-\d+(,\d+-\d+-\d+)*$")


def parse_start_position(text: str) -> BinlogPosition | str:
    """DMS's CdcStartPosition: 'mysql-bin.000003:1234' (binlog file and log_pos), or a MariaDB GTID
    position such as '0-1-100' (returned as text)."""
    if MARIADB_GTID.match(text.strip()):
        return text.strip()
    file, _, pos = text.rpartition(":")
    if not file or not pos.isdigit():
        raise BinlakeError(
            f"--cdc-start-position {text!r} is not a binlog position",
            fix="use FILE:POSITION (mysql-bin.000003:4) or a MariaDB GTID position (0-1-100)",
        )
    return BinlogPosition(file, int(pos))


def parse_start_time(text: str) -> int:
    """DMS's CdcStartTime: seconds since the epoch, or an ISO 8601 time (UTC when it has no zone)."""
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BinlakeError(
            f"--cdc-start-time {text!r} is not a time", fix="use seconds since the epoch or 2026-01-16T12:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def position_at_time(address: SourceAddress, start_time: int) -> BinlogPosition:
    """The position after the last transaction committed before ``start_time``, read from the binlog."""
    conn = connect(address)
    try:
        cur = conn.cursor()
        cur.execute("SHOW BINARY LOGS")
        files = [row[0] for row in cur.fetchall()]
        codec = load_codec(conn)
    finally:
        conn.close()
    if not files:
        raise BinlakeError(f"binlog is off on {address.host}:{address.port}", fix="set log_bin=ON and restart")
    start = BinlogPosition(files[0], 4)
    stream = BinlogStream(address, start, 0, non_blocking=True)
    found = start
    try:
        for item in BinlogReader(stream, codec, lambda schema, table: False):
            if isinstance(item, (Commit, Statement)):
                if item.timestamp >= start_time:
                    return found
                found = item.position
    finally:
        stream.close()
    return found
