"""Endpoints as DMS defines them: a MySQL/MariaDB source and an S3 target (S3Settings)."""

from __future__ import annotations

import difflib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from binlake.config.secret import SecretRef
from binlake.dms import EndpointType
from binlake.errors import BinlakeError

SSL_MODES = ("none", "require", "verify-ca", "verify-full")
# DMS S3 settings binlake accepts and has nothing to do with here (no IAM, no KMS).
IGNORED_S3_SETTINGS = ("ServiceAccessRoleArn", "BucketOwner", "ExpectedBucketOwner")


@dataclass
class S3Settings:
    """DMS's S3Settings. Units and defaults as in DMS, except DataFormat, which defaults to parquet."""

    BucketName: str = ""
    """An S3 bucket name (``s3://name`` or a name with EndpointUrl), or a local directory path."""
    BucketFolder: str = ""
    """Prefix under the bucket; files land in ``<BucketFolder>/<schema>/<table>/``."""
    DataFormat: str = "parquet"
    """parquet or csv."""
    CompressionType: str = "NONE"
    """NONE or GZIP. Parquet with NONE is written with Snappy (DMS writes it uncompressed: docs/contract.md)."""
    IncludeOpForFullLoad: bool = False
    """Write the Op column (always 'I') in LOAD files too."""
    TimestampColumnName: str = ""
    """When set, a column of this name holds the source commit time (full load: the read time)."""
    TimestampColumnType: str = "string"
    CdcCommitOrderColumnName: str = ""
    """binlake: when set, every CDC row gets a column of this name, a string that sorts in commit order
    (binlog file number, commit log_pos, row index in the transaction; see docs/layout.md). Empty: DMS's layout."""
    """binlake: the TimestampColumnName column's type: string (DMS's '2022-07-26 06:46:18.616807') or timestamp."""
    MaxFileSize: int = 1_048_576
    """Largest file in KB before a new LOAD file is started."""
    CdcMaxBatchInterval: float = 60
    """Seconds at most between CDC files."""
    CdcMinFileSize: int = 32_000
    """KB of changes that cut a CDC file before CdcMaxBatchInterval."""
    CdcInsertsOnly: bool = False
    CdcInsertsAndUpdates: bool = False
    DatePartitionEnabled: bool = False
    DatePartitionSequence: str = "YYYYMMDD"
    DatePartitionDelimiter: str = "SLASH"
    CsvDelimiter: str = ","
    CsvRowDelimiter: str = "\n"
    CsvNullValue: str = ""
    AddColumnName: bool = False
    """CSV: write a header row."""
    ParquetVersion: str = "parquet-1-0"
    EnableStatistics: bool = True
    ParquetTimestampInMillisecond: bool = False
    EndpointUrl: str = ""
    """binlake: an S3-compatible endpoint URL (MinIO, Ceph, moto ...). Empty: AWS."""
    Region: str = ""
    """binlake: the bucket's region; empty takes AWS_REGION or us-east-1."""

    @classmethod
    def from_json(cls, text: str) -> S3Settings:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BinlakeError(f"--s3-settings is not valid JSON ({exc.msg} at char {exc.pos})") from None
        if not isinstance(raw, dict):
            raise BinlakeError("--s3-settings must be a JSON object", fix='e.g. {"BucketName": "./lake"}')
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> S3Settings:
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key in IGNORED_S3_SETTINGS:
                continue
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"did you mean {close[0]}?" if close else f"known settings: {', '.join(known)}"
                raise BinlakeError(f"unknown S3 setting {key!r}", fix=hint)
            default = getattr(cls, key)
            values[key] = _coerce(key, value, default)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if not self.BucketName:
            raise BinlakeError("S3 settings lack BucketName", fix='add "BucketName": "<bucket or local directory>"')
        choices = {
            "DataFormat": ("parquet", "csv"),
            "CompressionType": ("NONE", "GZIP"),
            "DatePartitionSequence": ("YYYYMMDD", "YYYYMMDDHH", "YYYYMM", "MMYYYYDD", "DDMMYYYY"),
            "DatePartitionDelimiter": ("SLASH", "UNDERSCORE", "DASH", "NONE"),
            "ParquetVersion": ("parquet-1-0", "parquet-2-0"),
            "TimestampColumnType": ("string", "timestamp"),
        }
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise BinlakeError(f"{key} {getattr(self, key)!r} is not supported", fix=f"use one of {allowed}")
        if self.MaxFileSize < 1:
            raise BinlakeError(
                f"MaxFileSize must be at least 1 (KB), not {self.MaxFileSize}", fix='e.g. "MaxFileSize": 1048576'
            )
        order = self.CdcCommitOrderColumnName
        if order and order in ("Op", self.TimestampColumnName):
            raise BinlakeError(
                f"CdcCommitOrderColumnName {order!r} is the name of another column binlake writes",
                fix='choose another name, e.g. "CdcCommitOrderColumnName": "binlake_commit_order"',
            )
        if self.CdcInsertsOnly and self.CdcInsertsAndUpdates:
            raise BinlakeError("CdcInsertsOnly and CdcInsertsAndUpdates cannot both be true", fix="set one of them")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def is_local(self) -> bool:
        return not self.BucketName.startswith("s3://") and not self.EndpointUrl

    @property
    def extension(self) -> str:
        base = self.DataFormat
        if self.DataFormat == "csv" and self.CompressionType == "GZIP":
            return "csv.gz"
        return base


