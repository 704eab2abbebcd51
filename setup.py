"""Compiled parts of binlake (src/binlake/native/), built by ``pip install -e .``; everything else is in pyproject.toml.

Each extension is optional at run time: a missing or broken one falls back to the pure-Python path
(BINLAKE_PURE_PYTHON=1 forces that path).
"""

from setuptools import Extension, setup

ext_modules = [
    Extension("binlake.native._rows", ["src/binlake/native/rows.c"], extra_compile_args=["-O2", "-std=c11"]),
]

setup(ext_modules=ext_modules)
