"""Only for the optional C extension; everything else is in pyproject.toml.

``calib_async.runner._spawn`` starts checkers without a helper exec (see
``src/calib_async/runner/_spawn.h`` for its three C files). It is optional: without a C compiler
the install still succeeds and the runner falls back to its pure-Python spawn path (a dash
wrapper and setpriv).
"""

import sys

from setuptools import Extension, setup

ext = [
    Extension(
        "calib_async.runner._spawn",
        [
            "src/calib_async/runner/_spawn.c",
            "src/calib_async/runner/_spawn_fork.c",
            "src/calib_async/runner/_spawn_pool.c",
        ],
        depends=["src/calib_async/runner/_spawn.h"],
        optional=True,
        extra_compile_args=["-O2", "-Wall"],
    )
]
setup(ext_modules=ext if sys.platform.startswith("linux") else [])
