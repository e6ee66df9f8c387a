from __future__ import annotations

from calib_async.cli.prewarm import PREWARM_STAGE, Prewarm
from calib_async.events import StageFinished, StageStarted


def test_prewarm_starts_once_when_labelling_starts_never_during_telemetry() -> None:
    prewarm = Prewarm()
    prewarm(StageStarted(2, "telemetry collection", 300))
    prewarm(StageFinished(2, "telemetry collection"))
    assert prewarm.thread is None  # stage 2's durations are measured: no import load then
    prewarm(StageStarted(PREWARM_STAGE, "ground-truth labelling", 300))
    thread = prewarm.thread
    assert thread is not None and not thread.daemon  # joined before the interpreter finalises
    prewarm(StageStarted(PREWARM_STAGE, "ground-truth labelling", 300))
    assert prewarm.thread is thread
    thread.join(timeout=120)
    assert not thread.is_alive()
