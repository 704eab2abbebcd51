"""Compiled extensions (everything else is in pyproject.toml). Each needs gcc, the Python headers and
libmariadb-dev, which scripts/install.sh installs from Debian; without them binlake runs its pure-Python paths."""

from __future__ import annotations

import shlex
import subprocess

from setuptools import Extension, setup


def mariadb_flags() -> tuple[list[str], list[str]]:
    """Compiler and linker flags of the MariaDB C client library (mariadb_config, else pkg-config)."""
    for command in (["mariadb_config"], ["pkg-config", "libmariadb"]):
        try:
            cflags = subprocess.run([*command, "--cflags"], capture_output=True, text=True, check=True).stdout
            libs = subprocess.run([*command, "--libs"], capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            continue
        return shlex.split(cflags), shlex.split(libs)
    return ["-I/usr/include/mariadb"], ["-lmariadb"]


CFLAGS, LIBS = mariadb_flags()
OPTIMIZE = ["-O2", "-std=gnu11", "-Wall", "-Wno-unused-function"]

setup(
    ext_modules=[
        Extension(
            "binlake.native._fetch",
            ["src/binlake/native/_fetch.c"],
            extra_compile_args=CFLAGS + OPTIMIZE,
            extra_link_args=LIBS,
            optional=True,
        ),
        Extension(
            "binlake.native._rows",
            ["src/binlake/native/rows.c", "src/binlake/native/frames.c"],
            extra_compile_args=["-O2", "-std=gnu11"],
            optional=True,
        ),
    ],
)
