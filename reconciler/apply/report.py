"""What an apply did: progress events while it runs, and the report at the end (pure data)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from reconciler.analysis.gates import GateKind, MetricName
from reconciler.analysis.judge import CheckResult, Measurement, Verdict
from reconciler.plan.model import Step


class GroupOutcome(StrEnum):
    DONE = "done"  # every step applied and verified
    FAILED = "failed"  # a step failed; traffic restored where safe
    STOPPED = "stopped"  # stopped at a step boundary: another group failed (--fail-fast), or the lock was lost
    SKIPPED = "skipped"  # never started (--fail-fast)
    ROLLED_BACK = "rolled_back"  # a rollout was aborted and its abort path carried out (exit 3)


class EventKind(StrEnum):
    GROUP_START = "group_start"
    STEP_START = "step_start"
    STEP_DONE = "step_done"
    GROUP_DONE = "group_done"
    ROLLBACK = "rollback"
    ABORT = "abort"  # a release is aborted: its abort path runs (`message`: why)
    BAKE_CHECK = "bake_check"  # a rollout check while a step bakes (`message`: step, share, elapsed, verdict)


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


@dataclass(frozen=True)
class CheckRecord:
    """One check of a rollout's bake, as the report and the journal keep it."""

    step: int  # the rollout step, 1-based
    of: int
    share: float  # the canary's share during the bake, percent
    result: CheckResult


def _number(metric: MetricName, value: float | None) -> str:
    if value is None:
        return "-"
    if math.isnan(value):
        return "NaN"
    return f"{value:.2f}%" if metric is MetricName.ERROR_RATE else f"{value * 1000:.1f}ms"


def _limit(m: Measurement) -> str:
    unit = ("%" if m.gate is GateKind.MAX else " pp") if m.metric is MetricName.ERROR_RATE else "ms"
    limit = m.limit if m.metric is MetricName.ERROR_RATE else m.limit * 1000
    return f"{m.gate.value} {limit:g}{unit}"


def check_lines(record: CheckRecord) -> list[str]:
    """The report's lines for one check: time, metric, canary value, baseline value, limit, verdict."""
    r = record.result
    when = datetime.fromtimestamp(r.end, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    head = (f"{when} step {record.step}/{record.of} ({record.share:g} %): {r.verdict.value}, "
            f"canary {r.requests or 0:g} requests, baseline {r.baseline_requests or 0:g}")
    lines = [head] + [f"    {m.metric.value}: canary {_number(m.metric, m.canary)}, baseline "
                      f"{_number(m.metric, m.baseline)}, limit {_limit(m)} -> {m.verdict.value}"
                      for m in r.measurements]
    if r.verdict is Verdict.INCONCLUSIVE or not r.measurements:
        lines.append(f"    ({r.reason})")
    return lines


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
    checks: list[CheckRecord] = field(default_factory=list)  # a rollout's checks, in time order

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
    def rolled_back(self) -> list[GroupReport]:
        return [g for g in self.groups if g.outcome is GroupOutcome.ROLLED_BACK]

    @property
    def steps_done(self) -> int:
        return sum(len(g.done) for g in self.groups)
