"""``--fresh`` racing ``--resume`` on the same output directory (issue 31): started together,
again and again. Neither prints a traceback; each exits 0 or refuses with one line (exit 2)
naming the other run; nothing is lost: the finished runs of the first calibration are in the
log or in the ``.bak`` file ``--fresh`` moved it to, every log line is whole, no temp file is
left, and a last ``--resume`` completes without running anything again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from helpers.cli import run, start

ROUNDS = 2
SLOW = 'sleep 0.3; grep -q t1 "$1" && exit 1; exit 0'  # each run takes a while: the two overlap


def _args(d: Path) -> list[str]:
    cfg = {
        "verifiers": {"chk": {"command": ["sh", "-c", SLOW, "chk", "{file}"],
                              "rules": [{"exit_code": 0, "outcome": "VERIFIED"}]}},
        "tiers": {"T": {"timeout_s": 60, "verifier": "chk", "grace_s": 0.2}},
    }  # fmt: skip
    (d / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    (d / "c").mkdir(exist_ok=True)
    for i in range(4):
        (d / "c" / f"p{i}.lean").write_text(f"theorem t{i} : True := trivial\n")
    return [
        "--tiers", "T", "--n", "4", "--export", str(d / "cal.yaml"), "--output-dir",
        str(d / "out"), "--corpus", "custom", "--corpus-path", str(d / "c"), "--config",
        str(d / "cfg.yaml"), "--consensus-verifiers", "chk", "--label-sample", "0",
        "--bootstrap", "0", "--no-report", "--no-progress", "--workers", "2",
        "--log-level", "ERROR",
    ]  # fmt: skip


def _keys(log: Path) -> set[str]:
    rows = [json.loads(line) for line in log.read_text().splitlines()]  # every line whole
    return {r["task_key"] for r in rows if "task_key" in r}


@pytest.mark.parametrize("first", ["--fresh", "--resume"])
def test_fresh_racing_resume_refuses_one_cleanly_and_loses_nothing(
    tmp_path: Path, first: str
) -> None:
    args = _args(tmp_path)
    base = run(args, tmp_path)
    assert base.returncode == 0, base.stderr[-3000:]
    finished = _keys(tmp_path / "out" / "telemetry.jsonl")
    second = "--resume" if first == "--fresh" else "--fresh"
    for _ in range(ROUNDS):
        procs = [start([*args, flag], tmp_path) for flag in (first, second)]
        results = [(p.args[-1], *p.communicate(timeout=600), p.returncode) for p in procs]
        for flag, _, err, code in results:
            assert "Traceback" not in err, f"{flag}: {err[-3000:]}"
            assert code in (0, 2), f"{flag}: exit {code}: {err[-3000:]}"
            if code == 2:
                lines = [x for x in err.splitlines() if x.strip()]
                assert len(lines) == 1 and "another" in lines[0], f"{flag}: {err}"
        print(first, [(flag, code) for flag, _, _, code in results])
        assert any(code == 0 for *_, code in results), results
        out = tmp_path / "out"
        logs = [out / "telemetry.jsonl", *out.glob("telemetry.jsonl.*.bak")]
        assert finished <= set().union(*(_keys(log) for log in logs)), "finished runs were lost"
        assert not [p.name for p in out.iterdir() if ".tmp" in p.name], "a temp file stayed"
    log = tmp_path / "out" / "telemetry.jsonl"
    lines = log.read_text().count("\n")
    last = run([*args, "--resume"], tmp_path)
    assert last.returncode == 0, last.stderr[-3000:]
    assert _keys(log) == finished and log.read_text().count("\n") == lines  # nothing re-run
