"""What an apply did: progress events while it runs, and the report at the end (pure data)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from reconciler.plan.model import Step


class GroupOutcome(StrEnum):
    DONE = "done"  # every step applied and verified
    FAILED = "failed"  # a step failed; traffic restored where safe
    STOPPED = "stopped"  # stopped at a step boundary: another group failed (--fail-fast), or the lock was lost
    SKIPPED = "skipped"  # never started (--fail-fast)


class EventKind(StrEnum):
    GROUP_START = "group_start"
    STEP_START = "step_start"
    STEP_DONE = "step_done"
    GROUP_DONE = "group_done"
    ROLLBACK = "rollback"


@dataclass(frozen=True)
class Event:
    """One progress event; `elapsed` is seconds since the group started."""

    kind: EventKind
    region: str
    group: str
    step: Step | None = None
    total_steps: int = 0
    elapsed: float = 0.0
    message: str = ""
    outcome: GroupOutcome | None = None


Progress = Callable[[Event], None]


def no_progress(event: Event) -> None:
    return None


@dataclass
class GroupReport:
    region: str
    group: str
    outcome: GroupOutcome = GroupOutcome.DONE
    done: list[Step] = field(default_factory=list)
    failed_step: Step | None = None
    error: str = ""
    rollback: list[str] = field(default_factory=list)  # what was done to restore traffic
    not_restored: list[str] = field(default_factory=list)  # what could not be restored safely, and why
    left: list[Step] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def key(self) -> tuple[str, str]:
        return (self.region, self.group)


@dataclass
class ApplyReport:
    groups: list[GroupReport] = field(default_factory=list)
    journal: str | None = None

    @property
    def ok(self) -> bool:
        return all(g.outcome is GroupOutcome.DONE for g in self.groups)

    @property
    def failed(self) -> list[GroupReport]:
        return [g for g in self.groups if g.outcome is GroupOutcome.FAILED]

    @property
    def steps_done(self) -> int:
        return sum(len(g.done) for g in self.groups)
