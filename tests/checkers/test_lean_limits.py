"""The built-in Lean tiers' limits: a Mathlib-sized import is never killed by our own limit."""

from __future__ import annotations

from calib_async.checkers.lean import default_lean_config
from calib_async.checkers.lean.profile import LEAN_ADDRESS_SPACE_MB, LeanVerifier
from calib_async.profiles import VerifierConfig
from calib_async.runner.spawn import MIB, rlimit_plan

#: What RL pipelines give Lean as address space for a Mathlib import (10-12 GB).
RL_PIPELINE_AS_MB = 12 * 1024


def test_lean_tiers_set_no_address_space_limit_where_a_memory_cgroup_limits() -> None:
    lean = LeanVerifier(VerifierConfig(name="lean", kind="lean"))
    for tier in default_lean_config().tiers.values():
        limits = lean.runner_limits(tier)
        assert tier.memory_limit_mb is not None and limits.memory_mb is not None
        assert limits.memory_mb > tier.memory_limit_mb  # Lean's own -M is hit first
        with_cgroup = rlimit_plan(limits, memory_cgroup=True, pids_cgroup=True)
        assert with_cgroup.address_space is None
        without = rlimit_plan(limits, memory_cgroup=False, pids_cgroup=False)
        assert without.address_space is not None
        assert without.address_space >= max(RL_PIPELINE_AS_MB, limits.memory_mb) * MIB
    assert LEAN_ADDRESS_SPACE_MB >= RL_PIPELINE_AS_MB


def test_an_explicit_address_space_limit_applies_under_every_mechanism() -> None:
    import dataclasses

    lean = LeanVerifier(VerifierConfig(name="lean", kind="lean"))
    tier = dataclasses.replace(default_lean_config().tiers["FAST"], address_space_limit_mb=20000)
    limits = lean.runner_limits(tier)
    for cgroup in (True, False):
        plan = rlimit_plan(limits, memory_cgroup=cgroup, pids_cgroup=cgroup)
        assert plan.address_space == 20000 * MIB
