"""One JSON value per line, parsed by orjson with a bounded nesting depth."""

from __future__ import annotations

from typing import Any

import orjson

from calib_async.errors import CalibError
from calib_async.inputs.values import Err

JSON_MAX_DEPTH = 64


def parse_json_line(
    line: str | bytes, where: str, *, max_depth: int = JSON_MAX_DEPTH, error: Err = CalibError
) -> Any:
    """One JSON value from ``line``; nesting deeper than ``max_depth`` is refused, fast.

    orjson refuses invalid UTF-8, lone surrogates, NaN/Infinity and depth above 1024 in C;
    a lower ``max_depth`` is checked iteratively: Python code that walks a value
    1000 deep (``repr``, ``json.dumps``, our canonicaliser) runs out of recursion.
    """
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc) or "recursion" in str(exc):
            raise error(
                f"{where}: JSON nested deeper than {max_depth} levels; flatten it"
            ) from None
        raise error(f"{where}: not valid JSON ({exc.msg}); write one JSON value per line") from None
    stack: list[tuple[Any, int]] = [(value, 0)]  # (value, containers around it)
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth >= max_depth:
            raise error(f"{where}: JSON nested deeper than {max_depth} levels; flatten it")
        stack.extend((child, depth + 1) for child in children)
    return value
