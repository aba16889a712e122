"""The group lock (reconciler.apply.lock) on the in-process emulator, on a virtual clock.

Taking, renewing, expiring and releasing; a group that does not exist yet; the race of two acquirers
that both read "free" (exactly one proceeds); an executor whose lock was taken over stops before its
next write; the lock never shows in the live state, the plan or its fingerprint.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply import connect_all
from reconciler.apply.executor import ApplySettings, Executor
from reconciler.apply.journal import Journal
from reconciler.apply.lock import (
    EXPIRES_LABEL,
    HOLDER_LABEL,
    RUN_LABEL,
    TOKEN_LABEL,
    Holder,
    Locks,
    LockSettings,
    break_lock,
    lock_holder,
    new_group_workspaces,
    who_am_i,
)
from reconciler.apply.report import GroupOutcome
from reconciler.errors import LockError, LockLostError
from reconciler.live.model import fingerprint
from reconciler.plan.model import CreateParams

from .harness import EXAMPLES, World, load

REGION = "cn-shanghai"
SETTINGS = LockSettings(timeout=0, ttl=30, settle=1, poll=1)


@asynccontextmanager
async def clients(world: World) -> AsyncIterator[dict[str, Any]]:
    async with connect_all(world.connector, [REGION]) as links:
        yield {REGION: links[REGION].client}


def locks(world: World, c: dict[str, Any], group: str = "pmml", **settings: Any) -> Locks:
    return Locks(c, [(REGION, group)], LockSettings(**{**SETTINGS.__dict__, **settings}), world.timer, env={})


def labels(world: World, group: str) -> dict[str, str] | None:
    found = [g for g in world.emulator(REGION).backend.list_groups(group, "", 1, 100)[0] if g.name == group]
    return dict(found[0].labels) if found else None


@pytest.fixture
def world() -> World:
    w = World()
    assert asyncio.run(w.converge(load(EXAMPLES / "pmml.yaml"))).ok
    return w


def test_the_lock_is_on_the_group_with_its_holder_and_release_keeps_other_labels(world: World) -> None:
    async def go() -> None:
        async with clients(world) as c:
            await c[REGION].update_group("pmml", labels={"team": "search"})
            lock = locks(world, c)
            await lock.acquire()
            got = labels(world, "pmml")
            assert got is not None and got[TOKEN_LABEL] == lock.me.token and got["team"] == "search"
            assert got[HOLDER_LABEL].endswith(f"pid {os.getpid()}") and RUN_LABEL not in got
            holder = await lock_holder(c[REGION], "pmml")
            assert holder is not None and holder.expires - holder.taken == pytest.approx(30, abs=1)
            await lock.release()
            assert labels(world, "pmml") == {"team": "search"}
    asyncio.run(go())


def test_the_holder_names_the_ci_run() -> None:
    who, url = who_am_i({"GITHUB_SERVER_URL": "https://github.com/", "GITHUB_REPOSITORY": "acme/models",
                         "GITHUB_RUN_ID": "42"})
    assert url == "https://github.com/acme/models/actions/runs/42" and " pid " in who
    assert who_am_i({"GITHUB_SERVER_URL": "https://github.com"})[1] == ""


def test_a_held_lock_refuses_at_once_naming_the_holder_without_writing(world: World) -> None:
    async def go() -> None:
        async with clients(world) as c:
            first = locks(world, c)
            await first.acquire()
            before = len(world.writes())
            with pytest.raises(LockError, match=r"cn-shanghai/pmml is locked by .*pid .*since .*expires in"):
                await locks(world, c).acquire()
            assert len(world.writes()) == before
    asyncio.run(go())


def test_a_waiter_gets_the_lock_when_the_holder_releases_and_hears_who_holds_it(world: World) -> None:
    async def go() -> None:
        async with clients(world) as c:
            first = locks(world, c)
            await first.acquire()
            heard: list[str] = []
            second = locks(world, c, timeout=60)
            second.on_wait = lambda w: heard.extend(h.who for h in w.holders.values() if h)

            async def release_later() -> None:
                await world.timer.sleep(10)
                await first.release()
            await asyncio.gather(second.acquire(), release_later())
            assert second.held and heard and heard[0] == first.me.who
            assert world.timer.now() - 1_700_000_000 >= 10
    asyncio.run(go())


def test_a_dead_holders_lock_expires_and_a_renewed_one_does_not(world: World) -> None:
    async def go() -> None:
        async with clients(world) as c:
            alive = locks(world, c)
            await alive.acquire()
            async with alive.renewing():
                await world.timer.sleep(100)  # more than 3 ttl, renewed every 10 s
                with pytest.raises(LockError):
                    await locks(world, c).acquire()
            await world.timer.sleep(31)  # renewal stopped: the holder is as good as dead
            taker = locks(world, c)
            await taker.acquire()
            assert (await lock_holder(c[REGION], "pmml")).token == taker.me.token  # type: ignore[union-attr]
    asyncio.run(go())


def test_a_new_group_is_created_to_hold_its_lock_and_is_invisible_to_plans(world: World) -> None:
    async def go() -> None:
        live_before = await world.live([REGION])
        async with clients(world) as c:
            lock = locks(world, c, group="brand_new")
            await lock.acquire()
            assert labels(world, "brand_new") is not None  # CreateGroup with the lock labels
            live = await world.live([REGION])
            assert live.group(REGION, "brand_new") is None
            assert fingerprint(live) == fingerprint(live_before)
            plan, _ = await world.plan(load(EXAMPLES / "pmml.yaml"))
            assert not plan.has_changes and [g.name for g in plan.groups] == ["pmml"]  # not orphaned
            await lock.release()
            assert labels(world, "brand_new") is None  # still empty: deleted again
    asyncio.run(go())


def test_lock_labels_change_neither_the_fingerprint_nor_the_plan(world: World) -> None:
    async def go() -> None:
        plan_before, live_before = await world.plan(load(EXAMPLES / "pmml.yaml"))
        async with clients(world) as c:
            await locks(world, c).acquire()
            plan, live = await world.plan(load(EXAMPLES / "pmml.yaml"))
        assert fingerprint(live) == fingerprint(live_before) and plan.live_fingerprint == plan_before.live_fingerprint
        assert not plan.has_changes
    asyncio.run(go())


class ReadTogether:
    """A client whose first DescribeGroup waits for the other acquirer's: both read "free" before either writes.
    `slow` seconds pass between its read and its write (a slower network), less than the read-back delay."""

    def __init__(self, client: Any, barrier: asyncio.Barrier, timer: Any, slow: float = 0.0) -> None:
        self.client, self.barrier, self.first, self.timer, self.slow = client, barrier, True, timer, slow

    async def update_group(self, name: str, **kw: Any) -> Any:
        await self.timer.sleep(self.slow)
        return await self.client.update_group(name, **kw)

    async def create_group(self, name: str, **kw: Any) -> Any:
        await self.timer.sleep(self.slow)
        return await self.client.create_group(name, **kw)

    async def describe_group(self, name: str) -> Any:
        try:
            return await self.client.describe_group(name)
        finally:  # also when it is not found (a new group)
            if self.first:
                self.first = False
                await self.barrier.wait()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


@pytest.mark.parametrize("group", ["pmml", "brand_new"])
def test_two_acquirers_that_both_read_free_exactly_one_proceeds(world: World, group: str) -> None:
    async def go() -> None:
        async with clients(world) as c:
            barrier = asyncio.Barrier(2)
            a = Locks({REGION: ReadTogether(c[REGION], barrier, world.timer)}, [(REGION, group)], SETTINGS,
                      world.timer, env={})
            b = Locks({REGION: ReadTogether(c[REGION], barrier, world.timer, slow=SETTINGS.settle / 2)},
                      [(REGION, group)], SETTINGS, world.timer, env={})
            results = await asyncio.gather(a.acquire(), b.acquire(), return_exceptions=True)
            won = [lk for lk, r in zip((a, b), results, strict=True) if r is None]
            lost = [r for r in results if isinstance(r, LockError)]
            assert len(won) == 1 and len(lost) == 1, results
            holder = await lock_holder(c[REGION], group)
            assert holder is not None and holder.token == won[0].me.token
            await won[0].check(REGION, group)  # the winner goes on
    asyncio.run(go())


def test_an_apply_whose_lock_was_taken_over_stops_before_its_next_write(world: World, tmp_path: Path) -> None:
    changed = tmp_path / "pmml.yaml"
    changed.write_text((EXAMPLES / "pmml.yaml").read_text().replace("replicas: 4", "replicas: 5"))

    async def go() -> None:
        plan, live = await world.plan(load(changed))
        assert len(plan.groups[0].steps) >= 2
        async with clients(world) as c, connect_all(world.connector, [REGION]) as links:
            stalled = locks(world, c)
            await stalled.acquire()
            thief = locks(world, c)
            await c[REGION].update_group("pmml", labels=Holder(thief.me.token, "thief@ci pid 1", "", 0,
                                                                world.timer.epoch() + 60).labels())
            before = len(world.writes())
            executor = Executor(links, world.timer, settings=ApplySettings(poll_interval=1.0), journal=Journal(None),
                                guard=stalled.check)
            report = await executor.run(plan, live)
            g = report.groups[0]
            assert g.outcome is GroupOutcome.STOPPED and "lost the lock" in g.error and "thief@ci" in g.error
            assert not g.done and len(world.writes()) == before  # not one write, no rollback
            with pytest.raises(LockLostError):
                await stalled.check(REGION, "pmml")
            await stalled.release()  # never removes another holder's lock
            assert (await lock_holder(c[REGION], "pmml")).who == "thief@ci pid 1"  # type: ignore[union-attr]
    asyncio.run(go())


def test_a_lock_taken_over_after_the_first_step_stops_the_group_before_its_next_write(
        world: World, tmp_path: Path) -> None:
    """The lock is checked before every step, not only the first: a takeover mid-group stops it."""
    changed = tmp_path / "pmml.yaml"
    changed.write_text((EXAMPLES / "pmml.yaml").read_text().replace("replicas: 4", "replicas: 5"))

    async def go() -> None:
        plan, live = await world.plan(load(changed))
        steps = plan.groups[0].steps
        assert len(steps) >= 2
        async with clients(world) as c, connect_all(world.connector, [REGION]) as links:
            stalled = locks(world, c)
            await stalled.acquire()
            thief = locks(world, c)
            writes: list[int] = []

            async def guard(region: str, group: str) -> None:
                writes.append(len(world.writes()))
                if len(writes) == 2:  # step 1 is done: another holder takes the lock over
                    await c[REGION].update_group("pmml", labels=Holder(
                        thief.me.token, "thief@ci pid 1", "", 0, world.timer.epoch() + 60).labels())
                    writes.append(len(world.writes()))
                await stalled.check(region, group)

            executor = Executor(links, world.timer, settings=ApplySettings(poll_interval=1.0), journal=Journal(None),
                                guard=guard)
            report = await executor.run(plan, live)
            g = report.groups[0]
            assert g.outcome is GroupOutcome.STOPPED and "thief@ci" in g.error
            assert g.done == list(steps[:1]) and g.left == list(steps[1:])
            assert writes[1] > writes[0]  # step 1 wrote
            assert len(world.writes()) == writes[-1]  # nothing written after the takeover, no rollback
    asyncio.run(go())


def test_break_lock_removes_whoever_holds_it(world: World) -> None:
    async def go() -> None:
        async with clients(world) as c:
            held = locks(world, c)
            await held.acquire()
            removed = await break_lock(c[REGION], "pmml")
            assert removed is not None and removed.token == held.me.token
            assert await lock_holder(c[REGION], "pmml") is None and EXPIRES_LABEL not in (labels(world, "pmml") or {})
            with pytest.raises(LockLostError, match="released by hand"):
                await held.check(REGION, "pmml")
            assert await break_lock(c[REGION], "pmml") is None
    asyncio.run(go())


class MergingLabels:
    """A client for an EAS whose UpdateGroup merges labels instead of replacing them (undocumented either way)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def update_group(self, name: str, *, labels: dict[str, str] | None = None, **kw: Any) -> Any:
        if labels is not None:
            labels = (await self.client.describe_group(name)).labels | labels
        return await self.client.update_group(name, labels=labels, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_release_frees_the_lock_also_where_update_group_merges_labels(world: World) -> None:
    async def go() -> None:
        async with clients(world) as c:
            merging = {REGION: MergingLabels(c[REGION])}
            first = Locks(merging, [(REGION, "pmml")], SETTINGS, world.timer, env={})
            await first.acquire()
            await first.release()
            assert await lock_holder(c[REGION], "pmml") is None
            await Locks(merging, [(REGION, "pmml")], SETTINGS, world.timer, env={}).acquire()  # timeout 0: free
    asyncio.run(go())


def test_a_new_groups_home_is_created_in_the_workspace_its_file_names(world: World) -> None:
    region = "cn-hangzhou"

    async def go() -> None:
        plan, _ = await world.plan(load(EXAMPLES / "mixed_billing.yaml", EXAMPLES / "blue_green.yaml"))
        assert {g.name for g in plan.groups if g.mode_before is None} == {"recsys", "ranker"}  # both new
        workspaces = new_group_workspaces(plan)
        assert workspaces == {(region, "recsys"): "123456"}  # ranker's file names no workspace
        async with connect_all(world.connector, [region]) as links:
            lock = Locks({region: links[region].client}, [(region, "recsys"), (region, "other")], SETTINGS,
                         world.timer, env={}, workspaces=workspaces)
            await lock.acquire()
            made = {g.name: g for g in world.emulator(region).backend.list_groups("", "", 1, 100)[0]}
            assert made["recsys"].workspace_id == "123456"  # sent as WorkSpaceId with CreateGroup
            assert made["other"].workspace_id == ""  # no workspace named: EAS's default
            await lock.release()
    asyncio.run(go())


def test_only_groups_the_plan_creates_name_a_workspace(world: World, tmp_path: Path) -> None:
    async def go() -> None:
        assert (await world.converge(load(EXAMPLES / "mixed_billing.yaml"))).ok
        renamed = tmp_path / "recsys.yaml"  # a new member (CreateService, with the workspace) in a group that exists
        renamed.write_text((EXAMPLES / "mixed_billing.yaml").read_text().replace("recsys_burst", "recsys_extra"))
        plan, _ = await world.plan(load(renamed))
        assert any(isinstance(s.params, CreateParams) for g in plan.groups for s in g.steps)
        assert new_group_workspaces(plan) == {}  # the group has its home already
    asyncio.run(go())
