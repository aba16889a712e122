"""Shared machinery of the backend: emulated time, phases, grants, settling and history.

Time: `now` = `settings.clock()` + the stored clock offset (advanced by the admin endpoint), never
earlier than the last time a transaction saw (so a history is monotonic).

Settling: before any write, history read or describe, every status point that has passed since
the last settle is written to the history at its own time, in time order across services, and each
affected group's shares are snapshotted after it; a service whose Deleting phase ended is removed
then (and its group with it when the group was implicit and is now empty). So the history is
exact whatever the moment it is looked at. ListServices settles nothing (listing.py): it computes
statuses from the stored phases, and leaves the recording to the next settle.

Autoscaling: a settle first runs the autoscaler's decisions due since the last one (one per tick
of `settings.autoscaler.interval`, in time order, settling up to each tick before a decision
changes a member), then settles up to now; the rule is in autoscaler.py.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from reconciler.emulator import autoscaler, errors, traffic
from reconciler.emulator.models import (
    DOWN_STATUSES,
    GroupRecord,
    Phase,
    PhaseKind,
    Point,
    SafetyLock,
    ServiceRecord,
    Status,
    TrafficMode,
    desired_instances,
    instance_types,
    phase_end,
    resource_of,
)
from reconciler.emulator.settings import EmulatorSettings
from reconciler.emulator.store import Store, Tx

FAIL_LABEL = "emulator/fail"
_DANGEROUS = frozenset({"DeleteService", "StopService", "DeleteGroup"})


@dataclass(frozen=True)
class ServiceView:
    """A service as seen at one instant: its record, its state and what the listing shows."""

    record: ServiceRecord
    point: Point
    listed_weight: int
    current_version: int
    members: tuple[str, ...] = ()  # names in the service's group (DescribeService only)


class Core:
    def __init__(self, settings: EmulatorSettings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.load = autoscaler.LoadMeter()  # gateway requests to autoscaled members, this process only

    def check_name(self, name: Any, what: str) -> str:
        if not isinstance(name, str) or not re.fullmatch(self.settings.name_pattern, name):
            raise errors.invalid_parameter(f"{what} name {name!r} is invalid: it must match "
                                           f"{self.settings.name_pattern}")
        return name

    # time ----------------------------------------------------------------------------------
    def now(self, tx: Tx) -> float:
        now = self.settings.clock() + float(tx.meta("clock_offset", "0"))
        return max(now, float(tx.meta("last_now", "0")))

    @contextmanager
    def reading(self) -> Iterator[tuple[Tx, float]]:
        """A read-only transaction when nothing is due to settle (the common case), else a settling write."""
        with self.store.read() as tx:
            now = self.now(tx)
            due = tx.has_due(now) or self._autoscale_due(tx, now)
            if not due:
                yield tx, now
        if due:
            with self.store.write() as tx:
                yield tx, self._begin(tx)

    def _begin(self, tx: Tx) -> float:
        """Settle up to now and return now: the first step of every operation."""
        now = self.now(tx)
        tx.set_meta("last_now", repr(now))
        self._autoscale(tx, now)
        self._settle(tx, now)
        return now

    # autoscaler ----------------------------------------------------------------------------
    def note_request(self, name: str) -> None:
        """The gateway sent one request to autoscaled member `name` (counted at emulated now)."""
        with self.store.read() as tx:
            self.load.hit(name, self.now(tx))

    def _autoscale_key(self) -> str:
        return f"autoscaler_last/{self.settings.region}"

    def _autoscale_due(self, tx: Tx, now: float) -> bool:
        if not self.load.names():  # the common case: no autoscaled member got requests here
            return False
        last = float(tx.meta(self._autoscale_key(), "0"))
        return bool(autoscaler.ticks(last, now, self.settings.autoscaler.interval, 1))

    def _autoscale(self, tx: Tx, now: float) -> None:
        """Every decision due in (last run, now], in time order; stops once no member has load left to judge."""
        s = self.settings.autoscaler
        names = self.load.names()
        if names:
            first = min(self.load.first_hit(n) or now for n in names) - s.interval  # no load before
            last = max(float(tx.meta(self._autoscale_key(), "0")), first)
            for t in autoscaler.ticks(last, now, s.interval, s.max_ticks):
                for name in self.load.names():
                    self._autoscale_member(tx, name, t)
                if not self.load.names():
                    break
        tx.set_meta(self._autoscale_key(), repr(now))  # every settle: decisions never go back before it

    def _autoscale_member(self, tx: Tx, name: str, t: float) -> None:
        svc = tx.service(name)
        scaler = autoscaler.from_config(svc.config) if svc is not None else None
        if svc is None or scaler is None or svc.phase.kind in (PhaseKind.STOP, PhaseKind.DELETE):
            self.load.forget_before(name, math.inf)
            return
        s = self.settings.autoscaler
        current = desired_instances(svc.config)
        wanted = autoscaler.decide(scaler, current, self.load, name, t, s)
        if wanted != current:
            self._settle(tx, t)
            svc = tx.service(name)
            assert svc is not None
            self.autoscale_to(tx, svc, wanted, t, {"QPS": round(self.load.qps(name, t, s.window), 3)})
        self.load.forget_before(name, t - autoscaler.horizon(scaler, s))

    def autoscale_to(self, tx: Tx, svc: ServiceRecord, instances: int, t: float, detail: dict[str, Any]) -> None:
        """Set the member's instance count as its autoscaler does: a scale, no new version."""
        current = desired_instances(svc.config)
        svc.config = {**svc.config, "metadata": {**(svc.config.get("metadata") or {}), "instance": instances}}
        self.record(tx, t, "autoscale", "AutoScale", svc.name, svc.group,
                    {"Instance": instances, "From": current, **detail})
        in_flight = t < phase_end(svc.phase) and svc.phase.kind is not PhaseKind.SCALE
        self.start_phase(tx, svc, svc.phase.kind if in_flight else PhaseKind.SCALE, t, instances,
                         svc.phase.to_version if in_flight else 0)
        if instances < current:
            self.regrant(tx, t, resource=resource_of(svc.config))

    # members and shares --------------------------------------------------------------------
    def members(self, tx: Tx, group: str, t: float) -> list[traffic.Member]:
        return [traffic.Member(s.name, s.traffic_state, s.state(t).running, s.weight) for s in tx.services(group)]

    def group_weights(self, tx: Tx, group: GroupRecord, t: float) -> dict[str, int]:
        return traffic.effective_weights(group.traffic_mode, self.members(tx, group.name, t),
                                         self.settings.weight_minus_one)

    def view(self, tx: Tx, svc: ServiceRecord, t: float,
             listed: dict[str, dict[str, int]] | None = None) -> ServiceView:
        """`listed` caches each group's listed weights within one call."""
        listed = {} if listed is None else listed
        weight = svc.weight
        if svc.group:
            if svc.group not in listed:
                group = tx.group(svc.group)
                mode = group.traffic_mode if group else TrafficMode.AUTO
                listed[svc.group] = traffic.listed_weights(mode, self.members(tx, svc.group, t),
                                                           self.settings.weight_minus_one)
            weight = listed[svc.group].get(svc.name, weight)
        return ServiceView(svc, svc.state(t), weight, svc.running_version(t))

    def _snapshot(self, tx: Tx, group_name: str, t: float, seq: int) -> None:
        group = tx.group(group_name)
        if group is None:
            tx.add_shares(seq, t, group_name, {"exists": False, "mode": "", "shares": {}, "weights": {},
                                               "black_hole": False})
            return
        weights = self.group_weights(tx, group, t)
        shares = traffic.shares(weights)
        tx.add_shares(seq, t, group_name, {
            "exists": True, "mode": group.traffic_mode.value, "weights": weights,
            "shares": {n: round(float(s), 6) for n, s in shares.items()},
            "black_hole": traffic.is_black_hole(weights),
        })

    # history -------------------------------------------------------------------------------
    def record(self, tx: Tx, t: float, kind: str, action: str, service: str, group: str,
               detail: dict[str, Any], groups: tuple[str, ...] = ()) -> int:
        """Append an event and snapshot the shares of its group (and of `groups`)."""
        seq = tx.add_event(t, kind, action, service, group, detail)
        for name in dict.fromkeys((group, *groups)):
            if name:
                self._snapshot(tx, name, t, seq)
        return seq

    def _record_point(self, tx: Tx, svc: ServiceRecord, point: Point) -> None:
        detail = {"Status": point.status.value, "RunningInstance": point.running,
                  "PendingInstance": point.pending, "Reason": point.reason}
        self.record(tx, point.time, "status", point.status.value, svc.name, svc.group, detail)

    def _settle(self, tx: Tx, now: float) -> None:
        due = tx.due_services(now)
        if not due:
            return
        points = sorted(((p.time, s.name, p) for s in due for p in s.phase_points_between(s.settled, now)),
                        key=lambda item: (item[0], item[1]))
        by_name = {s.name: s for s in due}
        for _, name, point in points:
            svc = by_name[name]
            if point.status is Status.DELETED:
                tx.delete_service(name)
                self._record_point(tx, svc, point)
                self._drop_group_if_empty(tx, svc.group, point.time)
                by_name.pop(name)
            else:
                self._record_point(tx, svc, point)
        for svc in by_name.values():
            svc.settled = now
            tx.put_service(svc, now)

    def _drop_group_if_empty(self, tx: Tx, group_name: str, t: float) -> None:
        group = tx.group(group_name) if group_name else None
        if group is None or group.explicit or tx.services(group_name):
            return
        tx.delete_group(group_name)
        self.record(tx, t, "group", "GroupDeleted", "", group_name, {"Reason": "last member deleted"})

    # phases and grants ---------------------------------------------------------------------
    def _held(self, svc: ServiceRecord, t: float) -> int:
        """Instances `svc` holds on its resource: its grant unless stopped, deleted or failed."""
        if svc.phase.kind in (PhaseKind.STOP, PhaseKind.DELETE) or svc.state(t).status is Status.FAILED:
            return 0
        return svc.phase.grant

    def grant(self, tx: Tx, svc: ServiceRecord, target: int, running: int, t: float) -> int:
        """How many of `target` instances can run: stock and capacity permitting, never fewer than run now."""
        floor = min(running, target)
        grant = target
        types = instance_types(svc.config)
        out = tx.out_of_stock() if types else set()
        if types and all(it in out for it in types):
            grant = floor
        resource = resource_of(svc.config)
        capacity = tx.capacities().get(resource) if resource else None
        if capacity is not None:
            used = sum(self._held(o, t) for o in tx.services()
                       if o.name != svc.name and resource_of(o.config) == resource)
            grant = min(grant, max(floor, capacity - used))
        return max(grant, 0)

    def start_phase(self, tx: Tx, svc: ServiceRecord, kind: PhaseKind, t: float, target: int,
                    to_version: int = 0) -> None:
        """Replace the service's phase by a new one starting at `t` from the state reached, and store it."""
        point = svc.state(t)
        running = 0 if point.status in DOWN_STATUSES else point.running
        svc.current_version = svc.running_version(t)
        s = self.settings
        grant = 0 if kind in (PhaseKind.STOP, PhaseKind.DELETE) else self.grant(tx, svc, target, running, t)
        svc.phase = Phase(kind, t, running, grant, target, s.provision_delay, s.scale_in_delay, s.update_delay,
                          s.stop_delay if kind is PhaseKind.STOP else s.delete_delay,
                          svc.labels.get(FAIL_LABEL, "") if kind not in (PhaseKind.STOP, PhaseKind.DELETE) else "",
                          to_version)
        svc.settled = t
        svc.updated_at = t
        tx.put_service(svc, t)
        self._record_point(tx, svc, svc.state(t))

    def regrant(self, tx: Tx, t: float, resource: str = "", instance_type: str = "") -> None:
        """Give waiting services on `resource` / `instance_type` what is free now; hold back what is out of stock."""
        for svc in tx.services():
            on_it = bool(resource and resource_of(svc.config) == resource) or \
                bool(instance_type and instance_type in instance_types(svc.config))
            if not on_it or svc.phase.kind in (PhaseKind.STOP, PhaseKind.DELETE):
                continue
            point = svc.state(t)
            if point.status is Status.FAILED:
                continue
            grant = self.grant(tx, svc, svc.phase.target, point.running, t)
            if grant != svc.phase.grant and (grant > point.running or point.running < svc.phase.grant):
                kind = svc.phase.kind
                self.start_phase(tx, svc, kind, t, svc.phase.target, svc.phase.to_version)

    @staticmethod
    def guard(svc: ServiceRecord, action: str, t: float) -> None:
        """Refuse what the safety lock forbids and anything but reads on a service being deleted."""
        lock = svc.safety_lock
        if lock is SafetyLock.ALL or (lock is SafetyLock.DANGEROUS and action in _DANGEROUS):
            raise errors.safety_lock(svc.name, lock.value, action)
        if svc.phase.kind is PhaseKind.DELETE:
            raise errors.bad_status(svc.name, svc.state(t).status.value, action)

    def delete_member(self, tx: Tx, svc: ServiceRecord, now: float, action: str) -> None:
        self.guard(svc, action, now)
        self.record(tx, now, "write", "DeleteService", svc.name, svc.group, {"Via": action})
        self.start_phase(tx, svc, PhaseKind.DELETE, now, 0)
        self.regrant(tx, now, resource=resource_of(svc.config))
