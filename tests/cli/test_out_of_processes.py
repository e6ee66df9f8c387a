"""A non-root driver whose user runs out of processes mid-run (RLIMIT_NPROC) records its own
refused forks as ``driver_spawn_failed`` runs, never as the checker's VERIFIER_ERROR in the
rates. The driver runs as ``nobody`` (setpriv); once stage 2 has started, the test lowers the
driver's RLIMIT_NPROC below what the user already runs (``prlimit`` of another process, as
root), and raises it again once every task has a record (stage 4 needs a thread)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from helpers.cli import CLI, wait_for_event

NOBODY = 65534
N = 6
# The first run ends at once; the second waits (builtins only) on a FIFO the test writes once
# the driver's limit is lowered; later ones cannot be started.
GATED = '[ -e D/first ] || { : > D/first; exit 0; }; [ -p D/gate ] && read x < D/gate; exit 0'
AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root to run the driver as an unprivileged user (setpriv --reuid)",
)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="calib-nproc-"))
    os.chmod(d, 0o777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _set_soft_nproc(pid: int, soft: int | None) -> None:
    """prlimit of the driver's soft RLIMIT_NPROC (None: back to its hard limit), done as the
    driver's own user (root would need CAP_SYS_RESOURCE, which a container may not grant)."""
    code = (
        "import resource, sys; pid = int(sys.argv[1]); r = resource.RLIMIT_NPROC; "
        "hard = resource.prlimit(pid, r)[1]; "
        "resource.prlimit(pid, r, (hard if sys.argv[2] == '-' else int(sys.argv[2]), hard))"
    )
    value = "-" if soft is None else str(soft)
    subprocess.run(
        [*AS_NOBODY, sys.executable, "-c", code, str(pid), value], check=True, timeout=60
    )


def _open_gate(path: Path, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO: no reader yet
        except OSError:
            time.sleep(0.05)
            continue
        os.write(fd, b"go\n")
        os.close(fd)
        break
    path.unlink()


def _records(log: Path) -> list[dict[str, object]]:
    rows = []
    for line in log.read_text().splitlines() if log.exists() else []:
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return [r for r in rows if "task_key" in r]


def test_a_driver_out_of_processes_records_driver_failures_not_rates(shared_dir: Path) -> None:
    d = shared_dir
    for i in range(N):
        (d / "c").mkdir(exist_ok=True)
        (d / "c" / f"p{i}.lean").write_text(f"theorem t{i} : True := trivial\n")
    cfg = {
        "verifiers": {"chk": {"command": ["sh", "-c", GATED.replace("D", str(d)), "chk", "{file}"],
                              "rules": [{"exit_code": 0, "outcome": "VERIFIED"}]}},
        "tiers": {"T": {"timeout_s": 60, "verifier": "chk", "grace_s": 0.2}},
    }  # fmt: skip
    (d / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    os.mkfifo(d / "gate", 0o600)
    for p in [d, *d.rglob("*")]:
        os.chown(p, NOBODY, NOBODY)
    src = Path(__file__).resolve().parents[2] / "src"
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(d),
           "PYTHONPATH": str(src), "TMPDIR": str(d)}  # fmt: skip
    args = [
        "--tiers", "T", "--n", str(N), "--export", str(d / "cal.yaml"), "--output-dir",
        str(d / "out"), "--corpus", "custom", "--corpus-path", str(d / "c"), "--config",
        str(d / "cfg.yaml"), "--consensus-verifiers", "chk", "--label-sample", "0",
        "--bootstrap", "0", "--no-report", "--no-progress", "--workers", "1",
        "--log-format", "json", "--log-level", "INFO",
    ]  # fmt: skip
    driver = subprocess.Popen(
        [*AS_NOBODY, *CLI, *args], cwd=d, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for_event(driver, "stage.started", stage=2)
        deadline = time.monotonic() + 60
        while not _records(d / "out" / "telemetry.jsonl"):  # a checker ran: threads exist
            assert time.monotonic() < deadline and driver.poll() is None
            time.sleep(0.05)
        _set_soft_nproc(driver.pid, 1)  # the user already runs more than 1 process
        _open_gate(d / "gate")  # the waiting run (if it started before the limit) ends
        while len(_records(d / "out" / "telemetry.jsonl")) < N:
            assert time.monotonic() < deadline + 120 and driver.poll() is None
            time.sleep(0.05)
    finally:
        if driver.poll() is None:
            _set_soft_nproc(driver.pid, None)
    _, err = driver.communicate(timeout=600)
    assert "Traceback" not in err, err[-3000:]
    assert driver.returncode == 0, err[-3000:]
    rows = _records(d / "out" / "telemetry.jsonl")
    failed = [r for r in rows if "driver_spawn_failed" in r["warnings"]]  # type: ignore[operator]
    assert failed, [(r["outcome"], r["warnings"], r.get("first_error")) for r in rows]
    assert all("the driver could not fork" in str(r["first_error"]) for r in failed)
    assert all(r["outcome"] == "VERIFIER_ERROR" for r in failed)
    assert all(r["outcome"] == "VERIFIED" for r in rows if r not in failed)
    counts = yaml.safe_load((d / "cal.yaml").read_text())["noise_models"]["t"]["counts"]
    print(f"{len(failed)} of {N} spawns refused; the export counts {counts['outcomes']}")
    assert counts["outcomes"]["VERIFIER_ERROR"] == 0  # the driver's failures are not the rates'
