"""`spec.rollout`: how a new version reaches traffic, step by step through the canary.

    rollout:
      canary: pmml_grey              # optional: default the one member with role: canary
      steps:                         # the canary's share of group traffic at each step, in percent
        - {share: 10, bake: 10m}
        - {share: 50, bake: 20m}
      analysis: {...}                # reconciler.analysis.gates.AnalysisSpec: provider, interval, gates
      on_failure: rollback           # rollback (standalone, then the previous version) | standalone

The file still says where to end (the members' declared versions and shares); the rollout section
only says how to get there when a change is a release. Field rules live here (shares in (0, 100),
strictly rising; durations with units); rules that need the group (the canary is a declared
grouping member, not the only one; `max_shift`; the provider's interval on a target) live in
`reconciler.desired.checks` and the planner.

The progress of an unfinished release lives in EAS, not on the machine that runs the tool: the
reserved label `eas-gitops/rollout` on the canary, `<release>;<step>;<started>` (the canary's
desired spec hash, the 1-based step reached or 0 for "start from step 1", unix seconds when that
step's bake began). `ProgressLabel` reads and writes that value. The plan writes it (at step 0)
before the canary gets the new version, together with `eas-gitops/rollout-from`
(`<version>;<spec-hash>` the canary had before: where a rollback returns it, also when the
release is resumed by a later apply); the runner updates it at the start of every bake; the
plan's last step deletes both. Both are reserved labels: never a change, never removed otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from reconciler.analysis.durations import Duration
from reconciler.analysis.gates import AnalysisSpec

PROGRESS_LABEL = "eas-gitops/rollout"
# `<version>;<spec-hash>` of the canary before the release: where `on_failure: rollback` returns it
PREVIOUS_LABEL = "eas-gitops/rollout-from"
CANARY_ROLE = "canary"


class OnFailure(StrEnum):
    """What an abort leaves: the canary out of group traffic, and on its previous version or not."""

    ROLLBACK = "rollback"  # standalone, then UpdateServiceVersion back to the version before the release
    STANDALONE = "standalone"  # standalone on the new version (to inspect it on its direct endpoint)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


class RolloutStepSpec(_Strict):
    """One step: the canary holds `share` percent of group traffic for `bake` while it is judged."""

    share: float = Field(gt=0, lt=100, strict=True,
                         description="The canary's share of group traffic in percent, between 0 and 100 exclusive.")
    bake: Duration = Field(gt=0, description="How long the canary holds the share while the analysis checks it, "
                                             "e.g. 10m: more than 0, and at least one analysis interval.")


class RolloutSpec(_Strict):
    """How a release reaches traffic: canary first, ramped on evidence, then promoted."""

    canary: str | None = Field(default=None, min_length=1,
                               description="The member that takes the new version first (default: the one "
                                           "member with role: canary).")
    steps: list[RolloutStepSpec] = Field(min_length=1, description="The canary's shares, strictly rising.")
    analysis: AnalysisSpec = Field(description="How every check of a bake reads and judges the evidence.")
    on_failure: OnFailure = Field(default=OnFailure.ROLLBACK,
                                  description="rollback: the canary standalone, then back on its previous version; "
                                              "standalone: the canary standalone on the new version.")

    @field_validator("steps")
    @classmethod
    def _rising(cls, steps: list[RolloutStepSpec]) -> list[RolloutStepSpec]:
        for index in range(1, len(steps)):
            if steps[index].share <= steps[index - 1].share:
                raise PydanticCustomError(
                    "conflict", f"step shares must rise strictly: {steps[index].share:g} after "
                                f"{steps[index - 1].share:g}",
                    {"at": index, "hint": "list the canary's shares in rising order, e.g. 10, 25, 50"})
        return steps


class _Member(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str | None: ...


def resolve_canary(rollout: RolloutSpec, services: Sequence[_Member]) -> str | None:
    """The canary's name: `rollout.canary`, else the one member with role: canary (None: none or several)."""
    if rollout.canary is not None:
        return rollout.canary
    named = [s.name for s in services if s.role == CANARY_ROLE]
    return named[0] if len(named) == 1 else None


def step_rises(shares: Sequence[float], start: float = 0.0) -> list[float]:
    """How many points each step raises the canary's share, from `start` (0: out of group traffic)."""
    return [share - before for share, before in zip(shares, [start, *shares[:-1]], strict=True)]


@dataclass(frozen=True)
class PreviousVersion:
    """The value of `eas-gitops/rollout-from`: the canary's version and spec hash before the release."""

    version: int
    spec_hash: str | None

    def format(self) -> str:
        return f"{self.version};{self.spec_hash or ''}"

    @classmethod
    def parse(cls, value: str | None) -> PreviousVersion | None:
        parts = (value or "").split(";")
        if len(parts) != 2 or not parts[0].isdigit() or int(parts[0]) < 1:
            return None
        return cls(int(parts[0]), parts[1] or None)


@dataclass(frozen=True)
class ProgressLabel:
    """The value of `eas-gitops/rollout`: which release, which step (0 = from step 1), since when."""

    release: str
    step: int
    started: int

    def format(self) -> str:
        return f"{self.release};{self.step};{self.started}"

    @classmethod
    def parse(cls, value: str | None) -> ProgressLabel | None:
        """The label's parts, or None when absent or unreadable (then the release starts from step 1)."""
        parts = (value or "").split(";")
        if len(parts) != 3 or not parts[0] or not parts[1].isdigit() or not parts[2].isdigit():
            return None
        return cls(parts[0], int(parts[1]), int(parts[2]))
