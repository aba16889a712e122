"""ListServices pages from light rows: same answers as building every service, built for one page only, no writes."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from reconciler.emulator import models
from reconciler.emulator.backend import Backend
from reconciler.emulator.lifecycle import ServiceView
from reconciler.emulator.listing import ServiceQuery
from reconciler.emulator.models import Status, resource_of
from reconciler.emulator.responses import service_wire
from reconciler.emulator.settings import EmulatorSettings
from reconciler.emulator.store import Store
from reconciler.emulator.tokens import Tokens

from .helpers import REGION, FakeClock


@pytest.fixture
def world(clock: FakeClock) -> Iterator[Backend]:
    """Every kind of member: creating, running, waiting, failed, stopped, scaling, deleting, ungrouped, both modes."""
    store = Store(None)
    b = Backend(EmulatorSettings(clock=clock, initial_traffic_state="grouping", delete_delay=3.0), store)

    def svc(name: str, group: str = "", instances: int = 1, labels: dict[str, str] | None = None,
            **metadata: Any) -> None:
        meta = {"instance": instances, **({"group": group} if group else {}), **metadata}
        b.create_service({"name": name, "metadata": meta}, labels or {})
    b.set_capacity("eas-r-1", 2)
    for name, group, n, labels in (("a_big", "auto_g", 3, {"tier": "gold"}), ("a_small", "auto_g", 1, {}),
                                   ("a_bad", "auto_g", 1, {"emulator/fail": "boom"}), ("c_x", "cust", 2, {}),
                                   ("c_y", "cust", 1, {"tier": "gold"}), ("c_z", "cust", 1, {"tier": "silver"})):
        svc(name, group, n, labels)
        clock.advance(0.25)
    svc("solo", labels={"tier": "gold"})
    svc("r_wait", "res", 3, resource="eas-r-1")
    svc("gone", "auto_g", 1)
    svc("gone_too", "lonely", 2)
    b.update_group(REGION, "cust", "customized", None, None)
    b.release_service(REGION, "c_x", None, 300)
    b.release_service(REGION, "c_y", None, -1)
    b.release_service(REGION, "a_small", "standalone", None)
    clock.advance(10)
    b.stop_service(REGION, "c_z")
    b.update_service(REGION, "a_big", {"metadata": {"instance": 5}})
    b.delete_service(REGION, "gone")
    b.delete_service(REGION, "gone_too")
    yield b
    store.close()


def reference(b: Backend, q: ServiceQuery) -> tuple[list[ServiceView], int]:
    """The listing as it was defined before paging on rows: every service's view, filtered, sorted, sliced."""
    with b.store.read() as tx:
        now = b.now(tx)
        views = [b.view(tx, s, now) for s in tx.services()]
    views = [v for v in views if v.point.status is not Status.DELETED and matches(v, q)]
    views.sort(key=lambda v: ({"UpdateTime": v.record.updated_at, "ServiceName": v.record.name}.get(
        q.sort, v.record.created_at), v.record.name), reverse=q.order.lower() != "asc")
    return views[(q.page - 1) * q.size: q.page * q.size], len(views)


def matches(v: ServiceView, q: ServiceQuery) -> bool:
    r = v.record
    return all([not q.group_name or r.group == q.group_name, not q.service_name or r.name == q.service_name,
                not q.name_contains or q.name_contains in r.name, all(r.labels.get(k) == x for k, x in q.labels),
                not q.status or v.point.status.value == q.status,
                not q.traffic_state or (bool(r.group) and r.traffic_state.value == q.traffic_state),
                not q.resource_name or resource_of(r.config) == q.resource_name])


def wire(result: tuple[list[ServiceView], int]) -> tuple[list[dict[str, Any]], int]:
    tokens = Tokens("00" * 32)
    return [service_wire(v, "h", tokens=tokens) for v in result[0]], result[1]


def queries() -> Iterator[ServiceQuery]:
    statuses = ("", "Running", "Creating", "Stopping", "Stopped", "Waiting", "Failed", "Deleting", "Scaling")
    for status, (sort, order), (page, size) in itertools.product(
            statuses, itertools.product(("CreateTime", "UpdateTime", "ServiceName"), ("asc", "desc")),
            ((1, 100), (2, 3))):
        yield ServiceQuery(status=status, sort=sort, order=order, page=page, size=size)
    for group, labels, traffic, resource, contains in itertools.product(
            ("", "auto_g", "cust", "lonely"), ((), (("tier", "gold"),)), ("", "grouping", "standalone"),
            ("", "eas-r-1"), ("", "a_")):
        yield ServiceQuery(group_name=group, labels=labels, traffic_state=traffic, resource_name=resource,
                           name_contains=contains)
    yield ServiceQuery(service_name="c_y")
    yield ServiceQuery(labels=(("emulator/fail", "boom"),), name_contains="o")


