"""Boundary validators (calib_async.inputs): numbers, text, file names, files, regexes.

YAML documents and JSON lines are in tests/test_inputs_parse.py. Cases that would hang if the
code regressed (a FIFO opened, a catastrophic regex on a backtracking engine) run in a child
interpreter with a 10 s timeout, so a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import calib_async.inputs as inputs
from calib_async.errors import CalibError, CorpusError
from calib_async.inputs import (
    EXIT_STATUS_MAX,
    INT64_MAX,
    check_distinct_paths,
    check_placeholders,
    compile_user_regex,
    describe,
    exit_status,
    finite_float,
    kernel_int,
    no_nul,
    open_regular_file,
    output_file_target,
    regular_file,
    safe_path_name,
    writable_text,
)

SRC = str(Path(inputs.__file__).resolve().parents[2])


def run_child(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that imports this worktree; fail after 10 s."""
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=10,
        env=env,
        check=False,
    )


# ---------------------------------------------------------------------------------------------
# Numbers

numbers = st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True))


@settings(deadline=None)  # a loaded CI host must not fail on timing
@given(numbers, st.floats(-1e6, 1e6), st.floats(-1e6, 1e6), st.booleans())
def test_finite_float_accepts_exactly_the_finite_numbers_in_range(
    value: float, low: float, high: float, exclusive: bool
) -> None:
    try:
        as_float = float(value)
    except OverflowError:
        as_float = math.inf
    inside = math.isfinite(as_float) and (as_float > low if exclusive else as_float >= low)
    inside = inside and as_float <= high
    if inside:
        assert finite_float(value, "x", min=low, max=high, min_exclusive=exclusive) == as_float
    else:
        with pytest.raises(CalibError, match=r"^x must be "):
            finite_float(value, "x", min=low, max=high, min_exclusive=exclusive)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (math.nan, r"^timeout_s must be a finite number, not nan$"),
        (math.inf, r"^timeout_s must be a finite number, not inf$"),
        (10**400, r"^timeout_s must be a finite number, not an integer of 1329 bits$"),
        (True, r"^timeout_s must be a number, not True$"),
        ("1", r"^timeout_s must be a number, not 1$"),
        (0, r"^timeout_s must be > 0, not 0.0$"),
    ],
)
def test_finite_float_refuses_with_one_line(value: object, message: str) -> None:
    with pytest.raises(CalibError, match=message):
        finite_float(value, "timeout_s", min=0, min_exclusive=True)


@given(st.integers())
def test_kernel_int_accepts_exactly_the_ints_that_fit(value: int) -> None:
    if 0 <= value <= INT64_MAX:
        assert kernel_int(value, "--seed", min=0) == value
    else:
        with pytest.raises(CalibError, match=r"^--seed must be an integer from 0 to 9223372036"):
            kernel_int(value, "--seed", min=0)


@given(st.integers(-1000, 1000))
def test_exit_status_is_0_to_255(value: int) -> None:
    if 0 <= value <= EXIT_STATUS_MAX:
        assert exit_status(value, "rule 1: exit_code") == value
    else:
        with pytest.raises(
            CalibError, match=r"^rule 1: exit_code must be an integer from 0 to 255"
        ):
            exit_status(value, "rule 1: exit_code")


def test_kernel_int_names_a_huge_int_by_its_size_not_its_digits() -> None:
    with pytest.raises(
        CalibError, match=r"^--n must be an integer from 1 to \d+, not an integer of 65 bits$"
    ):
        kernel_int(2**64, "--n", min=1)


@pytest.mark.parametrize("value", [True, 1.0, "3", None])
def test_kernel_int_refuses_non_integers(value: object) -> None:
    with pytest.raises(CorpusError, match=r"^memory_limit_mb must be an integer, not "):
        kernel_int(value, "memory_limit_mb", min=1, error=CorpusError)


# ---------------------------------------------------------------------------------------------
# Text


@given(st.text())
def test_no_nul_refuses_exactly_texts_with_nul(text: str) -> None:
    if "\0" in text:
        with pytest.raises(CalibError, match=r"^env PATH contains a NUL character at position \d+"):
            no_nul(text, "env PATH")
    else:
        assert no_nul(text, "env PATH") == text


