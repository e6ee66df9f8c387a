#!/bin/bash
# Interleaved bench_scheduler.py rounds of two checkouts (set BEFORE and AFTER to worktrees).
# Example: git worktree add /tmp/before 509caab; BEFORE=/tmp/before AFTER=$PWD bash scripts/bench_before_after.sh
for round in 1 2 3; do
  for d in "${BEFORE:?set BEFORE}" "${AFTER:?set AFTER}"; do
    echo "=== round $round $d load $(cut -d' ' -f1 /proc/loadavg)"
    (cd $d && PYTHONPATH=$d/src python scripts/bench_scheduler.py --runs 1000 --repeats 1 2>&1 | grep -E "xargs -P|full path\)  |orchestrator CPU per run \(calib-async scheduler")
  done
done
