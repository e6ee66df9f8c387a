"""Hostile checkers: the profiles of ``CHECKERS`` (helpers/bad_inputs.py) run together in one
calibration (one tier each); each outcome is recorded once, and no detached daemon survives a
cgroup run.
"""

from __future__ import annotations

import pytest

from helpers.bad_inputs import CHECKERS, Checker, log_path, no_traceback, records, run_selected
from helpers.hostile_cli import Done


@pytest.fixture(scope="module")
def results(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Done]:
    return run_selected(request, tmp_path_factory, __name__, [])


@pytest.mark.parametrize("checker", CHECKERS, ids=[c.name for c in CHECKERS])
def test_hostile_checker_outcome_is_recorded(checker: Checker, results: dict[str, Done]) -> None:
    done = results["checkers"]
    no_traceback(done)
    assert done.returncode == 0, done.stderr[-3000:]
    recs = [r for r in records(log_path(done.dir)) if r["tier"] == checker.name]
    assert len(recs) == 1, "lost or duplicated record"
    record = recs[0]
    assert record["outcome"] == checker.outcome, record
    if checker.check is not None:
        assert checker.check(record) is not False, record
    if checker.name == "forks-a-daemon" and record["cgroup"]:
        assert done.daemons_left == 0, "the detached daemon survived (a cgroup run kills it)"
