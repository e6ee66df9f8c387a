"""``calibrate_noise compare`` on bad input and broken output: special files, alias bombs, deep
or huge YAML, duplicate keys, no tier in common and differing budgets are refused or marked in
one line with exit 2; a closed stdout, a reader that quits and an internal error exit 3, never
the gate's "worse" code 1."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from calib_async.cli import compare as compare_cli
from calib_async.cli.compare import EXIT_FAILED, run_compare
from calib_async.stats.compare import Verdict, compare_calibrations
from helpers import FIXTURES, run_env

DEMO = FIXTURES / "compare" / "demo_seed12345.yaml"
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


def _doc() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(DEMO.read_text()))


def _write(path: Path, doc: Any) -> Path:
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return path


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str], message: str) -> None:
    assert run_compare(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1, err
    assert message in err, err


def test_fifo_is_refused_without_opening_it(tmp_path: Path, capsys) -> None:
    os.mkfifo(tmp_path / "b.yaml")
    _refused([str(DEMO), str(tmp_path / "b.yaml")], capsys, "FIFO")


def test_dev_zero_is_refused(capsys) -> None:
    _refused([str(DEMO), "/dev/zero"], capsys, "character device")


def test_a_directory_is_refused(tmp_path: Path, capsys) -> None:
    _refused([str(tmp_path), str(DEMO)], capsys, "directory")


def test_alias_bomb_is_refused(tmp_path: Path, capsys) -> None:
    _refused([str(DEMO), str(_write(tmp_path / "b.yaml", ALIAS_BOMB))], capsys, "alias")


def test_deep_nesting_is_refused(tmp_path: Path, capsys) -> None:
    deep = "a: " + "[" * 5000 + "]" * 5000 + "\n"
    _refused([str(DEMO), str(_write(tmp_path / "b.yaml", deep))], capsys, "deeper")


def test_huge_file_is_refused(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compare_cli, "MAX_EXPORT_BYTES", 1000)
    big = _write(tmp_path / "b.yaml", "a: " + "x" * 2000 + "\n")
    _refused([str(DEMO), str(big)], capsys, "larger than")


def test_duplicate_tier_keys_are_refused(tmp_path: Path, capsys) -> None:
    text = DEMO.read_text().replace("noise_models:\n", "noise_models:\n  fast: {}\n", 1)
    _refused([str(DEMO), str(_write(tmp_path / "b.yaml", text))], capsys, "duplicate key")


def test_no_tier_in_common_is_an_error_not_a_passing_gate(tmp_path: Path, capsys) -> None:
    doc = _doc()
    doc["noise_models"] = {f"other_{k}": v for k, v in doc["noise_models"].items()}
    _refused([str(DEMO), str(_write(tmp_path / "b.yaml", doc))], capsys, "no tier in common")


def test_differing_budgets_are_not_comparable_never_same() -> None:
    a, b = _doc(), _doc()
    tier = next(iter(b["noise_models"]))
    b["noise_models"][tier]["timeout_s"] = float(a["noise_models"][tier]["timeout_s"]) * 2
    rows = [r for r in compare_calibrations(a, b).rows if r.tier == tier]
    tested = [r for r in compare_calibrations(a, a).rows if r.tier == tier and r.p_value]
    assert tested, "the tier has tested rows when budgets agree"
    tested_verdicts = (Verdict.NOT_SIGNIFICANT, Verdict.WORSE, Verdict.BETTER)
    assert not [r for r in rows if r.verdict in tested_verdicts]
    assert all("budgets differ" in r.note for r in rows if r.verdict is Verdict.NOT_COMPARABLE)


def _cli(*args: str, **popen: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "calib_async", "compare", *args],
        stderr=subprocess.PIPE,
        env=run_env(),
        **popen,
    )


def test_closed_stdout_exits_3_in_one_line() -> None:
    proc = _cli(str(DEMO), str(DEMO), stdout=subprocess.DEVNULL, preexec_fn=lambda: os.close(1))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_FAILED, err
    assert err.decode().count("\n") == 1 and b"stdout is closed" in err


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_a_reader_that_quits_exits_3_not_the_worse_code(fmt: str) -> None:
    proc = _cli(str(DEMO), str(DEMO), "--format", fmt, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.close()  # the reader quits before anything is written
    err = proc.stderr.read() if proc.stderr else b""
    assert proc.wait(timeout=120) == EXIT_FAILED, err
    assert b"Traceback" not in err and err.decode().count("\n") == 1, err


def test_an_internal_error_exits_3(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("calib_async.stats.compare.compare_calibrations", broken)
    assert run_compare([str(DEMO), str(DEMO)]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "internal error" in err and "boom" in err
