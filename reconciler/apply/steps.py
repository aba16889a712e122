"""Carrying out one group's steps, in order, each write verified by read-back before the next.

Every step is: guard (re-check the safety rule on what EAS says now), write, read back until
`Step.expect` holds (DescribeService first; if EAS has not caught up, the region's shared poller).
Guards, on top of the planner's simulated timeline (tests/apply/test_guards.py moves live state under them):
- a member joins group traffic only when Running with every replica (or with none running: it
  takes no share then);
- no step that takes traffic away may leave a group that serves with no eligible member, except
  when the plan deletes the whole group;
- a member is deleted only when it takes no traffic (verified drain).
A created service is read back and, whatever state EAS gave it, put standalone before anything
else: the tool never relies on the platform's default for new members.

UpdateService (new version, scale) is not safe to repeat blindly, so the client never retries it
after an unknown outcome (5xx, dropped connection); this module does, after reading back: when the
live config already holds every key the body sets, the write landed; otherwise it is sent again
(up to `UNSAFE_ATTEMPTS` times).

Config removals: UpdateService with UpdateType=merge cannot remove a key, so a new version that
removes keys is sent with UpdateType=replace. Its body is built right before the write from the
live config as DescribeService returns it (platform defaults, keys set by others, the replica
count an autoscaler chose: all kept), the desired config merged over it, minus the removed paths.
After an unknown outcome it landed only when the desired keys are there and the removed ones gone.
A label removal (DeleteServiceLabel) is verified by reading the labels back.

UpdateServiceVersion (a rollout's way back to the canary's previous version) is read back until
the service runs that version (CurrentVersion equal to it) and satisfies the step's `expect`.
Rollout bakes are not carried out here (`reconciler.apply.rollout` does).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.apply.journal import Journal, facts
from reconciler.apply.observe import Observer, describe, unmet
from reconciler.apply.runtime import Link
from reconciler.apply.secrets import resolve
from reconciler.clock import Timer
from reconciler.desired.eas_config import Path, deep_merge, value_at, without_paths
from reconciler.desired.model import TrafficMode, TrafficState
from reconciler.desired.shares import MemberTraffic, compute_shares, is_black_hole
from reconciler.eas.client import declared_subset
from reconciler.eas.models import Ack, Service, UpdateType
from reconciler.errors import ApplyError, NotFoundError, ServerError, TransportError
from reconciler.live.read import list_services, live_service
from reconciler.plan.model import Action, Expect, GroupPlan, GroupStatus, Step

UNSAFE_ATTEMPTS = 4


@dataclass(frozen=True)
class StepSettings:
    timeout: float = 900.0  # seconds per step (waits and read-backs)
    env: Mapping[str, str] | None = None  # where ${env:NAME} is resolved (None: os.environ)


def _landed(body: dict[str, Any], removed: tuple[Path, ...], live: dict[str, Any]) -> bool:
    """An UpdateService with `body` (minus `removed`) is visible in the `live` config."""
    return declared_subset(body, live) and not any(value_at(live, path)[0] for path in removed)


def _labels_left(keys: tuple[str, ...], svc: Service | None) -> str | None:
    if svc is None:
        return "the service disappeared"
    left = sorted(set(keys) & set(svc.labels))
    return f"labels {', '.join(left)} still set" if left else None


def _members(services: list[Service]) -> list[MemberTraffic]:
    return [MemberTraffic(s.service_name, s.traffic or TrafficState.STANDALONE, s.running_instance, s.weight)
            for s in services]


class GroupRun:
    """The steps of one group against one region."""

    def __init__(self, plan: GroupPlan, link: Link, observer: Observer, journal: Journal, timer: Timer,
                 settings: StepSettings) -> None:
        self.plan, self.link, self.observer, self.journal = plan, link, observer, journal
        self.timer, self.settings = timer, settings
        self.client = link.client
        self.mode = plan.mode_before or TrafficMode.AUTO
        self.seen: dict[str, Service | None] = {}  # last read of each member: the journal's `before`
        # members given a new version by this run whose declared smoke test has not passed since: a
        # rollback never puts one of them back into group traffic (it was drained to be tested first)
        self.untested: set[str] = set()
        self.handlers: dict[Action, Callable[[Step], Awaitable[None]]] = {
            Action.CREATE_SERVICE: self._create, Action.UPDATE_CONFIG: self._update, Action.SCALE: self._scale,
            Action.WAIT_RUNNING: self._wait, Action.SMOKE_TEST: self._smoke, Action.SET_WEIGHT: self._weight,
            Action.SET_TRAFFIC_STATE: self._traffic, Action.DRAIN: self._traffic, Action.SET_MODE: self._mode,
            Action.DELETE_SERVICE: self._delete, Action.UPDATE_LABELS: self._labels,
            Action.DELETE_LABELS: self._delete_labels, Action.UPDATE_VERSION: self._version,
        }

    async def run_step(self, step: Step) -> None:
        await self.handlers[step.action](step)

    # ---- plumbing -----------------------------------------------------------------------------------------

    def _log(self, step: Step, ack: Ack | None, before: Service | None, after: Service | None, **extra: Any) -> None:
        self.journal.write(region=self.plan.region, group=self.plan.name, step=step.index, action=step.action.value,
                           service=step.service, request_id=ack.request_id if ack else "",
                           params=step.params.model_dump(mode="json"), before=facts(before), after=facts(after),
                           **extra)

    async def describe(self, name: str) -> Service | None:
        try:
            svc: Service | None = await self.client.describe_service(name)
        except NotFoundError:
            svc = None
        self.seen[name] = svc
        return svc

    async def last(self, name: str) -> Service | None:
        """The service as last read by this group (for the journal's `before`), else described now."""
        return self.seen[name] if name in self.seen else await self.describe(name)

    async def read_back(self, name: str, expect: Expect) -> Service | None:
        """The service once `expect` holds: one describe, then the shared poller until the step timeout."""
        svc = await self.describe(name)
        if unmet(expect, svc, self.mode) is None:
            return svc
        svc = await self.observer.wait(name, self.plan.name, lambda s: unmet(expect, s, self.mode),
                                       timeout=self.settings.timeout, expect_gone=not expect.exists, last=svc)
        self.seen[name] = svc
        return svc

    async def _written(self, step: Step, write: Awaitable[Ack], before: Service | None) -> Service | None:
        assert step.service is not None
        ack = await write
        after = await self.read_back(step.service, step.expect)
        self._log(step, ack, before, after, outcome="ok")
        return after

    # ---- guards -------------------------------------------------------------------------------------------

    async def _guard_traffic_out(self, step: Step, change: Callable[[MemberTraffic], MemberTraffic]) -> None:
        """Refuse a step that would leave a serving group with no eligible member (unless the group goes)."""
        if self.plan.status is GroupStatus.DELETE:
            return
        services = await list_services(self.client, group=self.plan.name)
        self.seen.update({s.service_name: s for s in services})
        members = _members(services)
        after = [change(m) if m.name == step.service else m for m in members]
        if not is_black_hole(compute_shares(self.mode, members)) and is_black_hole(compute_shares(self.mode, after)):
            raise ApplyError(f"step {step.index} ({step.action.value} {step.service}) would leave group "
                             f"{self.plan.name} with no member taking traffic (a black hole): refused")

    async def _guard_ready(self, step: Step, svc: Service | None) -> None:
        if svc is None:
            raise ApplyError(f"{step.service} does not exist: it cannot join group traffic")
        lv = live_service(svc, svc.region)
        if lv.running > 0 and not lv.ready:
            raise ApplyError(f"{step.service} is not ready to take traffic ({describe(svc)}): "
                             "it joins only when Running with every replica")

    # ---- handlers -----------------------------------------------------------------------------------------

    async def _create(self, step: Step) -> None:
        p, name = step.params, step.service
        assert p.action is Action.CREATE_SERVICE and name is not None
        ack = await self.client.create_service(resolve(p.config, self.settings.env), labels=p.labels)
        after = await self.describe(name)
        if after is not None and after.traffic is not TrafficState.STANDALONE and after.service_group:
            await self.client.release_service(name, traffic_state=TrafficState.STANDALONE)
            after = await self.read_back(name, step.expect)
        elif unmet(step.expect, after, self.mode) is not None:
            after = await self.read_back(name, step.expect)
        self._log(step, ack, None, after, outcome="ok")

    async def _unsafe(self, name: str, body: dict[str, Any], removed: tuple[Path, ...] = ()) -> Ack:
        """UpdateService is not repeated blindly (a repeat may make another version): after an unknown
        outcome (5xx, dropped connection) read back, and send again only if the change is not there.
        With `removed` paths the body replaces the whole config."""
        kind = UpdateType.REPLACE if removed else UpdateType.MERGE
        for attempt in range(1, UNSAFE_ATTEMPTS + 1):
            try:
                return await self.client.update_service(name, body, update_type=kind)
            except (ServerError, TransportError):
                svc = await self.describe(name)
                if svc is not None and _landed(body, removed, svc.config):
                    return Ack()
                if attempt == UNSAFE_ATTEMPTS:
                    raise
                await self.timer.sleep(self.observer.interval)
        raise AssertionError("unreachable")

    async def _update(self, step: Step) -> None:
        p, name = step.params, step.service
        assert p.action is Action.UPDATE_CONFIG and name is not None
        before = await self.last(name)
        if any(s.action is Action.SMOKE_TEST and s.service == name for s in self.plan.steps):
            self.untested.add(name)
        desired = resolve(p.config, self.settings.env)
        if not p.removed_paths:
            await self._written(step, self._unsafe(name, desired), before)
            return
        live = await self.describe(name)  # fresh: the replace body keeps what EAS holds now
        if live is None:
            raise ApplyError(f"{name} does not exist: its config cannot be updated")
        body = without_paths(deep_merge(live.config, desired), p.removed_paths)
        await self._written(step, self._unsafe(name, body, p.removed_paths), live)

    async def _scale(self, step: Step) -> None:
        p, name = step.params, step.service
        assert p.action is Action.SCALE and name is not None
        before = await self.last(name)
        await self._written(step, self._unsafe(name, {"metadata": {"instance": p.replicas}}), before)

    async def _wait(self, step: Step) -> None:
        name = step.service
        assert name is not None
        after = await self.observer.wait(name, self.plan.name, lambda s: unmet(step.expect, s, self.mode),
                                         timeout=self.settings.timeout)
        self.seen[name] = after
        self._log(step, None, None, after, outcome="ok")

    async def _smoke(self, step: Step) -> None:
        p, name = step.params, step.service
        assert p.action is Action.SMOKE_TEST and name is not None
        status = await self.link.smoke(self.plan.name, name, p.path, p.body)
        self._log(step, None, None, None, outcome="ok" if status == p.expect_status else "failed", http_status=status)
        if status != p.expect_status:
            raise ApplyError(f"smoke test of {self.plan.name}.{name} {p.path} answered HTTP {status}, "
                             f"expected {p.expect_status}")
        self.untested.discard(name)

    async def _weight(self, step: Step) -> None:
        p, name = step.params, step.service
        assert p.action is Action.SET_WEIGHT and name is not None
        before = await self.last(name)
        if self.mode is TrafficMode.CUSTOMIZED:
            await self._guard_traffic_out(step, lambda m: MemberTraffic(m.name, m.state, m.running, p.weight))
        await self._written(step, self.client.release_service(name, weight=p.weight), before)

    async def _traffic(self, step: Step) -> None:
        p, name = step.params, step.service
        assert p.action in (Action.SET_TRAFFIC_STATE, Action.DRAIN) and name is not None
        state = TrafficState(p.traffic_state)
        if state is TrafficState.GROUPING:
            before = await self.describe(name)  # fresh: readiness is checked on what EAS says now
            await self._guard_ready(step, before)
        else:
            await self._guard_traffic_out(step, lambda m: MemberTraffic(m.name, state, m.running, m.weight))
            before = await self.last(name)
        await self._written(step, self.client.release_service(name, traffic_state=state), before)

    async def _mode(self, step: Step) -> None:
        p = step.params
        assert p.action is Action.SET_MODE
        ack = await self.client.update_group(self.plan.name, traffic_mode=p.mode)
        deadline = self.timer.now() + self.settings.timeout
        while (group := await self.client.describe_group(self.plan.name)).mode is not p.mode:
            if self.timer.now() >= deadline:
                raise ApplyError(f"group {self.plan.name} still in {group.mode} mode after UpdateGroup")
            await self.timer.sleep(self.observer.interval)
        self.mode = p.mode
        self.journal.write(region=self.plan.region, group=self.plan.name, step=step.index, action=step.action.value,
                           service=None, request_id=ack.request_id, params=p.model_dump(mode="json"),
                           before={"mode": p.before.value}, after={"mode": group.mode.value}, outcome="ok")

    async def _delete(self, step: Step) -> None:
        name = step.service
        assert name is not None
        before = await self.describe(name)
        if before is None:
            self._log(step, None, None, None, outcome="ok", message="already gone")
            return
        if before.traffic is TrafficState.GROUPING and before.running_instance > 0:
            raise ApplyError(f"{name} still takes group traffic ({describe(before)}): not deleted without a drain")
        await self._written(step, self.client.delete_service(name), before)

    async def _delete_labels(self, step: Step) -> None:
        p, name = step.params, step.service
        assert p.action is Action.DELETE_LABELS and name is not None
        before = await self.last(name)
        ack = await self.client.delete_service_label(name, list(p.keys))
        after = await self.describe(name)
        if _labels_left(p.keys, after) is not None:
            after = await self.observer.wait(name, self.plan.name, lambda s: _labels_left(p.keys, s),
                                             timeout=self.settings.timeout, last=after)
            self.seen[name] = after
        self._log(step, ack, before, after, outcome="ok")

    async def _labels(self, step: Step) -> None:
        p, name = step.params, step.service
        assert p.action is Action.UPDATE_LABELS and name is not None
        before = await self.last(name)
        await self._written(step, self.client.update_service_label(name, p.labels), before)

    async def _version(self, step: Step) -> None:
        p, name = step.params, step.service
        assert p.action is Action.UPDATE_VERSION and name is not None
        before = await self.last(name)
        ack = await self.client.update_service_version(name, p.version)

        def lacking(svc: Service | None) -> str | None:
            if svc is not None and svc.current_version != p.version:
                return f"version {svc.current_version}, want {p.version}"
            return unmet(step.expect, svc, self.mode)

        after = await self.describe(name)
        if lacking(after) is not None:
            after = await self.observer.wait(name, self.plan.name, lacking, timeout=self.settings.timeout, last=after)
            self.seen[name] = after
        self._log(step, ack, before, after, outcome="ok")