# about half the examples hold a lone surrogate (st.text() alone never does)
with_surrogate = st.builds(
    lambda head, bad, tail: head + bad + tail,
    st.text(),
    st.characters(categories=["Cs"]),
    st.text(),
)


@given(st.text() | with_surrogate)
def test_writable_text_refuses_exactly_what_utf8_cannot_encode(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        with pytest.raises(
            CalibError, match=r"^attempt code contains a lone surrogate U\+D[89A-F]"
        ):
            writable_text(text, "attempt code")
    else:
        assert writable_text(text, "attempt code") == text


@given(st.one_of(st.text(), st.integers(), st.binary(), st.floats()))
def test_describe_is_always_one_short_line(value: object) -> None:
    shown = describe(value)
    assert "\n" not in shown and "\r" not in shown and len(shown) <= 60


def test_safe_path_name_refuses_non_utf8_names_in_both_forms() -> None:
    raw = b"caf\xe9.lean"
    message = r"^corpus file b'caf\\xe9.lean' is not valid UTF-8; rename the file"
    with pytest.raises(CalibError, match=message):
        safe_path_name(raw, where="corpus file")
    with pytest.raises(CalibError, match=message):
        safe_path_name(os.fsdecode(raw), where="corpus file")  # as os.listdir returns it
    assert safe_path_name("café.lean") == "café.lean"


def test_safe_path_name_refuses_a_real_non_utf8_file_name(tmp_path: Path) -> None:
    fd = os.open(os.fsencode(tmp_path) + b"/bad\xff.lean", os.O_CREAT | os.O_WRONLY, 0o644)
    os.close(fd)
    [name] = os.listdir(tmp_path)
    with pytest.raises(CalibError, match=r"^file name b'bad\\xff.lean' is not valid UTF-8"):
        safe_path_name(name)


def test_unknown_placeholder_names_the_valid_ones() -> None:
    allowed = frozenset({"file", "module"})
    assert check_placeholders('{file} {} {"a": 1}', "command[1]", allowed=allowed)
    with pytest.raises(
        CalibError,
        match=r"^command\[1\]: unknown placeholder \{fiel\}; valid: \{file\}, \{module\}$",
    ):
        check_placeholders("--in={fiel}", "command[1]", allowed=allowed)


# ---------------------------------------------------------------------------------------------
# Files


def test_fifo_is_refused_without_being_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "corpus.txt"
    os.mkfifo(fifo)
    child = run_child(
        f"""
        from pathlib import Path
        from calib_async.errors import CalibError
        from calib_async.inputs import open_regular_file, regular_file
        for check in (regular_file, open_regular_file):
            try:
                check(Path({str(fifo)!r}), "--corpus-path")
            except CalibError as exc:
                print(exc)
        """
    )
    expected = (
        f"--corpus-path {fifo} is a FIFO (named pipe), not a regular file; give a regular file"
    )
    assert child.stdout.splitlines() == [expected, expected], child.stderr


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.mkdir(), r"is a directory, not a regular file; give a regular file$"),
        (lambda p: p.symlink_to(p), r"is a symlink loop; point the link at a file$"),
        (lambda p: None, r"does not exist; check the path$"),
        (lambda p: p.symlink_to("/dev/null"), r"is a character device, not a regular file"),
    ],
    ids=["directory", "symlink-loop", "missing", "device"],
)
def test_regular_file_refuses_what_is_not_a_regular_file(
    tmp_path: Path, make, message: str
) -> None:
    path = tmp_path / "in.txt"
    make(path)
    with pytest.raises(CalibError, match=rf"^--corpus-path {path} {message}"):
        regular_file(path, "--corpus-path")


def test_two_link_loop_and_path_through_a_file_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(CalibError, match=r"^labels .*/a is a symlink loop"):
        regular_file(tmp_path / "a", "labels")
    (tmp_path / "f").write_text("x")
    with pytest.raises(CalibError, match=r"^labels .*/f/x: a parent of it is not a directory"):
        regular_file(tmp_path / "f" / "x", "labels")


def test_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        with pytest.raises(CalibError, match=r"^--config .* is a socket, not a regular file"):
            regular_file(path, "--config")


def test_path_with_nul_is_refused() -> None:
    with pytest.raises(CalibError, match=r"^--config 'a\\x00b' contains a NUL character"):
        regular_file(Path("a\0b"), "--config")


