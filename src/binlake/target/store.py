"""A bucket: a local directory or an S3 (or S3-compatible) bucket, behind pyarrow's filesystems.

Files are published atomically: a local file is written under a temporary name and renamed; an S3
object appears only when its upload completes. A reader never sees half a file.

Durability (invariant 2): on a local bucket a rename is only in the page cache until it is synced, so a
power loss could leave a checkpoint pointing past a file that is empty or gone. ``publish`` remembers what
it renamed, and ``sync`` (the barrier a caller runs once before it records a position the files cover)
fsyncs those files and their directories, each once. On S3 a published object is durable when its upload
has completed, so ``sync`` has nothing to do. Deletions (``discard``, ``delete_prefix``) sync their
directory at once: the caller records their effect next.

On S3, pyarrow keeps a "directory" alive after deleting its last object by writing a zero-byte marker
object named ``<folder>/``; a reload therefore leaves ``<BucketFolder>/<schema>/<table>/`` next to the
new LOAD files. Readers (pyarrow, Spark, Athena, DuckDB globs) treat it as a folder, not as data.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs

from binlake.config.endpoint import S3Settings
from binlake.errors import BinlakeError, TransientError

TEMP_SUFFIX = ".binlake-tmp"
# How S3 errors read: pyarrow spells the AWS SDK's codes (NO_SUCH_BUCKET), S3 itself CamelCase (NoSuchBucket).
NO_BUCKET_ERRORS = ("NO_SUCH_BUCKET", "NoSuchBucket", "The specified bucket does not exist")
DENIED_ERRORS = (
    "ACCESS_DENIED",
    "AccessDenied",
    "Forbidden",
    "INVALID_ACCESS_KEY_ID",
    "InvalidAccessKeyId",
    "SIGNATURE_DOES_NOT_MATCH",
    "SignatureDoesNotMatch",
    "EXPIRED_TOKEN",
    "ExpiredToken",
    "INVALID_TOKEN",
    "InvalidToken",
)


@dataclass
class ObjectInfo:
    path: str  # relative to the bucket root
    size: int
    mtime: float | None


class Bucket:
    """Where a target endpoint's files go; every path here is relative to the bucket root."""

    def __init__(self, fs: pafs.FileSystem, root: str, url: str, local: bool) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self.url = url
        self.local = local
        self._unsynced_files: set[str] = set()  # full paths published since the last sync
        self._unsynced_dirs: set[str] = set()  # directories whose entries changed since the last sync
        self._sync_lock = threading.Lock()

    @classmethod
    def open(cls, settings: S3Settings) -> Bucket:
        if settings.is_local:
            path = settings.BucketName.removeprefix("file://")
            root = os.path.abspath(path)
            return cls(pafs.LocalFileSystem(), root, root, local=True)
        name = settings.BucketName.removeprefix("s3://").strip("/")
        kwargs: dict[str, object] = {
            "region": settings.Region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or "us-east-1"
        }
        if settings.EndpointUrl:
            scheme, _, host = settings.EndpointUrl.rstrip("/").partition("://")
            kwargs.update(endpoint_override=host or scheme, scheme=scheme if host else "https")
        if os.environ.get("AWS_ACCESS_KEY_ID"):
            kwargs.update(
                access_key=os.environ["AWS_ACCESS_KEY_ID"],
                secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
                session_token=os.environ.get("AWS_SESSION_TOKEN"),
            )
        kwargs.update(connect_timeout=5, request_timeout=30, retry_strategy=pafs.AwsStandardS3RetryStrategy(3))
        return cls(pafs.S3FileSystem(**kwargs), name, f"s3://{name}", local=False)

    def duckdb_path(self, path: str) -> str:
        """``path`` as DuckDB names it: absolute for a local bucket, ``<protocol>://bucket/key`` for S3 (served
        by the filesystem ``register_with_duckdb`` installs)."""
        if self.local:
            return self.full(path)
        return f"{self.duckdb_protocol}://{self.full(path)}"

    @property
    def duckdb_protocol(self) -> str:
        return "binlake-s3-" + "".join(ch if ch.isalnum() else "-" for ch in self.url.removeprefix("s3://"))

    def register_with_duckdb(self, conn: object) -> None:
        """Let DuckDB read this S3 bucket through pyarrow (DuckDB's own httpfs would download itself)."""
        if self.local:
            return
        from fsspec.implementations.arrow import ArrowFSWrapper

        protocol = self.duckdb_protocol

        class BucketFileSystem(ArrowFSWrapper):
            @classmethod
            def _strip_protocol(cls, path: str | list[str]) -> str | list[str]:
                if isinstance(path, list):
                    return [cls._strip_protocol(p) for p in path]  # type: ignore[misc]
                return path.split("://", 1)[-1].lstrip("/")

        BucketFileSystem.protocol = protocol
        conn.register_filesystem(BucketFileSystem(self.fs))  # type: ignore[attr-defined]

    def full(self, path: str) -> str:
        return f"{self.root}/{path}" if path else self.root

    def check_writable(self) -> None:
        """Raise a one-line error when the bucket is missing or not writable."""
        # On S3 only the bucket must exist: a key prefix in BucketName ("s3://name/prefix") is made by writing.
        checked = self.root if self.local else self.root.partition("/")[0]
        try:
            info = self.fs.get_file_info(checked)
        except OSError as exc:
            raise self._explain(exc) from None
        if info.type == pafs.FileType.NotFound:
            if self.local:
                raise BinlakeError(f"bucket directory {self.root} does not exist", fix=f"mkdir -p {self.root}")
            raise self._no_bucket()
        if self.local and info.type != pafs.FileType.Directory:
            raise BinlakeError(f"bucket path {self.root} is not a directory", fix="point BucketName at a directory")
        probe = f".binlake-write-test-{uuid.uuid4().hex}"
        try:
            with self.fs.open_output_stream(self.full(probe)) as out:
                out.write(b"ok")
            self.fs.delete_file(self.full(probe))
        except OSError as exc:
            raise self._explain(exc, writing=True) from None

    def explain(self, exc: OSError, writing: bool = True) -> BinlakeError:
        """An error of this bucket as one line: on S3, ``TransientError`` (retried with backoff by the engine)
        unless it is a missing bucket or denied access, which no retry mends."""
        return self._explain(exc, writing)

    def _explain(self, exc: OSError, writing: bool = False) -> BinlakeError:
        text = str(exc).splitlines()[0]
        if self.local:
            return BinlakeError(
                f"cannot write to bucket directory {self.root} ({text})",
                fix=f"make {self.root} writable by this user",
            )
        if any(code in text for code in NO_BUCKET_ERRORS):
            return self._no_bucket()
        if any(code in text for code in DENIED_ERRORS):
            return BinlakeError(
                f"access to {self.url} denied ({text})",
                fix="check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY and the bucket policy",
            )
        # Anything else (connection refused or reset, a timeout, 5xx, SlowDown/throttling) may pass.
        action = "write to" if writing else "reach"
        return TransientError(f"cannot {action} {self.url} ({text})", fix="check EndpointUrl, Region and the network")

    def write_error(self, exc: OSError, path: str) -> BinlakeError:
        """A failed write as one line: a full disk or a bucket that became read-only stops the task, whose
        checkpoint still precedes every change not written; resume-processing writes them once space is back.
        On S3, a passing error (connection refused, 5xx, throttling) is a ``TransientError``, retried."""
        if not self.local:
            return self._explain(exc, writing=True)
        text = str(exc).splitlines()[0]
        resume = "then start-replication-task --start-replication-task-type resume-processing"
        if exc.errno == errno.ENOSPC or "No space left" in text:
            return BinlakeError(
                f"no space left in {self.url} writing {path}",
                fix=f"free space on that filesystem (or point BucketName at a larger one), {resume}",
            )
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM) or any(code in text for code in DENIED_ERRORS):
            return BinlakeError(
                f"{self.url} refused writing {path} ({text})",
                fix=f"make the bucket writable again (permissions, read-only mount, bucket policy), {resume}",
            )
        return BinlakeError(f"cannot write {path} to {self.url} ({text})", fix=f"check the bucket, {resume}")

    def _no_bucket(self) -> BinlakeError:
        bucket = self.root.partition("/")[0]
        return BinlakeError(f"bucket s3://{bucket} does not exist", fix="create the bucket or fix BucketName")

    def open_temp_output(self, path: str) -> tuple[pa.NativeFile, str]:
        """A stream for ``path`` that becomes visible under its name only at ``publish``."""
        parent = path.rpartition("/")[0]
        temp = f"{path}{TEMP_SUFFIX}" if self.local else path
        try:
            if self.local:
                self._create_dirs(self.full(parent))
            return self.fs.open_output_stream(self.full(temp)), temp
        except OSError as exc:
            raise self.write_error(exc, path) from None

    def _create_dirs(self, directory: str) -> None:
        """``mkdir -p``; each new directory's entry in its parent is synced at the next ``sync``."""
        missing = []
        while not os.path.isdir(directory):
            missing.append(directory)
            directory = os.path.dirname(directory)
        for path in reversed(missing):
            with contextlib.suppress(FileExistsError):
                os.mkdir(path)
        with self._sync_lock:
            self._unsynced_dirs.update(os.path.dirname(path) for path in missing)

    def publish(self, temp: str, path: str) -> None:
        """Make ``path`` visible; on a local bucket it is durable after the next ``sync``."""
        if temp != path:
            full = self.full(path)
            os.replace(self.full(temp), full)
            with self._sync_lock:
                self._unsynced_files.add(full)
                self._unsynced_dirs.add(os.path.dirname(full))

    def write_back(self, temp: str) -> None:
        """Write an unpublished local file's data to disk now (not its name: ``sync`` does that after
        ``publish``). Nothing to do on S3."""
        if self.local:
            fd = os.open(self.full(temp), os.O_RDONLY)
            try:
                _fdatasync(fd)
            finally:
                os.close(fd)

    def sync(self) -> None:
        """The durability barrier: every file published so far, and its directory entry, survives a power
        loss once this returns. Call it once per flush, before the checkpoint that covers the files."""
        with self._sync_lock:
            files, self._unsynced_files = sorted(self._unsynced_files), set()
            dirs, self._unsynced_dirs = sorted(self._unsynced_dirs), set()
        for path in files:
            # The data first, then the names: a directory entry never points at a file whose data is lost.
            with contextlib.suppress(FileNotFoundError):  # replaced or discarded since
                fsync_path(path)
        for path in dirs:
            with contextlib.suppress(FileNotFoundError):
                fsync_path(path)

    def discard(self, temp: str, strict: bool = True) -> None:
        """Drop an unpublished file. On S3, closing the stream (as an abort does) completes the upload, so the
        object is deleted again if it appeared. A local deletion is synced before this returns. ``strict``:
        an S3 failure raises (intent recovery must not forget a file it could not delete); otherwise it is
        ignored (cleaning up after an error that is already being raised)."""
        if self.local:
            full = self.full(temp)
            with self._sync_lock:
                self._unsynced_files.discard(full)
            try:
                os.unlink(full)
            except FileNotFoundError:
                return
            fsync_path(os.path.dirname(full))
            return
        try:
            if self.fs.get_file_info(self.full(temp)).type == pafs.FileType.File:
                self.fs.delete_file(self.full(temp))
        except OSError as exc:
            if strict:
                raise self._explain(exc, writing=True) from None

    def list(self, prefix: str) -> list[ObjectInfo]:
        selector = pafs.FileSelector(self.full(prefix), recursive=True, allow_not_found=True)
        try:
            infos = self.fs.get_file_info(selector)
        except OSError as exc:
            raise self._explain(exc) from None
        start = len(self.root) + 1
        return sorted(
            (
                ObjectInfo(info.path[start:], info.size or 0, info.mtime.timestamp() if info.mtime else None)
                for info in infos
                if info.type == pafs.FileType.File and not info.path.endswith(TEMP_SUFFIX)
            ),
            key=lambda o: o.path,
        )

    def remove_temp_files(self, prefix: str) -> int:
        """Delete the unpublished files a killed writer left under ``prefix``; returns how many. (On S3 an
        unfinished upload never becomes an object, so there is nothing to remove.)"""
        if not self.local or not os.path.isdir(self.full(prefix)):
            return 0
        selector = pafs.FileSelector(self.full(prefix), recursive=True, allow_not_found=True)
        stale = [i.path for i in self.fs.get_file_info(selector) if i.path.endswith(TEMP_SUFFIX)]
        for path in stale:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        for directory in {os.path.dirname(path) for path in stale}:
            fsync_path(directory)
        return len(stale)

    def delete_prefix(self, prefix: str) -> None:
        """Remove every object under ``prefix`` (a table's folder before a reload)."""
        full = self.full(prefix)
        if self.local:
            if Path(full).exists():
                self.fs.delete_dir_contents(full, missing_dir_ok=True)
                fsync_path(full)
            return
        # One listing and batched DeleteObjects calls (1000 keys each), not a HEAD+DELETE per object.
        try:
            self.fs.delete_dir_contents(full, missing_dir_ok=True)
        except OSError as exc:
            raise self._explain(exc, writing=True) from None


# The data without the metadata, where the platform has it (macOS has no fdatasync).
_fdatasync = getattr(os, "fdatasync", os.fsync)


def fsync_path(path: str) -> None:
    """fsync a file or a directory by name (a directory's fsync makes its entries durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
