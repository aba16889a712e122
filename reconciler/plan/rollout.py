"""Releases through the canary (`spec.rollout`): what a release is, and the weights of its ramp.

A **release** is a change that gives a grouping member a new version (model, image, processor,
config: any config change but replicas) in a group with a rollout section, a group that exists
(creating a group is not a release: there is no baseline). `detect` recognises it:

- the canary (declared grouping) gets a new version: a release; the canary carries it first, and
  the primaries that also get a new version are promoted after the last bake;
- a primary that serves (live grouping, declared grouping, managed) gets a new version while the
  canary does not: refused, with the way out (give the canary the new version too), because the new
  version would reach traffic without the canary;
- an unfinished release: the canary already runs its declared version and carries the progress
  label `eas-gitops/rollout` of that version (`<release>;<step>;<started>`, the release being the
  canary's desired spec hash). It resumes at the label's step when the canary still serves (the
  runner counts the part of that bake already served), else from step 1;
- a progress label at the last step on a group that already matches its file is a finished
  release: only the labels are deleted.

Members joining, scale changes and traffic-state changes are never releases; a canary declared
standalone that alone gets a new version is not one either (it takes no group traffic).

The ramp runs in `customized` mode (`reconciler.plan.release` builds the steps). The canary's
weight at a step is the largest whose share stays at or below the step's share (weights are whole
numbers, so 10 % on a baseline of weight 400 is 44 / 444 = 9.9 %): the canary never carries more
than the file allows. Where the baseline's weights are too coarse for the first step (weight 0),
they are multiplied by the smallest whole factor that fits, while the canary is out of traffic (once
all are set, the baseline's shares are as before; with several baseline members the steps in between
are checked by the safety rules like any other); where even that cannot work, the plan is refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from reconciler.desired.model import MAX_WEIGHT, TrafficState
from reconciler.desired.rollout import (
    PREVIOUS_LABEL,
    PROGRESS_LABEL,
    PreviousVersion,
    ProgressLabel,
    RolloutSpec,
    resolve_canary,
)
from reconciler.errors import PlanError
from reconciler.plan.diff import GroupDelta, MemberDelta, MemberKind
from reconciler.plan.model import GroupStatus

SWITCH_SCALE = 100  # weight per running replica when an auto group switches for a ramp (at most)


@dataclass(frozen=True)
class Release:
    """A release of one group, as `detect` found it."""

    spec: RolloutSpec
    canary: MemberDelta
    promotes: tuple[MemberDelta, ...]  # primaries that get the new version after the last bake
    start: int  # the 1-based rollout step the ramp starts at
    resumed: bool  # an unfinished run of this release left the canary serving at step `start` (1 included)
    finished: bool  # the progress label is at the last step and the group matches its file
    previous: PreviousVersion | None  # the canary's version before the release (None: unknown)
    labels: tuple[str, ...]  # the progress labels the canary carries live

    @property
    def members(self) -> set[str]:
        return {self.canary.name, *(m.name for m in self.promotes)}

    @property
    def release_id(self) -> str:
        assert self.canary.spec_hash is not None
        return self.canary.spec_hash


def _serving_primaries(delta: GroupDelta, canary: str) -> tuple[MemberDelta, ...]:
    """Managed members that serve, stay grouping and get a new version (the canary aside)."""
    return tuple(m for m in delta.members if m.name != canary and m.managed and m.config_paths
                 and m.live is not None and m.spec is not None
                 and m.live.traffic_state is TrafficState.GROUPING and m.spec.traffic is TrafficState.GROUPING)


def _refuse_primaries(delta: GroupDelta, canary: MemberDelta, primaries: Sequence[MemberDelta]) -> PlanError:
    names = ", ".join(m.name for m in primaries)
    where = f"group {delta.region}/{delta.name}"
    if canary.kind is MemberKind.UNMANAGED:
        why = f"the canary {canary.name} is not managed by eas-gitops (plan with --adopt to manage it)"
    elif canary.live is None:
        why = f"the canary {canary.name} does not exist yet (apply it first, without the primaries' new version)"
    else:
        why = (f"the canary {canary.name} does not get a new version: give {canary.name} the new version too "
               "(the same model, image, processor or config), so the release reaches traffic through it")
    return PlanError(f"{where}: {names} get{'s' if len(primaries) == 1 else ''} a new version, but with spec.rollout "
                     f"a new version reaches traffic through the canary first, and {why}; or remove spec.rollout "
                     "for a change that goes to the primaries directly")


def detect(delta: GroupDelta) -> Release | None:
    """The release `delta` makes, or None; PlanError when a primary would get a new version without the canary."""
    group = delta.desired
    if group is None or group.spec.rollout is None or delta.status is GroupStatus.CREATE:
        return None
    rollout = group.spec.rollout
    name = resolve_canary(rollout, group.spec.services)
    if name is None or name not in {m.name for m in delta.members}:
        return None  # validation reports a missing canary
    canary = delta.member(name)
    primaries = _serving_primaries(delta, name)
    live_labels = canary.live.labels if canary.live is not None and canary.managed else {}
    label = ProgressLabel.parse(live_labels.get(PROGRESS_LABEL))
    unfinished = label is not None and label.release == canary.spec_hash and not canary.config_paths
    # an unmanaged canary has no spec in its delta (it is never changed) and no config change
    own = canary.spec is not None and bool(canary.config_paths) and canary.spec.traffic is TrafficState.GROUPING
    if primaries and not canary.config_paths and not unfinished:
        raise _refuse_primaries(delta, canary, primaries)
    if not (own or primaries or unfinished):
        return None
    assert canary.live is not None
    steps = len(rollout.steps)
    serving = canary.live.traffic_state is TrafficState.GROUPING and canary.live.running > 0
    resumed = label is not None and unfinished and label.step >= 1 and serving
    start = min(label.step, steps) if label is not None and resumed else 1
    finished = unfinished and label is not None and label.step >= steps and not delta.changes
    previous = (PreviousVersion(canary.live.current_version, canary.live.spec_hash) if canary.config_paths
                else PreviousVersion.parse(live_labels.get(PREVIOUS_LABEL)))
    present = tuple(k for k in (PROGRESS_LABEL, PREVIOUS_LABEL) if k in live_labels)
    return Release(rollout, canary, primaries, start, resumed, finished, previous, present)


# ---- the weights of a ramp ---------------------------------------------------------------------------------


def canary_weight(share: float, base: int) -> int:
    """The largest weight whose share of `weight + base` is at most `share` percent (0 when none is)."""
    s = Fraction(str(share))
    return math.floor(s * base / (100 - s))


def ramp_weights(shares: Sequence[float], base: int) -> list[int] | None:
    """The canary's weight at every step on a baseline of weight `base`; None when a step needs weight 0
    or more than the largest weight EAS takes."""
    weights = [canary_weight(s, base) for s in shares]
    return weights if all(1 <= w <= MAX_WEIGHT for w in weights) else None


def baseline_factor(shares: Sequence[float], weights: Sequence[int]) -> int | None:
    """The smallest whole factor for the baseline's `weights` that makes every step's canary weight fit
    (`ramp_weights`), with no baseline weight above the largest; None when none does."""
    most = max(weights, default=0)
    if most <= 0:
        return None
    for factor in range(1, MAX_WEIGHT // most + 1):
        if ramp_weights(shares, factor * sum(weights)) is not None:
            return factor
    return None


def switch_scale(shares: Sequence[float], running: dict[str, int], canary: str) -> int | None:
    """The weight per running replica for an auto group switching to customized for a ramp: at most
    `SWITCH_SCALE`, every weight within the largest, and the canary's weights at every step too; None when
    no scale works."""
    base_replicas = sum(n for name, n in running.items() if name != canary)
    most = max(running.values(), default=0)
    if base_replicas <= 0 or most <= 0:
        return None
    for scale in range(min(SWITCH_SCALE, MAX_WEIGHT // most), 0, -1):
        if ramp_weights(shares, scale * base_replicas) is not None:
            return scale
    return None
