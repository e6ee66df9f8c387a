"""A simulated proof checker that behaves like ``lean FILE``. Standard library only.

It is a real process: it burns real CPU, allocates (and touches) real memory and sleeps for the
rest of a drawn duration, then prints Lean-formatted diagnostics on stdout and exits 0 or 1 as
Lean does (1 iff an error was printed). It is run by file path with ``python -I -S`` so that it
starts in about 20 ms; it must not import anything outside the standard library.

What it does is decided by the proof file, as Lean's behaviour is:

* a pragma line ``-- @sim scale_ms=230 shape=1.5 mem_mb=40 miss=0.3 flake=0.04`` gives the
  item's difficulty (Weibull duration scale and shape), its memory need, the chance that the
  checker misses a subtle error (``miss``) and the chance of a resource-related spurious
  failure (``flake``). The generator (``calib_async.corpus.synthetic``) writes these; the pipeline
  never reads them.
* the proof body decides validity: ``sorry`` or ``admit`` (warning only, exit 0),
  ``native_decide`` (passes, but ``#print axioms`` shows ``Lean.ofReduceBool``), ``exact
  absurd_...`` (an error), ``exact subtle_gap_...`` (an error the checker misses with
  probability ``miss``), anything else is a valid proof.
* as Lean does, it answers ``#print axioms NAME`` lines (``sorryAx`` for sorry/admit,
  ``Lean.ofReduceBool`` when ``native_decide`` occurs, and every ``axiom X : ...`` the file
  declares), prints ``#eval IO.println "..."`` text as an information message at the
  ``#eval``'s line, and stops at ``#exit`` with Lean's warning (nothing after it runs). Like
  Lean it does not see ``set_option debug.skipKernelTC true``, and does not know the intended
  statement: the canary classes of :mod:`calib_async.corpus.canaries` behave as with Lean.

Randomness is seeded from the file's bytes and the flags, so a run is reproducible. Flags:

``--precision fast|balanced|slow|reference``  how careful the check is: the miss and flake
    chances scale with it (reference is the careful check used for ground truth), and slower
    precisions take longer (they check more). The reference check runs at a quarter of the
    item's time scale: only its verdicts are used (labelling), never its durations, so the
    demo does not wait on it.
``--seed N``  a different seed gives an independent repeat (consensus by repetition).
``--guard S1,S2,..``  seconds around which a drawn duration is never placed (±20 %), so that
    an outcome does not depend on machine load; documented as part of the latent model.
``--burn F``  fraction of the duration spent burning CPU (default 0.04); the rest sleeps.
``--json``  messages as Lean's ``--json`` prints them, one JSON object per line.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
import time

_PRAGMA = re.compile(r"^--\s*@sim\s+(.*)$", re.MULTILINE)
_THEOREM = re.compile(r"^(?:theorem|lemma)\s+([A-Za-z_][\w.']*)", re.MULTILINE)
_PRINT_AXIOMS = re.compile(r"^#print\s+axioms\s+([\w.']+)\s*$", re.MULTILINE)
_AXIOM_DECL = re.compile(r"^axiom\s+([A-Za-z_][\w.']*)\s*:", re.MULTILINE)
_EVAL_PRINT = re.compile(r'^#eval\s+IO\.println\s+"((?:[^"\\]|\\.)*)"\s*$')
_EXIT = re.compile(r"^#exit\s*$", re.MULTILINE)
_NATIVE = re.compile(r"\bnative_decide\b")

#: (miss multiplier, flake multiplier, duration multiplier) per precision.
PRECISION = {
    "fast": (1.0, 1.5, 0.8),
    "balanced": (0.7, 1.0, 1.0),
    "slow": (0.5, 0.6, 1.25),
    "reference": (0.1, 0.15, 0.25),  # ground truth only: its durations are never fitted
}
GUARD_BAND = 0.2

FLAKE_MESSAGES = (
    "(kernel) deep recursion detected",
    "failed to create thread",
)


def parse_pragma(text: str) -> dict[str, float]:
    params = {"scale_ms": 100.0, "shape": 1.5, "mem_mb": 20.0, "miss": 0.0, "flake": 0.0}
    match = _PRAGMA.search(text)
    if match:
        for part in match.group(1).split():
            key, _, value = part.partition("=")
            if key in params:
                params[key] = float(value)
    return params


def draw_duration_s(
    rng: random.Random, scale_ms: float, shape: float, guards: list[float]
) -> float:
    """A Weibull(shape, scale) draw in seconds, redrawn while inside a guard band."""
    for _ in range(1000):
        d = rng.weibullvariate(scale_ms / 1000.0, shape)
        if all(abs(d - g) > GUARD_BAND * g for g in guards):
            return d
    return d


def burn(seconds: float) -> None:
    end = time.process_time() + seconds
    x = 0
    while time.process_time() < end:
        for i in range(2000):
            x ^= i * i
    del x


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    precision, seed, guards, burn_fraction, path = "balanced", 0, [], 0.04, None
    as_json = False
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--precision":
            precision, i = args[i + 1], i + 2
        elif a == "--seed":
            seed, i = int(args[i + 1]), i + 2
        elif a == "--guard":
            guards, i = [float(g) for g in args[i + 1].split(",") if g], i + 2
        elif a == "--burn":
            burn_fraction, i = float(args[i + 1]), i + 2
        elif a == "--json":
            as_json, i = True, i + 1
        elif a == "--version":
            print("Lean (version 4.0.0-sim, calib-async simulated checker)")
            return 0
        else:
            path, i = a, i + 1
    if path is None or precision not in PRECISION:
        print("usage: simulated_checker [--precision P] [--seed N] FILE", file=sys.stderr)
        return 2
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        print(f"{path}: error: file not found: {exc.strerror}")
        return 1
    text = data.decode("utf-8", errors="replace")
    params = parse_pragma(text)
    miss_mul, flake_mul, dur_mul = PRECISION[precision]
    digest = hashlib.sha256(data + f"|{precision}|{seed}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))

    duration = draw_duration_s(rng, params["scale_ms"] * dur_mul, params["shape"], guards)
    flake = rng.random() < min(1.0, params["flake"] * flake_mul)
    missed = rng.random() < min(1.0, params["miss"] * miss_mul)

    # Real work: touch the memory, burn part of the duration, sleep the rest.
    start = time.monotonic()
    block = bytearray(int(params["mem_mb"] * 1024 * 1024))
    for off in range(0, len(block), 4096):
        block[off] = 1
    burn(duration * burn_fraction)
    remaining = duration - (time.monotonic() - start)
    if remaining > 0:
        time.sleep(remaining)
    del block

    messages: list[tuple[int, int, str, str]] = []
    exit_at = _EXIT.search(text)
    if exit_at is not None:  # Lean stops here: nothing after #exit is checked
        exit_line = text.count("\n", 0, exit_at.start()) + 1
        text = text[: exit_at.start()]
        messages.append((exit_line, 0, "warning", "using 'exit' to interrupt Lean"))
    lines = text.splitlines()
    for lineno, line in enumerate(lines, start=1):
        stripped = line.strip()
        col = len(line) - len(line.lstrip())
        if stripped in ("sorry", "admit"):
            messages.append((_decl_line(lines, lineno), 8, "warning", "declaration uses 'sorry'"))
        elif stripped.startswith("exact absurd_"):
            name = stripped.split()[1]
            messages.append((lineno, col + 6, "error", f"unknown identifier '{name}'"))
        elif stripped.startswith("exact subtle_gap_") and not missed:
            messages.append(
                (
                    lineno,
                    col,
                    "error",
                    "type mismatch\n  h\nhas type\n  a ≤ b : Prop\n"
                    "but is expected to have type\n  a < b : Prop",
                )
            )
        elif printed := _EVAL_PRINT.match(stripped):
            shown = printed.group(1).replace('\\"', '"').replace("\\\\", "\\")
            messages.append((lineno, 0, "information", shown + "\n"))
    if flake:
        msg = FLAKE_MESSAGES[rng.randrange(len(FLAKE_MESSAGES))]
        messages.append((1, 0, "error", msg))
    for m in _PRINT_AXIOMS.finditer(text):
        lineno = text.count("\n", 0, m.start()) + 1
        messages.append((lineno, 0, "information", _axioms_message(m.group(1), text)))
    for lineno, col, severity, msg in sorted(messages, key=lambda m: (m[0], m[1])):
        if as_json:
            print(json.dumps(_json_message(path, lineno, col, severity, msg), ensure_ascii=False))
        elif severity == "information":
            print(msg.rstrip("\n"))
        else:
            print(f"{path}:{lineno}:{col}: {severity}: {msg}")
    sys.stdout.flush()
    return 1 if any(m[2] == "error" for m in messages) else 0


def _json_message(path: str, line: int, col: int, severity: str, data: str) -> dict[str, object]:
    return {
        "fileName": path,
        "pos": {"line": line, "column": col},
        "endPos": {"line": line, "column": col + 1},
        "severity": severity,
        "caption": "",
        "data": data,
        "kind": "[anonymous]",
    }


def _decl_line(lines: list[str], lineno: int) -> int:
    for j in range(lineno - 1, -1, -1):
        if _THEOREM.match(lines[j]):
            return j + 1
    return 1


def _axioms_message(name: str, text: str) -> str:
    body = _PRINT_AXIOMS.sub("", text)
    axioms = ["propext", "Classical.choice", "Quot.sound"]
    if re.search(r"^\s*(?:sorry|admit)\s*$", body, re.MULTILINE):
        axioms.append("sorryAx")
    if _NATIVE.search("\n".join(ln for ln in body.splitlines() if not ln.startswith("--"))):
        axioms.append("Lean.ofReduceBool")
    axioms += [a for a in _AXIOM_DECL.findall(body) if a not in axioms]
    return f"'{name}' depends on axioms: [{', '.join(sorted(axioms))}]"


if __name__ == "__main__":
    sys.exit(main())
