"""Records the emulator stores, and the life of a service as a pure function of time.

A service's status is never advanced by a background task. Each write starts a `Phase` (what the
platform is doing: creating, rolling an update, scaling, stopping, ...) with its start time and the
per-instance delays in force; `timeline(phase)` lists every observable change of the phase as a
`Point` (time, status, running, pending), and `state_at(phase, t)` is the last point at or before
`t`. Invariants: points are in time order, the first is at `phase.started`, the last is the phase's
final state; `running <= max(from_running, grant)`; a phase never changes once stored (a new write
replaces it with a new phase that starts from the state reached).
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    CREATING = "Creating"
    WAITING = "Waiting"
    RUNNING = "Running"
    UPDATING = "Updating"
    SCALING = "Scaling"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    STARTING = "Starting"
    FAILED = "Failed"
    DELETING = "Deleting"
    DELETED = "Deleted"


class PhaseKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    SCALE = "scale"
    START = "start"
    STOP = "stop"
    DELETE = "delete"


class TrafficState(StrEnum):
    GROUPING = "grouping"
    STANDALONE = "standalone"


class TrafficMode(StrEnum):
    AUTO = "auto"
    CUSTOMIZED = "customized"


class SafetyLock(StrEnum):
    NONE = "none"
    DANGEROUS = "dangerous"
    ALL = "all"


_DURING = {PhaseKind.CREATE: Status.CREATING, PhaseKind.UPDATE: Status.UPDATING,
           PhaseKind.SCALE: Status.SCALING, PhaseKind.START: Status.STARTING}
# Statuses in which a service takes no instances (all counters 0).
DOWN_STATUSES = frozenset({Status.STOPPING, Status.STOPPED, Status.FAILED, Status.DELETING, Status.DELETED})


@dataclass(frozen=True)
class Point:
    time: float
    status: Status
    running: int
    pending: int
    reason: str = ""


@dataclass(frozen=True)
class Phase:
    kind: PhaseKind
    started: float
    from_running: int
    grant: int  # instances this phase can bring up (< target while waiting for stock or capacity)
    target: int  # desired instances
    up_delay: float
    down_delay: float
    roll_delay: float
    end_delay: float
    fail_reason: str = ""
    to_version: int = 0  # version running once the phase completes (0: unchanged)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Phase:
        return Phase(**{**data, "kind": PhaseKind(data["kind"])})


@functools.lru_cache(maxsize=4096)
def timeline(phase: Phase) -> tuple[Point, ...]:
    """Every observable change of `phase`, in time order (see the module docstring). Phases are immutable: cached."""
    return tuple(_timeline(phase))


def _timeline(phase: Phase) -> list[Point]:
    t0 = phase.started
    if phase.kind in (PhaseKind.STOP, PhaseKind.DELETE):
        during, done = ((Status.STOPPING, Status.STOPPED) if phase.kind is PhaseKind.STOP
                        else (Status.DELETING, Status.DELETED))
        return [Point(t0, during, 0, 0), Point(t0 + phase.end_delay, done, 0, 0)]
    during = _DURING[phase.kind]
    r0 = phase.from_running
    points = [Point(t0, during, r0, max(0, phase.target - r0))]
    if phase.fail_reason:
        return [*points, Point(t0 + phase.up_delay, Status.FAILED, 0, 0, phase.fail_reason)]
    t = t0
    if phase.kind is PhaseKind.UPDATE:
        t += phase.roll_delay * max(1, min(r0, phase.grant))
    step = 1 if phase.grant >= r0 else -1
    for running in range(r0 + step, phase.grant + step, step):
        t += phase.up_delay if step > 0 else phase.down_delay
        points.append(Point(t, during, running, max(0, phase.target - running)))
    final = Status.WAITING if phase.grant < phase.target else Status.RUNNING
    reason = "waiting for resources" if final is Status.WAITING else ""
    last = Point(t, final, phase.grant, phase.target - phase.grant, reason)
    if points[-1].time == t:
        points[-1] = last
    else:
        points.append(last)
    return points


def state_at(phase: Phase, t: float) -> Point:
    """The state reached at time `t` (the phase's first point if `t` is before it started)."""
    current = None
    for point in timeline(phase):
        if point.time > t:
            break
        current = point
    return current if current is not None else timeline(phase)[0]


def phase_end(phase: Phase) -> float:
    return timeline(phase)[-1].time


def next_change(phase: Phase, after: float) -> float | None:
    """Time of the first point strictly after `after`, or None when the phase is over by then."""
    for point in timeline(phase):
        if point.time > after:
            return point.time
    return None


@dataclass(frozen=True)
class Version:
    version: int
    config: dict[str, Any]
    build_time: float


@dataclass
class ServiceRecord:
    name: str
    service_id: str
    region: str
    group: str
    traffic_state: TrafficState
    weight: int
    labels: dict[str, str]
    safety_lock: SafetyLock
    created_at: float
    updated_at: float
    config: dict[str, Any]  # the latest (desired) configuration
    versions: list[Version]
    current_version: int  # version running when the phase started
    phase: Phase
    settled: float  # status points up to this time are recorded in the history
    workspace_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def latest_version(self) -> int:
        return self.versions[-1].version if self.versions else 0

    def state(self, t: float) -> Point:
        return state_at(self.phase, t)

    def phase_points_between(self, after: float, until: float) -> list[Point]:
        return [p for p in timeline(self.phase) if after < p.time <= until]

    def running_version(self, t: float) -> int:
        """CurrentVersion: the phase's target version once it completed without failure."""
        point = self.state(t)
        done = point.time >= phase_end(self.phase) and point.status is not Status.FAILED
        return self.phase.to_version if done and self.phase.to_version else self.current_version

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (hand-written: `dataclasses.asdict` deep-copies and was the hot spot)."""
        out = dict(self.__dict__)
        out["versions"] = [{"version": v.version, "config": v.config, "build_time": v.build_time}
                           for v in self.versions]
        out["phase"] = dict(self.phase.__dict__)
        return out

    @staticmethod
    def from_dict(data: dict[str, Any]) -> ServiceRecord:
        fields = {**data}
        fields["traffic_state"] = TrafficState(data["traffic_state"])
        fields["safety_lock"] = SafetyLock(data["safety_lock"])
        fields["versions"] = [Version(**v) for v in data["versions"]]
        fields["phase"] = Phase.from_dict(data["phase"])
        return ServiceRecord(**fields)

    def with_phase(self, phase: Phase) -> ServiceRecord:
        return replace(self, phase=phase)


@dataclass
class GroupRecord:
    name: str
    region: str
    traffic_mode: TrafficMode
    created_at: float
    updated_at: float
    explicit: bool  # made by CreateGroup: survives without members
    labels: dict[str, str] = field(default_factory=dict)
    network: dict[str, Any] = field(default_factory=dict)
    workspace_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> GroupRecord:
        return GroupRecord(**{**data, "traffic_mode": TrafficMode(data["traffic_mode"])})


def desired_instances(config: dict[str, Any]) -> int:
    metadata = config.get("metadata") or {}
    value = metadata.get("instance", 1)
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


def resource_of(config: dict[str, Any]) -> str:
    """The dedicated resource group (`metadata.resource`), "" on public resources."""
    value = (config.get("metadata") or {}).get("resource", "")
    return value if isinstance(value, str) else ""


def instance_types(config: dict[str, Any]) -> list[str]:
    """Public instance types in order of preference (`cloud.computing.instance_type` / `instances[].type`)."""
    computing = ((config.get("cloud") or {}).get("computing") or {})
    types: list[str] = []
    single = computing.get("instance_type")
    if isinstance(single, str) and single:
        types.append(single)
    for item in computing.get("instances") or []:
        if isinstance(item, dict) and isinstance(item.get("type"), str):
            types.append(item["type"])
    return types


def rfc3339(t: float) -> str:
    """A wire time: RFC 3339 UTC to the second, e.g. 2021-01-29T11:13:20Z."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
