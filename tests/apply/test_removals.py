"""Removals reach EAS: a label or config key dropped from the file is removed live, and only those.

Against the emulator: apply v1, let "someone else" add a label and a config key, apply v2 without
one label and one config key, then check the emulator's state and history; plan again shows no
changes and apply makes zero writes.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.desired.model import ServiceGroup
from reconciler.emulator.faults import Fault, FaultKind
from reconciler.live.model import LiveService, LiveState
from reconciler.plan.model import Action, ChangeOp, Plan
from reconciler.plan.record import RECORD_LABEL

from .harness import World, run

REGION = "cn-shanghai"


def group(labels: dict[str, str], rpc: dict[str, Any] | None, model: str = "v1") -> ServiceGroup:
    svc: dict[str, Any] = {"name": "prod", "traffic": "grouping", "replicas": 2, "labels": labels,
                           "resources": {"cpu": 1, "memory": 1000},
                           "model": {"path": f"oss://b/{model}.pmml", "processor": "pmml"}}
    if rpc is not None:
        svc["config"] = {"metadata": {"rpc": rpc}}
    canary = {"name": "canary", "traffic": "grouping", "replicas": 1, "resources": {"cpu": 1, "memory": 1000},
              "model": {"path": "oss://b/v1.pmml", "processor": "pmml"}}
    return ServiceGroup.model_validate({
        "apiVersion": "eas-gitops/v1", "kind": "ServiceGroup", "metadata": {"name": "pmml", "region": REGION},
        "spec": {"services": [svc, canary]}})


V1 = group({"owner": "alice", "team": "ml"}, {"keepalive": 5000})
V2 = group({"team": "ml"}, None)


def prod(live: LiveState) -> LiveService:
    found = live.service(REGION, "prod")
    assert found is not None
    return found


async def someone_else(world: World) -> None:
    """A label and a config key eas-gitops never declared (a person, a platform default)."""
    async with world.link(REGION) as link:
        await link.client.update_service_label("prod", {"cost-center": "42"})
        await link.client.update_service("prod", {"metadata": {"rpc": {"max_queue_size": 64}}})


def removals(plan: Plan) -> list[str]:
    return [f"{c.service} {c.field}" for g in plan.groups for c in g.changes if c.op is ChangeOp.REMOVE]


def test_removed_label_and_config_key_are_removed_live_and_nothing_else() -> None:
    world = World()

    async def go() -> None:
        assert (await world.converge([V1])).ok
        await someone_else(world)
        plan, live = await world.plan([V2])
        assert removals(plan) == ["prod config.metadata.rpc.keepalive", "prod labels.owner"]
        written = len(world.writes())
        assert (await world.apply(plan, live)).ok
        events = world.writes()[written:]
        deletes = [e for e in events if e["action"] == "DeleteServiceLabel"]
        assert [(e["service"], e["detail"]["Keys"]) for e in deletes] == [("prod", ["owner"])]
        updates = [e for e in events if e["action"] == "UpdateService"]
        assert [(e["service"], e["detail"]["UpdateType"]) for e in updates] == [("prod", "replace")]

        after = prod(await world.live([REGION]))
        assert "owner" not in after.labels
        assert after.labels["cost-center"] == "42" and after.labels["team"] == "ml"
        assert after.config["metadata"]["rpc"] == {"max_queue_size": 64}  # keepalive gone, the other key kept
        assert after.config["metadata"]["instance"] == 2

        again, live = await world.plan([V2])
        assert not again.has_changes, [c.field for g in again.groups for c in g.changes]
        before = len(world.writes())
        assert (await world.apply(again, live)).ok
        assert len(world.writes()) == before  # zero writes

    run(go())


def test_a_service_without_a_record_loses_nothing_and_gets_its_record_with_its_next_write() -> None:
    world = World()

    async def go() -> None:
        assert (await world.converge([V1])).ok
        async with world.link(REGION) as link:  # as a service created before the record existed
            await link.client.delete_service_label("prod", [RECORD_LABEL])
        plan, live = await world.plan([V2])
        assert removals(plan) == []  # no record: owner and rpc.keepalive may be anyone's
        prod_changes = [c.field for g in plan.groups for c in g.changes if c.service == "prod"]
        assert prod_changes == ["labels.eas-gitops/spec-hash"]  # the config changed: its hash is rewritten

        # that label write carries the record; nothing is removed on the way
        assert (await world.apply(plan, live)).ok
        after = prod(await world.live([REGION]))
        assert after.labels["owner"] == "alice" and after.config["metadata"]["rpc"] == {"keepalive": 5000}
        assert RECORD_LABEL in after.labels
        again, _ = await world.plan([V2])
        assert not again.has_changes

        # from then on a removal works: declare owner again, then drop it
        assert (await world.converge([group({"team": "ml", "owner": "bob"}, None)])).ok
        plan, _ = await world.plan([V2])
        assert removals(plan) == ["prod labels.owner"]

    run(go())


@pytest.mark.parametrize("after", [True, False], ids=["landed", "not-landed"])
def test_a_replace_with_an_unknown_outcome_is_read_back_and_converges(after: bool) -> None:
    """A 503 after (landed) or before (not landed) the write: the read-back decides, the key ends gone."""
    world = World()

    async def go() -> None:
        assert (await world.converge([V1])).ok
        plan, live = await world.plan([V2])
        world.emulator(REGION).faults.add(Fault("UpdateService", FaultKind.ERROR503, remaining=1, after=after))
        written = len(world.writes())
        assert (await world.apply(plan, live)).ok
        updates = [e for e in world.writes()[written:] if e["action"] == "UpdateService"]
        assert len(updates) == 1  # one new version either way
        assert "rpc" not in prod(await world.live([REGION])).config["metadata"]

    run(go())


def test_removal_steps_run_in_the_config_update_slot() -> None:
    world = World()

    async def go() -> None:
        assert (await world.converge([V1])).ok
        plan, _ = await world.plan([V2])
        steps = [(s.action, s.service) for g in plan.groups for s in g.steps]
        assert steps == [(Action.UPDATE_CONFIG, "prod"), (Action.WAIT_RUNNING, "prod"),
                         (Action.DELETE_LABELS, "prod"), (Action.UPDATE_LABELS, "prod")]

    run(go())


_OURS = st.sets(st.sampled_from(["owner", "team", "tier", "cost"]), max_size=4)
_RPC = st.dictionaries(st.sampled_from(["keepalive", "io_threads", "worker_threads"]), st.integers(1, 9), max_size=3)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=_OURS, second=_OURS, rpc1=_RPC, rpc2=_RPC, theirs=st.booleans())
def test_any_change_of_declared_keys_converges_and_keeps_everyone_elses(
        first: set[str], second: set[str], rpc1: dict[str, int], rpc2: dict[str, int], theirs: bool) -> None:
    world = World()

    async def go() -> None:
        assert (await world.converge([group({k: "x" for k in first}, rpc1 or None)])).ok
        if theirs:
            await someone_else(world)
        assert (await world.converge([group({k: "y" for k in second}, rpc2 or None)])).ok
        svc = prod(await world.live([REGION]))
        user = {k: v for k, v in svc.labels.items() if not k.startswith("eas-gitops/")}
        assert user == {k: "y" for k in second} | ({"cost-center": "42"} if theirs else {})
        assert svc.config["metadata"].get("rpc", {}) == rpc2 | ({"max_queue_size": 64} if theirs else {})
        again, _ = await world.plan([group({k: "y" for k in second}, rpc2 or None)])
        assert not again.has_changes

    run(go())
