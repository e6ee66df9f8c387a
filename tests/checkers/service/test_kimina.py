"""kimina's API read and mapped: statuses as kimina's own client computes them, raw strings kept."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calib_async.checkers.service import kimina
from calib_async.checkers.service.answer import BadReply
from calib_async.records import Outcome, TimeoutKind


def reply(sid: str = "s", **result: Any) -> bytes:
    return json.dumps({"results": [{"id": sid, "time": 0.5, **result}]}).encode()


def msg(severity: str, data: str, line: int = 1) -> dict[str, Any]:
    return {"severity": severity, "pos": {"line": line, "column": 0}, "data": data}


HEARTBEAT = (
    "(deterministic) timeout at `whnf`, maximum number of heartbeats (200000) has been reached"
)
CASES = [
    # (result fields, server status, outcome, reason, timeout kind)
    ({"response": {"env": 0}}, "valid", Outcome.VERIFIED, "valid", None),
    (
        {"response": {"env": 0, "sorries": [{"goal": "⊢ True"}]}},
        "sorry",
        Outcome.PROOF_INVALID,
        "sorry",
        None,
    ),
    (
        {"response": {"messages": [msg("error", "unknown identifier 'x'")]}},
        "lean_error",
        Outcome.PROOF_INVALID,
        "lean_error",
        None,
    ),
    (
        {"response": {"messages": [msg("error", HEARTBEAT)]}},
        "lean_error",
        Outcome.VERIFIER_TIMEOUT,
        "heartbeat",
        TimeoutKind.HEARTBEAT,
    ),
    (
        {"error": "Lean REPL command timed out in 2.0 seconds"},
        "timeout_error",
        Outcome.VERIFIER_TIMEOUT,
        "timeout",
        TimeoutKind.WALL,
    ),
    (
        {"error": "Lean REPL header command timed out in 2 seconds"},
        "timeout_error",
        Outcome.VERIFIER_TIMEOUT,
        "cold_start",
        TimeoutKind.WALL,
    ),
    ({"error": "No available REPLs"}, "server_error", Outcome.VERIFIER_ERROR, "capacity", None),
    (
        {"error": "Snippet execution failed: JSON decode error"},
        "server_error",
        Outcome.VERIFIER_ERROR,
        "crash",
        None,
    ),
    ({"error": "something else"}, "server_error", Outcome.VERIFIER_ERROR, "server_error", None),
    (
        {"response": {"message": "Unknown environment."}},
        "repl_error",
        Outcome.VERIFIER_ERROR,
        "repl_error",
        None,
    ),
]


@pytest.mark.parametrize(("fields", "status", "outcome", "reason", "kind"), CASES)
def test_mapping_keeps_the_raw_status_and_error(
    fields: dict[str, Any], status: str, outcome: Outcome, reason: str, kind: TimeoutKind | None
) -> None:
    answer = kimina.read_reply(reply(**fields), "s")
    assert answer.server_status == status
    mapped = kimina.map_answer(answer)
    assert (mapped.outcome, mapped.reason.value, mapped.timeout_kind) == (outcome, reason, kind)
    if "error" in fields:
        assert answer.raw_error == fields["error"] == mapped.first_error


def test_repl_uuid_and_server_time_are_read() -> None:
    answer = kimina.read_reply(reply(response={"env": 0}, diagnostics={"repl_uuid": "abc"}), "s")
    assert (answer.repl_uuid, answer.server_time_s) == ("abc", 0.5)


def test_a_result_for_another_id_is_a_bad_reply() -> None:
    with pytest.raises(BadReply, match="0 results"):
        kimina.read_reply(reply("other", response={"env": 0}), "s")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["id", "results", "error", "response", "messages", "time", "x"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@given(JSON)
def test_any_json_is_read_or_refused_with_bad_reply(doc: Any) -> None:
    body = json.dumps(doc).encode()
    try:
        answer = kimina.read_reply(body, "s")
    except BadReply:
        return
    assert kimina.map_answer(answer).outcome in Outcome


@given(st.binary(max_size=200))
def test_any_bytes_are_read_or_refused_with_bad_reply(body: bytes) -> None:
    with contextlib.suppress(BadReply):
        kimina.read_reply(body, "s")


def test_request_timeout_is_whole_seconds_rounded_up() -> None:
    assert [kimina.request_timeout(t) for t in (0.2, 1.0, 2.5, 10.0)] == [1, 1, 3, 10]


def test_body_line_offset_counts_the_header_lines_the_server_moves() -> None:
    assert kimina.body_line_offset("import Mathlib\n\nimport Foo\ntheorem t := x\n") == 3
    assert kimina.body_line_offset("theorem t := x\n") == 0
