"""Time the blow-up cases of issue 15 against calib_async.inputs (and Python's re, side by side).

Run: PYTHONPATH=src python scripts/bench_inputs.py
Prints the best of several runs for each case; tests assert behaviour, this reports speed.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable

from calib_async.errors import CalibError
from calib_async.inputs import compile_user_regex, load_yaml_text, parse_json_line


def best_ms(fn: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        with contextlib.suppress(CalibError):
            fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def bomb(per_level: int) -> str:
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * per_level) + "]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


def main() -> None:
    user = compile_user_regex(r"(a+)+$", "bench")
    print(f"re2   (a+)+$ on 'a'*50+'b': {best_ms(lambda: user.search('a' * 50 + 'b')):.4f} ms")
    python = re.compile(r"(a+)+$")
    for n in (16, 18, 20, 22):
        ms = best_ms(lambda n=n: python.search("a" * n + "b"), repeat=1)
        print(f"re    (a+)+$ on 'a'*{n}+'b': {ms:.1f} ms (doubles per extra 'a'; n=50 ~ years)")
    deep = "[" * 100_000 + "]" * 100_000
    cases: list[tuple[str, Callable[[], object]]] = [
        ("yaml  alias bomb, 90 aliases, 9^10 values", lambda: load_yaml_text(bomb(9), source="b")),
        ("yaml  alias bomb, 108 aliases", lambda: load_yaml_text(bomb(12), source="b")),
        ("yaml  nested 100,000 deep", lambda: load_yaml_text(deep, source="d")),
        ("json  nested 100,000 deep", lambda: parse_json_line(deep, "d")),
    ]
    for name, case in cases:
        print(f"{name}: {best_ms(case):.3f} ms (refused)")


if __name__ == "__main__":
    main()
