"""The compiled scanner (binlake.native._rows.Scanner) against its Python twin (capture/binlog/framing.py), the
oracle: the same dump bytes, cut into chunks at random (seeded), must give the same records, whatever the cuts.

The bytes are a real dump from the sandbox: random schemas and transactional workloads (tests/oracle/workload.py)
with binlog rotations and binlog_checksum switched NONE↔CRC32 between files, a 260-column table (multi-byte
column counts and bitmaps), ALTERs, XA, savepoints; plus an event larger than one 16 MB packet. Corrupted copies
(a flipped byte) must stop both scanners at the same event. The reader over the whole range must give the same
items on both paths.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import pytest

from binlake import native
from binlake.capture.binlog import framing
from binlake.capture.binlog.reader import RowChanges
from binlake.capture.binlog.stream import BinlogStream
from binlake.position import BinlogPosition
from binlake.sandbox import SandboxInfo
from tests.oracle.source import address, binlog_position, connect, global_setting, read_binlake
from tests.oracle.workload import Options, Workload

Record = tuple[int, int, int, int, bytes, int]


class Recording:
    """A Python scanner that keeps every chunk the stream fed it: the raw dump bytes."""

    def __init__(self, checksum: bool) -> None:
        self.inner = framing.Scanner(checksum)
        self.chunks: list[bytes] = []

    def feed(self, chunk: bytes) -> list[Record]:
        self.chunks.append(bytes(chunk))
        return self.inner.feed(chunk)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def raw_dump(info: SandboxInfo, start: BinlogPosition) -> tuple[bytes, bool]:
    """The dump's bytes from ``start`` to the end of the binlog (its EOF packet included), and the checksum
    setting the stream announced."""
    stream = BinlogStream(address(info), start, 0, non_blocking=True)
    made: list[Recording] = []

    def make(checksum: bool) -> Recording:
        made.append(Recording(checksum))
        return made[-1]

    for _ in stream.records(make):
        pass
    return b"".join(made[0].chunks), stream.checksum_announced


def scan(make: Callable[[bool], Any], data: bytes, checksum: bool, rng: random.Random) -> list[Record]:
    """Every record of ``data`` fed in random cuts, as the stream feeds them (again with nothing while the
    scanner pauses after an event it leaves to the reader)."""
    scanner = make(checksum)
    records: list[Record] = []
    pos = 0
    while True:
        if scanner.wanted == 0:
            chunk = b""
        elif pos >= len(data):
            break
        else:
            size = rng.choice([1, 3, 5, 17, 200, 4096, 65536, 1 << 20])
            chunk = data[pos : pos + max(size, scanner.wanted if rng.random() < 0.5 else 1)]
            pos += len(chunk)
        out = scanner.feed(chunk)
        records += out
        if out and out[-1][0] == framing.PACKET:
            break
    return records


def compiled(checksum: bool) -> Any:
    module = native.extension("_rows")
    assert module is not None, "binlake.native._rows is not built: run bash scripts/install.sh"
    return module.Scanner(checksum)


def assert_same(data: bytes, checksum: bool, seed: int) -> list[Record]:
    expected = scan(framing.Scanner, data, checksum, random.Random(seed))
    for cut_seed in (seed, seed + 1000):  # two other ways to cut the same bytes
        actual = scan(compiled, data, checksum, random.Random(cut_seed))
        assert len(actual) == len(expected)
        for number, (a, b) in enumerate(zip(actual, expected, strict=True)):
            assert a == b, f"record {number} differs: compiled {a[:4]}, python {b[:4]}"
    return expected


@pytest.mark.parametrize("seed", [41, 42])
def test_compiled_scanner_matches_python_over_random_workloads(sandbox_info: SandboxInfo, seed: int) -> None:
    conn = connect(sandbox_info)
    schema = f"framing_{seed}_{int(time.time() * 1000) % 100_000_000}"
    workload = Workload(conn, seed, schema, Options(tables=4, rotate=0.05, switch_checksum=0.1))
    try:
        cur = conn.cursor()
        cur.execute("SELECT @@global.binlog_checksum")
        with global_setting(conn, "binlog_checksum", cur.fetchone()[0]):
            workload.create_schema()
            start = binlog_position(conn)
            workload.run(150)
            cur.execute(f"CREATE TABLE `{schema}`.big (id INT PRIMARY KEY, b LONGBLOB)")
            cur.execute(f"INSERT INTO `{schema}`.big VALUES (1, REPEAT('x', 20 * 1024 * 1024))")
            conn.commit()
        data, checksum = raw_dump(sandbox_info, start)
        records = assert_same(data, checksum, seed)
        kinds = {r[0] for r in records}
        assert {19, 2, 4, 15, 23, 24, 25}.issubset(kinds)  # table maps, queries, rotations, rows of I, U, D
        assert any(len(r[4]) > framing.MAX_PACKET for r in records)  # the 20 MB row: packets joined
        assert any(r[5] > 255 for r in records)  # the wide table: a multi-byte column count
        rng = random.Random(seed)
        for _ in range(6):  # a flipped byte: both stop at the same event (its CRC, or a header that cannot parse)
            at = rng.randrange(len(data) // 10, len(data))
            broken = data[:at] + bytes([data[at] ^ 0x5A]) + data[at + 1 :]
            assert_same(broken, checksum, rng.randrange(1000))
        # The reader on both paths: the same items, rows decoded alike.
        python_items = _items(sandbox_info, start, {schema, workload.old_schema}, pure=True)
        compiled_items = _items(sandbox_info, start, {schema, workload.old_schema}, pure=False)
        assert python_items == compiled_items
        assert any(len(str(item[3])) > 20 * 1024 * 1024 for item in python_items if item[0] == "rows")
    finally:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{schema}`")
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{workload.old_schema}`")
        conn.close()


def _items(info: SandboxInfo, start: BinlogPosition, schemas: set[str], pure: bool) -> list[tuple[Any, ...]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BINLAKE_PURE_PYTHON", "1" if pure else "")
        items = read_binlake(info, start, schemas)
    out: list[tuple[Any, ...]] = []
    for item in items:
        if isinstance(item, RowChanges):
            out.append(("rows", item.kind, str(item.position), item.rows))
        else:
            out.append((type(item).__name__, repr(item), "", ""))
    return out
