"""Contender: dlt's ``sql_database`` source → ``filesystem`` destination, Parquet files in a local directory.

The source reads through SQLAlchemy + PyMySQL (``mysql+pymysql://``); ``--backend`` picks dlt's row backend
("pyarrow" or the default "sqlalchemy"). Everything else is dlt's defaults (chunk size, one extract
worker, normalize and load settings); telemetry is switched off and the pipeline's working directory is
kept under ``--work`` so nothing lands in the home directory.

Run by bench/run.py in a child process:
``python bench/dlt_load.py --port P --user U --password-file F --database D --out DIR --work DIR t1 t2``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import quote_plus

import child_args  # bench/child_args.py: the script's own directory is on sys.path


def main(argv: list[str] | None = None) -> int:
    parser = child_args.parser(__doc__ or "")
    parser.add_argument("--work", required=True, type=Path, help="dlt's pipelines directory")
    parser.add_argument("--backend", default="pyarrow", choices=("pyarrow", "sqlalchemy"))
    args = parser.parse_args(argv)
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("DLT_DATA_DIR", str(args.work / "dlt_data"))

    import dlt
    from dlt.sources.sql_database import sql_database

    password = quote_plus(child_args.password(args))
    credentials = f"mysql+pymysql://{args.user}:{password}@{args.host}:{args.port}/{args.database}?charset=utf8mb4"
    started = time.monotonic()
    source = sql_database(credentials, table_names=list(args.tables), backend=args.backend)
    pipeline = dlt.pipeline(
        pipeline_name=f"bench_{args.backend}",
        pipelines_dir=str(args.work / "pipelines"),
        destination=dlt.destinations.filesystem(bucket_url=args.out.absolute().as_uri()),
        dataset_name=args.database,
    )
    info = pipeline.run(source, loader_file_format="parquet")
    seconds = time.monotonic() - started
    rows = pipeline.last_trace.last_normalize_info.row_counts if pipeline.last_trace else {}
    json.dump(
        {
            "tables": {t: {"rows": int(rows.get(t, 0))} for t in args.tables},
            "seconds": seconds,
            "failed": bool(info.has_failed_jobs),
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
