"""Where validity comes from: the consensus profiles' tiers and ladders, and the rule that a
tier's own escalation ladder settles termination, not validity.

* A **consensus run** checks an item with a consensus profile at that profile's consensus
  timeout: ``options.timeout_s`` of the profile when set, else the longest selected tier's
  timeout x ``--timeout-multiplier`` (the top of the ladder). It is strict: ``reject_sorry``
  and ``audit_axioms`` are on, the tiers' ``args`` and memory limits are not used.
* A consensus run that times out below the top of the ladder can climb the **consensus
  ladder** (x2, x4, ... of its own timeout, up to the top), still with the consensus profile.
* A **tier's ladder** (the tier's own profile, timeout x2, x4, ...) tells whether a timed-out
  run terminates with more time and how long it takes. Its verdict counts as ground truth only
  when :func:`ladder_decides_validity`: the tier runs a consensus profile, with no extra
  ``args``, and (Lean and simulated profiles) both strictness options on. An exit-code-only
  tier's pass on a longer timeout is therefore never evidence that its item is valid.
"""

from __future__ import annotations

from collections.abc import Sequence

from calib_async.checkers.registry import kind_for
from calib_async.profiles import CheckerConfig
from calib_async.records import Tier
from calib_async.telemetry.scheduler import escalation_ladder

#: Tier options that make a Lean-style check strict; consensus runs set both.
STRICTNESS_OPTIONS = ("reject_sorry", "audit_axioms")
#: Tier-name prefix of consensus runs; repeats after the first add ``#<repeat>``.
CONSENSUS_PREFIX = "label:"


def top_timeout(tiers: Sequence[Tier], multiplier: float) -> float:
    """The top of the escalation ladder: the longest tier's timeout x ``multiplier``."""
    return max(t.timeout_s for t in tiers) * max(1.0, multiplier)


def consensus_tier(
    name: str, tiers: Sequence[Tier], checker: CheckerConfig, multiplier: float, repeat: int = 0
) -> Tier:
    """The tier a consensus profile runs at: strict, long timeout, no memory limit.

    ``repeat`` > 0 names an independent repeat of the same check (tier ``label:NAME#R``,
    option ``repeat``; the simulated checker draws a fresh seed for it, a real checker simply
    runs again).
    """
    longest = max(tiers, key=lambda t: t.timeout_s)
    profile = checker.verifiers[name]
    timeout = float(profile.options.get("timeout_s") or longest.timeout_s * multiplier)
    options = {**longest.options, **dict.fromkeys(STRICTNESS_OPTIONS, True)}
    options.pop("precision", None)
    suffix = ""
    if repeat:
        options["repeat"] = repeat
        suffix = f"#{repeat}"
    return Tier(
        name=f"{CONSENSUS_PREFIX}{name}{suffix}",
        timeout_s=timeout,
        verifier=name,
        memory_limit_mb=None,
        args=(),
        options=options,
        grace_s=longest.grace_s,
    )


def consensus_ladder(base_s: float, top_s: float) -> list[float]:
    """Timeouts of a consensus run's ladder above ``base_s``: x2, x4, ... up to ``top_s``."""
    if base_s <= 0 or top_s <= base_s:
        return []
    return [base_s * f for f in escalation_ladder(top_s / base_s)]


def ladder_decides_validity(tier: Tier, consensus: Sequence[str], checker: CheckerConfig) -> bool:
    """Whether the verdict of ``tier``'s own escalation ladder may count as ground truth.

    Only when the tier's check is at least as strict as a consensus run: the tier runs one of
    the ``consensus`` profiles, adds no ``args`` (they can weaken a check, e.g. Coq's
    ``-type-in-type``), and for Lean-style profiles (``lean``, ``simulated``) has every
    strictness option on (a simulated profile's ``precision`` decides it, as the checker
    does). Otherwise the ladder settles termination only.
    """
    if tier.verifier not in consensus or tuple(tier.args):
        return False
    profile = checker.verifiers.get(tier.verifier)
    if profile is None:
        return False
    return kind_for(profile.kind).is_strict(profile, tier)
