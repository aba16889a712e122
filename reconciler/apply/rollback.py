"""Restoring a failed group's traffic to the snapshot taken before its first step, where that is safe.

The snapshot is each member's traffic state and stored weight and the group's mode, from the live
state the plan was checked against. Restoring, in this order (traffic in before traffic out):

1. members that were grouping and are standalone now go back to grouping, if ready now
   (Running with every replica): a member that is not ready never gets traffic back, nor one this
   apply gave a new version that has not passed its declared smoke test since (it was drained so
   that the version is tested before it serves);
2. stored weights go back (customized snapshot only);
3. the mode goes back;
4. members that were standalone, or did not exist (created by this apply), go standalone, unless
   that would leave the group with no eligible member.

Nothing is created or deleted: a service this apply created is left standalone, never deleted
unasked; a service it deleted cannot come back (reported). A group this apply created has no
snapshot to go back to: it is left as it is (its members join only once ready, so what serves is
sound). Every write is read back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.apply.steps import GroupRun
from reconciler.desired.model import TrafficMode, TrafficState
from reconciler.desired.shares import MemberTraffic, compute_shares, is_black_hole
from reconciler.errors import EasGitopsError
from reconciler.live.model import LiveState
from reconciler.live.read import list_services, live_service
from reconciler.plan.model import Expect


@dataclass(frozen=True)
class Snapshot:
    mode: TrafficMode | None  # None: the group did not exist
    states: dict[str, TrafficState] = field(default_factory=dict)
    weights: dict[str, int] = field(default_factory=dict)  # stored weights (customized mode only)


def snapshot(live: LiveState, region: str, group: str) -> Snapshot:
    g = live.group(region, group)
    members = live.members(region, group)
    mode = g.traffic_mode if g else (TrafficMode.AUTO if members else None)
    weights = {m.name: m.weight for m in members} if mode is TrafficMode.CUSTOMIZED else {}
    return Snapshot(mode, {m.name: m.traffic_state for m in members}, weights)


class Restorer:
    """Runs the restore of one group; `done` and `not_done` are human-readable lines for the report."""

    def __init__(self, run: GroupRun, snap: Snapshot) -> None:
        self.run, self.snap = run, snap
        self.done: list[str] = []
        self.not_done: list[str] = []

    async def restore(self) -> None:
        try:
            await self._restore()
        except EasGitopsError as err:
            self.not_done.append(f"restore stopped: {err}")

    async def _restore(self) -> None:
        if self.snap.mode is None:
            self.not_done.append("the group did not exist before this apply: its members are left as they are "
                                 "(a service this apply created is never deleted unasked)")
            return
        now = {s.service_name: s for s in await list_services(self.run.client, group=self.run.plan.name)}
        for name, state in sorted(self.snap.states.items()):
            svc = now.get(name)
            if state is TrafficState.GROUPING and svc is not None and svc.traffic is TrafficState.STANDALONE:
                if name in self.run.untested:
                    self.not_done.append(f"{name} not put back in traffic: its new version has not passed its "
                                         "smoke test")
                elif live_service(svc, svc.region).ready:
                    await self._release(name, Expect(traffic_state=state), traffic_state=state)
                else:
                    self.not_done.append(f"{name} not put back in traffic: not ready ({svc.status})")
        for name, weight in sorted(self.snap.weights.items()):
            svc = now.get(name)
            # In auto mode the listing shows shares, not stored weights: set them all back.
            if svc is not None and (svc.weight != weight or self.run.mode is not TrafficMode.CUSTOMIZED):
                await self._release(name, Expect(), weight=weight)
        await self._restore_mode()
        await self._take_out()

    async def _restore_mode(self) -> None:
        if self.snap.mode is not None and self.snap.mode is not self.run.mode:
            await self.run.client.update_group(self.run.plan.name, traffic_mode=self.snap.mode)
            self.done.append(f"group mode back to {self.snap.mode.value}")
            self.run.mode = self.snap.mode

    async def _take_out(self) -> None:
        current = {s.service_name: s for s in await list_services(self.run.client, group=self.run.plan.name)}
        for name, svc in sorted(current.items()):
            want_out = self.snap.states.get(name, TrafficState.STANDALONE) is TrafficState.STANDALONE
            if not want_out or svc.traffic is not TrafficState.GROUPING:
                continue
            members = [MemberTraffic(s.service_name, s.traffic or TrafficState.STANDALONE,
                                     s.running_instance, s.weight) for s in current.values()]
            after = [MemberTraffic(m.name, TrafficState.STANDALONE, m.running, m.weight) if m.name == name else m
                     for m in members]
            if is_black_hole(compute_shares(self.run.mode, after)) and \
                    not is_black_hole(compute_shares(self.run.mode, members)):
                self.not_done.append(f"{name} left grouping: taking it out would leave no member taking traffic")
                continue
            await self._release(name, Expect(traffic_state=TrafficState.STANDALONE),
                                traffic_state=TrafficState.STANDALONE)
            current = {s.service_name: s for s in await list_services(self.run.client, group=self.run.plan.name)}

    async def _release(self, name: str, expect: Expect, *, traffic_state: TrafficState | None = None,
                       weight: int | None = None) -> None:
        ack = await self.run.client.release_service(name, traffic_state=traffic_state, weight=weight)
        after = await self.run.read_back(name, expect)
        what = f"traffic state {traffic_state.value}" if traffic_state else f"weight {weight}"
        self.done.append(f"{name}: {what} restored")
        self.run.journal.write(region=self.run.plan.region, group=self.run.plan.name, step=0, action="rollback",
                               service=name, request_id=ack.request_id, params={"traffic_state": traffic_state,
                                                                                "weight": weight},
                               before=None, after={"traffic_state": after.traffic_state if after else None,
                                                   "weight": after.weight if after else None}, outcome="ok")
