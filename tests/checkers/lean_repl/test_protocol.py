"""Framing the REPL's stdout into replies, whatever the chunking, and decoding them."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calib_async.checkers.lean.messages import Severity
from calib_async.checkers.lean_repl.protocol import ReplyFramer, decode_reply, encode_command

REPLIES = [
    {"env": 0},
    {
        "env": 1,
        "messages": [
            {
                "severity": "error",
                "pos": {"line": 2, "column": 4},
                "endPos": None,
                "data": "unknown identifier 'x'\nmore",
            }
        ],
    },
    {"env": 2, "sorries": [{"pos": {"line": 1, "column": 0}, "goal": "⊢ True", "proofState": 0}]},
    {"message": "Unknown environment."},
]


def wire(reply: dict) -> bytes:
    return json.dumps(reply, indent=1, ensure_ascii=False).encode() + b"\n\n"


@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=50))
def test_any_chunking_gives_the_same_replies(cuts: list[int]) -> None:
    data = b"stray print\n" + b"".join(wire(r) for r in REPLIES)
    framer = ReplyFramer()
    got: list[bytes] = []
    at = 0
    for n in cuts * 100:
        if at >= len(data):
            break
        got += framer.feed(data[at : at + n])
        at += n
    got += framer.feed(data[at:])
    assert [json.loads(g) for g in got] == REPLIES
    assert framer.noise_bytes == len(b"stray print\n") and framer.pending == 0


def test_decoding_messages_sorries_and_errors() -> None:
    ok = decode_reply(wire(REPLIES[1])[:-2])
    assert ok.env == 1 and ok.messages[0].severity is Severity.ERROR
    assert ok.messages[0].line == 2 and ok.messages[0].text.startswith("unknown identifier")
    assert decode_reply(wire(REPLIES[2])[:-2]).has_sorries
    assert decode_reply(wire(REPLIES[3])[:-2]).error == "Unknown environment."
    with pytest.raises(ValueError):
        decode_reply(b"[1, 2]")
    with pytest.raises(ValueError):
        decode_reply(b"{not json")


def test_a_request_is_one_object_and_a_blank_line() -> None:
    raw = encode_command("theorem t : True := trivial\n\nexample : True := trivial", 3)
    assert raw.endswith(b"\n\n") and b"\n\n" not in raw[:-2]
    assert json.loads(raw) == {
        "cmd": "theorem t : True := trivial\n\nexample : True := trivial",
        "env": 3,
    }
