"""``calibrate_noise refit`` on bad input: every case exits 2 with one line naming the problem,
and leaves the run's files as they were (no export over the log, labels.json or report.html;
no traceback for a hand-edited labels.json; another run's log refused)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from calib_async.cli.main import main
from helpers.checkers import calibrate, write_config, write_corpus

TIERS = {"LAX": {"timeout_s": 2.0, "verifier": "lax"}}


def _calibrate(d: Path) -> Path:
    corpus = write_corpus(d, {"valid": 4, "invalid": 4})
    config, _ = write_config(d, tiers=TIERS, consensus=["strict"])
    done = calibrate(d, config, corpus, tiers=list(TIERS), n=8)
    assert done.returncode == 0, done.stderr
    return d / "out"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two finished calibrations of the same corpus and settings (their logs differ)."""
    first = _calibrate(tmp_path_factory.mktemp("refit_a"))
    second = _calibrate(tmp_path_factory.mktemp("refit_b"))
    (first / "report.html").write_text("<html>the run's report</html>\n")
    return first, second


def _digests(out: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.iterdir())
        if p.is_file() and not p.is_symlink()
    }


def _edit_labels(change: Callable[[dict[str, Any]], Any]) -> Callable[[Path, Path], None]:
    def setup(out: Path, other: Path) -> None:
        doc = json.loads((out / "labels.json").read_text())
        (out / "labels.json").write_text(json.dumps(change(doc)))

    return setup


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def change(doc: dict[str, Any]) -> dict[str, Any]:
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return doc

    return change


def _drop(path: tuple[Any, ...]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def change(doc: dict[str, Any]) -> dict[str, Any]:
        node = doc
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
        return doc

    return change


def _main(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's usage errors
        return int(exc.code or 0)


@dataclass(frozen=True)
class Case:
    id: str
    args: Callable[[Path, Path], list[str]]  # (this run's out, the other run's out)
    message: str
    setup: Callable[[Path, Path], None] | None = None


def export(name: str, *extra: str) -> Callable[[Path, Path], list[str]]:
    return lambda out, other: ["--export", str(out / name), *extra]


def _link_to_log(out: Path, other: Path) -> None:
    os.symlink(out / "telemetry.jsonl", out / "link.yaml")


def _hard_link_to_labels(out: Path, other: Path) -> None:
    os.link(out / "labels.json", out / "hard.yaml")


def _fifo_labels(out: Path, other: Path) -> None:
    (out / "labels.json").unlink()
    os.mkfifo(out / "labels.json")


DEEP: Any = 1
for _ in range(80):
    DEEP = [DEEP]

# fmt: off
CASES = [
    # outputs over the run's files (--export, and the report refit rewrites)
    Case("export-is-the-log", export("telemetry.jsonl"), "same file as --telemetry-log"),
    Case("export-is-labels", export("labels.json"), "same file as labels.json"),
    Case("export-is-manual-labels", export("manual_labels.jsonl"), "manual_labels.jsonl"),
    Case("export-is-report", export("report.html"), "same file as report.html"),
    Case("export-is-report-no-report", export("report.html", "--no-report"), "report.html"),
    Case("export-links-to-the-log", export("link.yaml"), "same file", setup=_link_to_log),
    Case("export-hard-link-labels", export("hard.yaml"), "same file", setup=_hard_link_to_labels),
    Case("export-is-a-directory", lambda out, other: ["--export", str(out)], "directory"),
    # flags in range, as the main command's
    Case("seed-negative", export("x.yaml", "--seed", "-1"), "--seed"),
    Case("seed-70-bits", export("x.yaml", "--seed", str(2**70)), "--seed"),
    Case("bootstrap-huge", export("x.yaml", "--bootstrap", str(10**30)), "--bootstrap"),
    Case("split-one", export("x.yaml", "--validation-split", "1.0"), "--validation-split"),
    Case("split-nan", export("x.yaml", "--validation-split", "nan"), "--validation-split"),
    Case("confidence-nan", export("x.yaml", "--confidence", "nan"), "--confidence"),
    # labels.json edited by hand
    Case("labels-sample-not-a-list", export("x.yaml"), "sample must be a list",
         setup=_edit_labels(_set(("sample",), {"a": 1}))),
    Case("labels-unknown-truth", export("x.yaml"), "truth must be one of",
         setup=_edit_labels(_set(("sample", 0, "truth"), "MAYBE"))),
    Case("labels-missing-key", export("x.yaml"), "has no 'weight'",
         setup=_edit_labels(_drop(("sample", 0, "weight")))),
    Case("labels-confidence-text", export("x.yaml"), "confidence must be a number",
         setup=_edit_labels(_set(("sample", 0, "confidence"), "high"))),
    Case("labels-run-not-a-mapping", export("x.yaml"), "run must be a mapping",
         setup=_edit_labels(_set(("run",), [1, 2]))),
    Case("labels-negative-timeout", export("x.yaml"), "timeout_s must be >",
         setup=_edit_labels(_set(("run", "tiers", 0, "timeout_s"), -1))),
    Case("labels-seed-out-of-range", export("x.yaml"), "run.seed",
         setup=_edit_labels(_set(("run", "seed"), -5))),
    Case("labels-deep-nesting", export("x.yaml"), "deeper",
         setup=_edit_labels(_set(("run", "labels"), DEEP))),
    Case("labels-not-json", export("x.yaml"), "not valid JSON",
         setup=lambda out, other: (out / "labels.json").write_text("{\"format\": 2,")),
    Case("labels-is-a-fifo", export("x.yaml"), "FIFO", setup=_fifo_labels),
    # another run's log
    Case("log-of-another-run",
         lambda out, other: ["--export", str(out.parent / "x.yaml"),
                             "--telemetry-log", str(other / "telemetry.jsonl")],
         "is not the telemetry log"),
    Case("log-is-a-directory",
         lambda out, other: ["--export", str(out.parent / "x.yaml"), "--telemetry-log", str(out)],
         "directory"),
]
# fmt: on


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_refit_refuses_in_one_line_and_changes_nothing(
    case: Case, runs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    shutil.copytree(runs[0], out, symlinks=True)
    if case.setup is not None:
        case.setup(out, runs[1])
    before = _digests(out)
    code = _main(["refit", "--output-dir", str(out), *case.args(out, runs[1])])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert case.message in err, err
    assert _digests(out) == before


def test_refit_of_its_own_log_still_works(
    runs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    shutil.copytree(runs[0], out, symlinks=True)
    code = _main(["refit", "--output-dir", str(out), "--export", str(tmp_path / "x.yaml")])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "x.yaml").is_file()
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
