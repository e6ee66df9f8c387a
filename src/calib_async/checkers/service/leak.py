"""State-leak canary pairs for services that share a REPL's environment between snippets.

kimina-lean-server runs a snippet without imports on a REPL whose first command's environment
(``env 0``) every later command starts from, when it reuses the REPL. So whatever the first
snippet declared is visible to later ones: a proof that uses a name it never declares can pass
(a spurious pass), and a proof that declares a name again fails with "already declared" (a
spurious fail). Each pair ``k`` is three header-less snippets, run in order:

``define``     declares ``calib_async_leak_k`` — valid on its own;
``use``        uses ``calib_async_leak_k`` without declaring it — invalid on its own;
``redeclare``  declares ``calib_async_leak_k`` again — valid on its own.

Their truths are known, so the outcomes score directly: ``use`` VERIFIED is a spurious pass,
``define`` or ``redeclare`` PROOF_INVALID a spurious fail. The stand-in REPL's ``uses`` marker
imitates Lean's unknown identifier; real Lean reads the same text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from calib_async.records import Outcome, Truth


class Role(StrEnum):
    DEFINE = "define"
    USE = "use"
    REDECLARE = "redeclare"


TRUTH: Mapping[Role, Truth] = {
    Role.DEFINE: Truth.VERIFIED,
    Role.USE: Truth.INVALID,
    Role.REDECLARE: Truth.VERIFIED,
}


@dataclass(frozen=True, slots=True)
class LeakSnippet:
    pair: int
    role: Role
    text: str

    @property
    def truth(self) -> Truth:
        return TRUTH[self.role]


def leak_name(pair: int) -> str:
    return f"calib_async_leak_{pair}"


def leak_pair(pair: int) -> tuple[LeakSnippet, LeakSnippet, LeakSnippet]:
    name = leak_name(pair)
    define = f"theorem {name} : True := trivial\n"
    use = f"-- standin: uses {name}\ntheorem calib_async_leak_use_{pair} : True := {name}\n"
    return (
        LeakSnippet(pair, Role.DEFINE, define),
        LeakSnippet(pair, Role.USE, use),
        LeakSnippet(pair, Role.REDECLARE, define),
    )


@dataclass(frozen=True, slots=True)
class LeakScore:
    """Spurious passes and fails among decided leak-canary runs."""

    runs: int
    spurious_pass: int  # ``use`` snippets that passed
    spurious_fail: int  # ``define`` / ``redeclare`` snippets that failed as proofs
    undecided: int  # timeouts and errors (neither)

    def as_dict(self) -> dict[str, int]:
        return {
            "runs": self.runs,
            "spurious_pass": self.spurious_pass,
            "spurious_fail": self.spurious_fail,
            "undecided": self.undecided,
        }


def score(results: Iterable[tuple[Role, Outcome]]) -> LeakScore:
    runs = passes = fails = undecided = 0
    for role, outcome in results:
        runs += 1
        if outcome not in (Outcome.VERIFIED, Outcome.PROOF_INVALID):
            undecided += 1
        elif TRUTH[role] is Truth.INVALID and outcome is Outcome.VERIFIED:
            passes += 1
        elif TRUTH[role] is Truth.VERIFIED and outcome is Outcome.PROOF_INVALID:
            fails += 1
    return LeakScore(runs, passes, fails, undecided)
