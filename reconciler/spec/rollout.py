"""`spec.rollout`: how a new version reaches traffic, step by step through the canary.

    rollout:
      canary: pmml_grey              # optional: default the one member with role: canary
      steps:                         # the canary's share of group traffic at each step, in percent
        - {share: 10, bake: 10m}
        - {share: 50, bake: 20m}
      analysis: {...}                # reconciler.analysis.AnalysisSpec: provider, interval, gates
      on_failure: rollback           # rollback (standalone, then the previous version) | standalone

The file still says where to end (the members' declared versions and shares); the rollout section
only says how to get there when a change is a release. Field rules live here (shares in (0, 100),
strictly rising; durations with units); rules that need the group (the canary is a declared
grouping member, not the only one; `max_shift`; the provider's interval on a target) live in
`reconciler.spec.checks` and the planner.

The progress of an unfinished release lives in EAS, not on the machine that runs the tool: the
reserved label `eas-gitops/rollout` on the canary, `<release>;<step>;<started>` (the canary's
desired spec hash, the 1-based step reached or 0 for "start from step 1", unix seconds when that
step's bake began). `ProgressLabel` reads and writes that value.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from reconciler.analysis.durations import Duration
from reconciler.analysis.gates import AnalysisSpec

PROGRESS_LABEL = "eas-gitops/rollout"


class OnFailure(StrEnum):
    """What an abort leaves: the canary out of group traffic, and on its previous version or not."""

    ROLLBACK = "rollback"  # standalone, then UpdateServiceVersion back to the version before the release
    STANDALONE = "standalone"  # standalone on the new version (to inspect it on its direct endpoint)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class RolloutStepSpec(_Strict):
    """One step: the canary holds `share` percent of group traffic for `bake` while it is judged."""

    share: float = Field(gt=0, lt=100, strict=True,
                         description="The canary's share of group traffic in percent, between 0 and 100 exclusive.")
    bake: Duration = Field(description="How long the canary holds the share while the analysis checks it, e.g. 10m.")


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
