"""The stand-in REPL speaks the leanprover-community/repl command-mode protocol."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.repl import BlockingRepl


def test_reply_spans_lines_and_ends_with_a_blank_line() -> None:
    with BlockingRepl() as repl:
        repl.send({"cmd": "theorem a : True := trivial"})
        text = repl.reply_text()
        assert text.count("\n") > 1  # printed over several lines, like Lean's Json.pretty
        assert json.loads(text) == {"env": 0}  # empty messages/sorries are left out


def test_environments_are_numbered_and_reused() -> None:
    with BlockingRepl() as repl:
        assert repl.ask({"cmd": "import Mathlib\ntheorem a : True := trivial"})["env"] == 0
        assert repl.ask({"cmd": "theorem b : True := trivial", "env": 0})["env"] == 1
        again = repl.ask({"cmd": "theorem a : True := trivial", "env": 1})
        assert again["env"] == 2
        assert [m["data"] for m in again["messages"]] == ["'a' has already been declared"]
        assert again["messages"][0]["severity"] == "error"
        # a fresh environment (no env) knows nothing of the others
        assert "messages" not in repl.ask({"cmd": "theorem a : True := trivial"})
        # environment 0 is unchanged by commands run on top of it
        assert "messages" not in repl.ask({"cmd": "theorem b : True := trivial", "env": 0})


def test_unknown_identifier_unless_declared() -> None:
    with BlockingRepl() as repl:
        repl.ask({"cmd": "def x := 1"})
        used = "theorem t : True := by\n  -- standin: uses x\n  trivial"
        assert "messages" not in repl.ask({"cmd": used, "env": 0})
        missing = repl.ask({"cmd": used})
        assert missing["messages"][0]["data"] == "unknown identifier 'x'"
        assert missing["messages"][0]["pos"] == {"line": 2, "column": 0}


def test_sorry_gives_a_warning_and_a_sorries_entry() -> None:
    with BlockingRepl() as repl:
        reply = repl.ask({"cmd": "theorem s : True := by\n  sorry"})
        assert reply["messages"][0]["severity"] == "warning"
        assert reply["messages"][0]["data"] == "declaration uses 'sorry'"
        (entry,) = reply["sorries"]
        assert set(entry) == {"pos", "endPos", "goal", "proofState"}
        axioms = repl.ask({"cmd": "#print axioms s", "env": reply["env"]})
        assert axioms["messages"][0] == {
            "severity": "info",
            "pos": {"line": 1, "column": 0},
            "endPos": {"line": 1, "column": 1},
            "data": "'s' depends on axioms: [sorryAx]",
        }


def test_axiom_audit_and_heartbeats() -> None:
    with BlockingRepl() as repl:
        clean = repl.ask({"cmd": "theorem c : True := trivial\n#print axioms c"})
        assert clean["messages"][0]["data"] == "'c' does not depend on any axioms"
        heavy = "theorem h : True := by\n  -- standin: heartbeats 300000\n  trivial"
        timed_out = repl.ask({"cmd": heavy})
        assert "maximum number of heartbeats (200000)" in timed_out["messages"][0]["data"]
        raised = repl.ask({"cmd": "set_option maxHeartbeats 400000 in\n" + heavy})
        assert "messages" not in raised


def test_unknown_environment() -> None:
    with BlockingRepl() as repl:
        assert repl.ask({"cmd": "def y := 1", "env": 5}) == {"message": "Unknown environment."}


def test_pickle_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "env.olean"
    with BlockingRepl() as repl:
        repl.ask({"cmd": "def z := 1"})
        assert repl.ask({"pickleTo": str(path), "env": 0}) == {"env": 0}
        assert repl.ask({"unpickleEnvFrom": str(path)}) == {"env": 1}
        reply = repl.ask({"cmd": "def z := 2", "env": 1})
        assert reply["messages"][0]["data"] == "'z' has already been declared"


@settings(max_examples=8)
@given(
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1).filter(
        lambda t: not t.lstrip().startswith(("{", "#", "--")) and "\n" not in t and t.strip()
    )
)
def test_malformed_json_kills_the_process(garbage: str) -> None:
    with BlockingRepl() as repl:
        repl.send_raw(garbage + "\n\n")
        assert repl.proc.wait(timeout=30) == 1
        assert repl.proc.stderr is not None
        assert repl.proc.stderr.read().startswith("uncaught exception:")


def test_a_lone_blank_line_kills_it_and_end_of_input_ends_it() -> None:
    with BlockingRepl() as repl:
        repl.send_raw("\n")
        assert repl.proc.wait(timeout=30) == 1
    with BlockingRepl() as repl:
        assert repl.close() == 0


def test_comment_requests_are_skipped() -> None:
    with BlockingRepl() as repl:
        repl.send_raw("# a note\n\n")
        assert repl.ask({"cmd": "def w := 1"}) == {"env": 0}


def test_crash_dies_by_signal_with_its_text_on_stderr() -> None:
    with BlockingRepl() as repl:
        repl.send({"cmd": "-- standin: crash INTERNAL PANIC: out of memory"})
        assert repl.proc.wait(timeout=30) == -signal.SIGSEGV
        assert repl.proc.stderr is not None
        assert "INTERNAL PANIC: out of memory" in repl.proc.stderr.read()


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_alloc_and_leak_keep_memory() -> None:
    with BlockingRepl("--leak-kb", "4096") as repl:
        repl.ask({"cmd": "def a := 1"})
        before = _rss_kb(repl.proc.pid)
        repl.ask({"cmd": "-- standin: alloc 32\ndef b := 1"})
        after = _rss_kb(repl.proc.pid)
        assert after - before >= 32 * 1024  # 32 MiB kept, plus the 4 MiB leak


def test_stderr_and_stdout_noise() -> None:
    with BlockingRepl() as repl:
        repl.send({"cmd": "-- standin: stdout 10\ndef n := 1"})
        assert repl.proc.stdout is not None
        assert repl.proc.stdout.readline().strip() == "y" * 10
        assert json.loads(repl.reply_text()) == {"env": 0}
        repl.send({"cmd": "-- standin: stderr 100\ndef m := 1"})
        assert json.loads(repl.reply_text()) == {"env": 1}
        repl.proc.kill()
        repl.proc.wait()
        assert repl.proc.stderr is not None
        assert repl.proc.stderr.read() == "x" * 100
