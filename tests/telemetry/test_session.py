from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from calib_async.config.run import RunConfig
from calib_async.pipeline import plan_session
from calib_async.telemetry.session import SessionPlan, load_finished

FINGERPRINT = {"seed": 1, "items": ["a"]}


def config(tmp_path: Path, **kw: bool) -> SessionPlan:
    run = RunConfig(tiers=("FAST",), n=1, export=tmp_path / "c.yaml", output_dir=tmp_path, **kw)
    return plan_session(run, ())


def test_a_fresh_run_logs_no_resume_message_and_a_resumed_one_does(tmp_path: Path) -> None:
    with capture_logs() as logs:
        assert load_finished(config(tmp_path), FINGERPRINT) == {}
    assert (tmp_path / "telemetry.jsonl").is_file()
    assert not [e for e in logs if e["event"].startswith("resum")]
    with capture_logs() as logs:
        assert load_finished(config(tmp_path, resume=True), FINGERPRINT) == {}
    loaded = [e for e in logs if e["event"] == "resume.loaded"]
    assert [(e["records"], e["torn_bytes"]) for e in loaded] == [(0, 0)]
    with capture_logs() as logs:  # --fresh moves the old log aside: again nothing to report
        load_finished(config(tmp_path, fresh=True), FINGERPRINT)
    assert not [e for e in logs if e["event"] == "resume.loaded"]
