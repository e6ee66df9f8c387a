"""Who judges whom: a tier whose consensus runs its own check, and the reference's sources.

* **Own judge.** A consensus profile that is the tier's profile, or runs the same check
  (same kind, command and rules; options other than the timeout, seed and repeat equal),
  cannot tell the tier's mistakes from the truth: an ``Admitted`` Coq proof passes the tier
  and the vote alike. Such a tier is reported at start, and its rates conditional on the
  label are ``unverified_labels`` (``calib_async.stats.label_error``).
* **Error families.** Votes of profiles that share a profile option ``error_family`` (for
  example three versions of one checker, which fail the same proofs) count as one source of
  the reference's error model (``calib_async.labels.latent``); otherwise each consensus
  profile is its own source.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from calib_async.config.schema import CheckerConfig, VerifierConfig
from calib_async.labels.latent import ItemEvidence
from calib_async.records import Outcome, TelemetryRecord, Truth

#: Profile options that do not change what a check decides.
_NOT_THE_CHECK = frozenset({"timeout_s", "seed", "repeat", "error_family"})


def _check_identity(profile: VerifierConfig) -> dict[str, object]:
    ident = profile.identity()
    options = ident.get("options") or {}
    if isinstance(options, Mapping):
        ident["options"] = {k: v for k, v in options.items() if k not in _NOT_THE_CHECK}
    return ident


def own_judge_tiers(
    tier_profiles: Mapping[str, str], consensus: Sequence[str], checker: CheckerConfig
) -> dict[str, str]:
    """tier name -> why its labels come from its own check (tiers with another judge: none).

    ``tier_profiles`` maps each tier to its profile name.
    """
    out: dict[str, str] = {}
    for tier, name in tier_profiles.items():
        profile = checker.verifiers.get(name)
        if profile is None:
            continue
        for judge in consensus:
            other = checker.verifiers.get(judge)
            if other is None:
                continue
            if judge == name or _check_identity(other) == _check_identity(profile):
                out[tier] = (
                    f"consensus profile {judge!r} runs the same check as the tier's profile "
                    f"{name!r}: the checker is its own judge; add a stronger reference"
                )
                break
    return out


def source_of(profile: str, checker: CheckerConfig) -> str:
    """The error source a consensus profile's votes belong to (its ``error_family``)."""
    config = checker.verifiers.get(profile)
    family = config.options.get("error_family") if config is not None else None
    return str(family) if family else profile


def item_votes(
    chains: Mapping[tuple[str, int], Sequence[TelemetryRecord]],
    checker: CheckerConfig,
    *,
    gold: Truth | None = None,
) -> ItemEvidence:
    """One item's evidence: the verdict of each consensus chain's last rung, by source."""
    votes: dict[str, tuple[int, int]] = {}
    for (profile, _), runs in sorted(chains.items()):
        if not runs:
            continue
        outcome = runs[-1].outcome
        if outcome not in (Outcome.VERIFIED, Outcome.PROOF_INVALID):
            continue
        source = source_of(profile, checker)
        v, i = votes.get(source, (0, 0))
        votes[source] = (v + (outcome == Outcome.VERIFIED), i + (outcome == Outcome.PROOF_INVALID))
    return ItemEvidence.of(votes, gold)
