"""Contender: python-mysql-replication's plain loop, every row of a binlog range decoded into a dict; no files.

What one writes by hand with the library: a non-blocking ``BinLogStreamReader`` from the range's start, only the
three rows events, each event's ``rows`` (a dict per row) counted, until the range's end or ``--max-changes``
changes (the slow contender's subset: the first N changes of the range). Run by bench/run.py in a child process:
``python bench/plain_loop.py --host H --port P --user U --password-file F --start FILE:POS --end FILE:POS
--server-id N --result OUT.json [--max-changes N]``; the result holds the counts by Op (I, U, D).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import child_args  # bench/child_args.py: the script's own directory is on sys.path


def parse_position(text: str) -> tuple[str, int]:
    name, _, pos = text.rpartition(":")
    return name, int(pos)


def main(argv: list[str] | None = None) -> int:
    parser = child_args.parser(__doc__ or "", full_load=False)
    parser.add_argument("--start", required=True)
    parser.add_argument("--end", required=True)
    parser.add_argument("--server-id", type=int, required=True)
    parser.add_argument("--max-changes", type=int, default=0, help="stop after this many changes (0: the range)")
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args(argv)

    from pymysqlreplication import BinLogStreamReader
    from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

    started = time.monotonic()
    log_file, log_pos = parse_position(args.start)
    end = parse_position(args.end)
    password = child_args.password(args)
    stream = BinLogStreamReader(
        connection_settings={"host": args.host, "port": args.port, "user": args.user, "passwd": password},
        server_id=args.server_id,
        log_file=log_file,
        log_pos=log_pos,
        resume_stream=True,
        blocking=False,
        only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent],
    )
    counts = {"I": 0, "U": 0, "D": 0}
    events = 0
    try:
        for event in stream:
            kind = "U" if isinstance(event, UpdateRowsEvent) else "I" if isinstance(event, WriteRowsEvent) else "D"
            counts[kind] += len(event.rows)  # {"values": {...}} or {"before_values": ..., "after_values": ...}
            events += 1
            if (stream.log_file, stream.log_pos) >= end or (
                args.max_changes and sum(counts.values()) >= args.max_changes
            ):
                break
    finally:
        stream.close()
    result = {"counts": counts, "events": events, "seconds": time.monotonic() - started}
    args.result.write_text(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