def _coerce(key: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise BinlakeError(f"S3 setting {key} must be true or false, not {value!r}", fix=f'e.g. "{key}": true')
    if isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise BinlakeError(f"S3 setting {key} must be a number, not {value!r}", fix=f'e.g. "{key}": {default}')
        try:
            number = float(value)
        except ValueError:
            raise BinlakeError(
                f"S3 setting {key} must be a number, not {value!r}", fix=f'e.g. "{key}": {default}'
            ) from None
        if number < 0:
            raise BinlakeError(
                f"S3 setting {key} must not be negative ({value!r})",
                fix=f'give a number >= 0, or leave {key} out for its default ("{key}": {default})',
            )
        return int(number) if isinstance(default, int) and number.is_integer() else number
    if not isinstance(value, str):
        raise BinlakeError(f"S3 setting {key} must be a string, not {value!r}", fix=f'e.g. "{key}": "{default}"')
    return value


@dataclass
class Endpoint:
    """A DMS endpoint. A source carries a MySQL address; a target carries S3Settings."""

    EndpointIdentifier: str
    EndpointType: str
    EngineName: str
    ServerName: str = ""
    Port: int = 0
    Username: str = ""
    DatabaseName: str = ""
    SslMode: str = "none"
    CertificatePath: str = ""
    PasswordRef: str = ""
    """Where the password lives (``env:NAME`` or ``file:/path``); the password itself is never stored."""
    S3Settings: S3Settings | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_source(self) -> bool:
        return self.EndpointType == EndpointType.SOURCE.value

    def password_ref(self) -> SecretRef:
        return SecretRef.parse(self.PasswordRef)

    def to_json(self) -> str:
        data = asdict(self)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Endpoint:
        data = json.loads(text)
        s3 = data.pop("S3Settings", None)
        endpoint = cls(**data)
        endpoint.S3Settings = S3Settings(**s3) if s3 else None
        return endpoint

    def describe(self) -> dict[str, Any]:
        """DMS's Endpoint JSON shape (no password, ever)."""
        shape: dict[str, Any] = {
            "EndpointIdentifier": self.EndpointIdentifier,
            "EndpointType": self.EndpointType.upper(),
            "EngineName": self.EngineName,
            "EndpointArn": self.EndpointIdentifier,
            "Status": "active",
        }
        if self.is_source:
            shape.update(
                ServerName=self.ServerName,
                Port=self.Port,
                Username=self.Username,
                DatabaseName=self.DatabaseName,
                SslMode=self.SslMode,
            )
        if self.S3Settings is not None:
            shape["S3Settings"] = self.S3Settings.as_dict()
        return shape


def read_json_argument(value: str, option: str) -> str:
    """DMS CLI style: a JSON string, or ``file://path`` to read it from a file."""
    if value.startswith("file://"):
        path = Path(value[len("file://") :])
        try:
            return path.read_text()
        except OSError as exc:
            raise BinlakeError(f"cannot read {option} file {path}: {exc.strerror}", fix="check the path") from None
    return value


def new_endpoint(
    identifier: str,
    endpoint_type: str,
    engine_name: str,
    *,
    server_name: str = "",
    port: int = 0,
    username: str = "",
    database_name: str = "",
    ssl_mode: str = "none",
    certificate: str = "",
    password_ref: str = "",
    s3_settings: str = "",
) -> Endpoint:
    """Validate create-endpoint's arguments into an Endpoint (DMS's rules, one-line errors)."""
    from binlake.dms import SOURCE_ENGINES, TARGET_ENGINES

    if not identifier or not all(ch.isalnum() or ch == "-" for ch in identifier) or not identifier[0].isalpha():
        raise BinlakeError(
            f"endpoint identifier {identifier!r} is not valid",
            fix="use letters, digits and hyphens, starting with a letter",
        )
    endpoint_type = endpoint_type.lower()
    if endpoint_type == EndpointType.SOURCE.value:
        if engine_name not in SOURCE_ENGINES:
            raise BinlakeError(f"source engine {engine_name!r} is not supported", fix=f"use one of {SOURCE_ENGINES}")
        if not server_name or not username:
            raise BinlakeError("a source endpoint needs --server-name and --username")
        if not password_ref:
            raise BinlakeError(
                "a source endpoint needs a password", fix="pass --password-env VARIABLE or --password-file PATH"
            )
        if ssl_mode not in SSL_MODES:
            raise BinlakeError(f"--ssl-mode {ssl_mode!r} is not supported", fix=f"use one of {SSL_MODES}")
        if certificate and not Path(certificate).is_file():
            raise BinlakeError(f"certificate file {certificate} not found", fix="pass the CA file's path")
        return Endpoint(
            identifier,
            endpoint_type,
            engine_name,
            ServerName=server_name,
            Port=port or 3306,
            Username=username,
            DatabaseName=database_name,
            SslMode=ssl_mode,
            CertificatePath=str(Path(certificate).absolute()) if certificate else "",
            PasswordRef=password_ref,
        )
    if endpoint_type == EndpointType.TARGET.value:
        if engine_name not in TARGET_ENGINES:
            raise BinlakeError(f"target engine {engine_name!r} is not supported", fix="use --engine-name s3")
        if not s3_settings:
            raise BinlakeError(
                "a target endpoint needs --s3-settings", fix='e.g. --s3-settings \'{"BucketName": "./lake"}\''
            )
        settings = S3Settings.from_json(read_json_argument(s3_settings, "--s3-settings"))
        if settings.is_local and not settings.BucketName.startswith("file://"):
            settings.BucketName = str(Path(settings.BucketName).absolute())
        return Endpoint(identifier, endpoint_type, engine_name, S3Settings=settings)
    raise BinlakeError(f"endpoint type {endpoint_type!r} is not valid", fix="use --endpoint-type source or target")