def test_pages_match_the_listing_of_every_view_over_time(world: Backend, clock: FakeClock) -> None:
    seen_statuses: set[str] = set()
    for step in (0.0, 0.5, 1.0, 2.0, 4.0, 30.0):  # phases in flight, then due and unsettled, then over
        clock.advance(step)
        if step == 2.0:
            world.history()  # some rows settled, others due
        for q in queries():
            got = wire(world.list_services(q))
            assert got == wire(reference(world, q)), q
            seen_statuses |= {s["Status"] for s in got[0]}
    assert {"Running", "Waiting", "Failed", "Stopped", "Scaling", "Deleting", "Stopping"} <= seen_statuses
    final = {v.record.name for v in world.list_services(ServiceQuery())[0]}
    assert "gone" not in final and "gone_too" not in final and "r_wait" in final  # deleted, not yet settled
    world.history()  # settling changes nothing that a listing shows
    assert all(wire(world.list_services(q)) == wire(reference(world, q)) for q in queries())


def test_a_listing_writes_nothing_and_history_records_each_change_once(world: Backend, clock: FakeClock) -> None:
    def events() -> list[tuple[Any, ...]]:
        with world.store.read() as tx:
            return [(e["time"], e["action"], e["service"]) for e in tx.events()]
    before = events()
    clock.advance(5)
    shown = {v.record.name: v.point.status.value for v in world.list_services(ServiceQuery())[0]}
    assert shown["a_big"] == "Running" and shown["c_z"] == "Stopped" and "gone" not in shown
    assert events() == before  # computed from timestamps, not settled
    world.list_services(ServiceQuery(status="Running"))
    world.history()
    after = events()
    world.list_services(ServiceQuery())
    world.history()
    assert events() == after  # nothing recorded twice
    changes = [e for e in after[len(before):] if e[2] == "a_big"]
    assert changes == [(e[0], "Scaling", "a_big") for e in changes[:-1]] + [(changes[-1][0], "Running", "a_big")]
    assert len({e[0] for e in changes}) == len(changes) == 2  # 4 -> 5 instances: one step, then Running


def test_a_page_builds_only_its_own_services(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    b = Backend(EmulatorSettings(clock=clock, initial_traffic_state="grouping"), Store(None))
    for i in range(300):
        b.create_service({"name": f"s{i:03d}", "metadata": {"instance": 1, "group": f"g{i // 10:02d}"}}, {})
    clock.advance(5)
    b.history()
    built: list[str] = []
    parse = models.ServiceRecord.from_dict

    def counting(data: dict[str, Any]) -> models.ServiceRecord:
        built.append(data["name"])
        return parse(data)
    monkeypatch.setattr(models.ServiceRecord, "from_dict", staticmethod(counting))
    views, total = b.list_services(ServiceQuery(page=3, size=10, order="asc"))
    assert total == 300 and [v.record.name for v in views] == [f"s{i:03d}" for i in range(20, 30)]
    assert sorted(built) == [v.record.name for v in views]  # not the 300 others, not the group's members again
    assert {v.listed_weight for v in views} == {10}  # auto mode: 10 members of 1 instance each, 10 %


def test_only_phases_in_flight_are_computed_in_python(world: Backend, clock: FakeClock,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    parse = models.Phase.from_dict

    def counting(data: dict[str, Any]) -> models.Phase:
        parsed.append(data["kind"])
        return parse(data)
    monkeypatch.setattr(models.Phase, "from_dict", staticmethod(counting))
    clock.advance(1.5)  # a_big is scaling 3 -> 5: past its stored state (4 up at +1), not done (+2)
    views, total = world.list_services(ServiceQuery(status="Scaling"))
    assert [v.record.name for v in views] == ["a_big"] and total == 1
    assert parsed == ["scale"] * 3  # filter, page record, group weights: every other status came from SQL
    clock.advance(60)  # every phase over, nothing settled: the final states are columns
    parsed.clear()
    running, total = world.list_services(ServiceQuery(status="Running", order="asc"))
    assert [v.record.name for v in running] == ["a_big", "a_small", "c_x", "c_y", "solo"] and total == 5
    assert parsed == ["scale", "create", "create", "create", "create"]  # the 5 page records only, no row
