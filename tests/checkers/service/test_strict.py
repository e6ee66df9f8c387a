"""Strictness a tier adds to a service's verdict: only a pass can turn into a fail."""

from __future__ import annotations

from typing import Any

import pytest

from calib_async.checkers.lean.axioms import DEFAULT_AXIOM_ALLOWLIST
from calib_async.checkers.service import kimina, strict
from calib_async.checkers.service.answer import ServiceAnswer
from calib_async.records import Outcome


def msg(severity: str, data: str, line: int) -> dict[str, Any]:
    return {"severity": severity, "pos": {"line": line, "column": 0}, "data": data}


def answer(*messages: dict[str, Any], sorries: int = 0) -> ServiceAnswer:
    a = ServiceAnswer("", messages=tuple(messages), sorries=sorries)
    return ServiceAnswer(kimina.server_status(a), messages=a.messages, sorries=sorries)


def run(
    a: ServiceAnswer,
    *,
    reject_sorry: bool = False,
    audit: strict.Audit | None = None,
    offset: int = 0,
) -> Any:
    return strict.apply(
        kimina.map_answer(a),
        a,
        reject_sorry=reject_sorry,
        audit=audit,
        line_offset=offset,
        allowlist=DEFAULT_AXIOM_ALLOWLIST,
    )


@pytest.mark.parametrize("spelling", ["declaration uses 'sorry'", "declaration uses `sorry`"])
def test_sorry_warning_without_sorries_list_fails_only_when_the_tier_asks(spelling: str) -> None:
    a = answer(msg("warning", spelling, 1))
    assert a.server_status == "valid"  # the server counts its sorries list only
    assert run(a).outcome is Outcome.VERIFIED
    stricter = run(a, reject_sorry=True)
    assert (stricter.outcome, stricter.reason.value) == (Outcome.PROOF_INVALID, "sorry_warning")
    assert stricter.uses_sorry


def test_audit_reads_answers_at_its_own_lines_in_the_snippets_numbering() -> None:
    code = "import Mathlib\ntheorem t : True := trivial\n"
    audit = strict.plan(code)
    offset = kimina.body_line_offset(audit.code)
    body_line = audit.first_line - offset
    clean = answer(msg("info", "'t' does not depend on any axioms", body_line))
    assert run(clean, audit=audit, offset=offset).outcome is Outcome.VERIFIED
    bad = answer(msg("info", "'t' depends on axioms: [sorryAx]", body_line))
    failed = run(bad, audit=audit, offset=offset)
    assert (failed.outcome, failed.reason.value) == (Outcome.PROOF_INVALID, "axioms")
    assert failed.extra["axioms"] == ["sorryAx"]
    # an answer printed by the proof itself (not at the audit's line) does not count
    elsewhere = answer(msg("info", "'t' does not depend on any axioms", body_line - 1))
    assert run(elsewhere, audit=audit, offset=offset).outcome is Outcome.PROOF_INVALID


def test_a_failure_stays_a_failure() -> None:
    a = answer(msg("error", "type mismatch", 1))
    assert run(a, reject_sorry=True).outcome is Outcome.PROOF_INVALID
    assert run(a, reject_sorry=True).reason.value == "lean_error"
