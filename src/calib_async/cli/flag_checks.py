"""Flag values checked at the boundary: integers that fit, finite numbers, RE2 regexes.

argparse's ``type=int`` accepts any size of integer and ``type=float`` accepts ``inf`` and
``nan``; a value that does not fit would otherwise fail as a traceback deep in numpy, orjson or
a system call. Each problem is reported through ``fail`` (the parser's one-line error, exit 2).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NoReturn

from calib_async.errors import CalibError
from calib_async.inputs import INT32_MAX, INT64_MAX, compile_user_regex, finite_float, kernel_int

#: The most bootstrap replicates any subcommand accepts (each one refits a model).
MAX_BOOTSTRAP = 100_000
#: The most verdict replicates per item and tier (every task is listed before the runs start).
MAX_REPLICATES = 10_000

#: (flag, attribute, minimum, maximum): the integer flags and the types they end up in.
INT_FLAGS = (
    ("--n", "n", 1, INT64_MAX),
    ("--seed", "seed", 0, INT64_MAX),  # numpy's SeedSequence takes non-negative integers
    ("--workers", "workers", 1, INT32_MAX),
    ("--label-sample", "label_sample", 0, INT64_MAX),
    ("--bootstrap", "bootstrap", 0, MAX_BOOTSTRAP),  # each replicate refits: bounded work
    ("--replicates", "replicates", 0, MAX_REPLICATES),  # tasks are listed before they run
    ("--replicate-sample", "replicate_sample", 1, INT64_MAX),
    ("--load-sample", "load_sample", 1, INT64_MAX),
    ("--load-rounds", "load_rounds", 1, MAX_REPLICATES),  # tasks are listed before they run
)
#: Optional integer flags (None when not given).
OPTIONAL_INT_FLAGS = (("--label-budget", "label_budget", 0, INT64_MAX),)


def check_flag_values(args: argparse.Namespace, fail: Callable[[str], NoReturn]) -> None:
    """Call ``fail(message)`` for the first flag whose value does not fit."""
    try:
        for flag, attr, low, high in INT_FLAGS:
            kernel_int(getattr(args, attr), flag, min=low, max=high)
        for flag, attr, low, high in OPTIONAL_INT_FLAGS:
            if getattr(args, attr) is not None:
                kernel_int(getattr(args, attr), flag, min=low, max=high)
        finite_float(args.timeout_multiplier, "--timeout-multiplier", min=1.0)
        finite_float(
            args.validation_split, "--validation-split", min=0.0, max=1.0, max_exclusive=True
        )
        if args.corpus_filter is not None:
            compile_user_regex(args.corpus_filter, "--corpus-filter")
    except CalibError as exc:
        fail(str(exc))