def test_regular_file_through_a_link_is_opened_and_read(tmp_path: Path) -> None:
    (tmp_path / "real").write_bytes(b"data")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert regular_file(tmp_path / "link", "--config").st_size == 4
    with open_regular_file(tmp_path / "link", "--config") as f:
        assert f.read() == b"data"


def test_output_target_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "attempts" / "p1.lean"
    output_file_target(target, "attempt file")  # missing: fine
    target.mkdir(parents=True)
    with pytest.raises(
        CalibError, match=r"^attempt file .*p1.lean exists as a directory; remove it"
    ):
        output_file_target(target, "attempt file")
    target.rmdir()
    target.write_text("")
    output_file_target(target, "attempt file")  # a regular file is overwritten: fine


def test_output_that_is_an_input_is_refused_naming_both_flags(tmp_path: Path) -> None:
    config = tmp_path / "cfg.yaml"
    config.write_text("{}")
    (tmp_path / "alias.yaml").symlink_to(config)
    os.link(config, tmp_path / "hard.yaml")
    for same in (
        config,
        tmp_path / "alias.yaml",
        tmp_path / "hard.yaml",
        tmp_path / "x/../cfg.yaml",
    ):
        with pytest.raises(
            CalibError,
            match=r"^--telemetry-log .* is the same file as --config .*cfg.yaml; "
            r"choose a different --telemetry-log$",
        ):
            check_distinct_paths({"--config": config}, {"--telemetry-log": same})


def test_two_outputs_that_do_not_exist_yet_collide_by_real_path(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "out")
    outputs = {
        "--telemetry-log": tmp_path / "out" / "telemetry.jsonl",
        "--export": tmp_path / "link" / "telemetry.jsonl",
    }
    with pytest.raises(CalibError, match=r"^--export .* is the same file as --telemetry-log "):
        check_distinct_paths({}, outputs)


def test_distinct_paths_pass(tmp_path: Path) -> None:
    (tmp_path / "cfg.yaml").write_text("{}")
    check_distinct_paths(
        {"--config": tmp_path / "cfg.yaml", "--corpus-path": tmp_path / "missing.txt"},
        {"--export": tmp_path / "calibration.yaml", "--telemetry-log": tmp_path / "t.jsonl"},
    )


# ---------------------------------------------------------------------------------------------
# Regexes


def test_catastrophic_regex_finishes() -> None:
    child = run_child(
        """
        from calib_async.inputs import compile_user_regex
        pattern = compile_user_regex(r"(a+)+$", "--corpus-filter")
        print(pattern.search("a" * 50 + "b"), bool(pattern.search("a" * 50)))
        """
    )
    assert child.stdout == "None True\n", child.stderr


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(a)\1", r"backreferences \\1\.\.\\9 are not supported"),
        (r"(?P<x>a)(?P=x)", r"backreferences \(\?P=name\) are not supported"),
        (r"foo(?=bar)", r"lookahead \(\?=\.\.\.\) is not supported"),
        (r"(?<!x)y", r"lookbehind \(\?<!\.\.\.\) is not supported"),
        (r"a++", r"possessive repetition is not supported"),
        (r"end\Z", r"write \\z for the end of the text"),
    ],
)
def test_unsupported_regex_says_what_is_unsupported(pattern: str, reason: str, capfd) -> None:
    with pytest.raises(
        CalibError,
        match=rf"^rule 1: output: cannot use regex .*: RE2 \(linear-time matching\): {reason}$",
    ):
        compile_user_regex(pattern, "rule 1: output")
    assert capfd.readouterr().err == ""  # RE2 does not log the error itself


def test_invalid_regex_gives_re2s_reason() -> None:
    with pytest.raises(CalibError, match=r"^--corpus-filter: cannot use regex \[: missing \]: \[$"):
        compile_user_regex("[", "--corpus-filter")


def test_user_regex_searches_like_re_search() -> None:
    rule = compile_user_regex(r"error: (\w+)", "rule")
    match = rule.search("x\nerror: timeout\n")
    assert match is not None and match.group(1) == "timeout"
    assert rule.search("all good") is None
    assert rule.search("error: \ud800 x") is None  # lone surrogates do not raise
    assert rule == compile_user_regex(r"error: (\w+)", "other") and rule.pattern == r"error: (\w+)"
