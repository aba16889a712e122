"""The emulated rules, HTTP-free: groups, shares, life over time, stock, capacity, lock, versions, labels, paging."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.emulator.backend import Backend
from reconciler.emulator.errors import WireError
from reconciler.emulator.listing import ServiceQuery

from .helpers import REGION, FakeClock, make_backend


def svc(b: Backend, name: str, group: str = "g", instances: int = 1, labels: dict[str, str] | None = None,
        **extra: Any) -> None:
    b.create_service({"name": name, "metadata": {"instance": instances, "group": group}, **extra}, labels or {})


def state(b: Backend, name: str) -> tuple[str, int, int]:
    p = b.describe_service(REGION, name).point
    return p.status.value, p.running, p.pending


def weights(b: Backend, group: str = "g") -> dict[str, int]:
    views, _ = b.list_services(ServiceQuery(group_name=group))
    return {v.record.name: v.listed_weight for v in views}


def refused(call: Any, *args: Any) -> str:
    with pytest.raises(WireError) as exc:
        call(*args)
    return exc.value.code


def test_instances_come_up_one_by_one(backend: Backend, clock: FakeClock) -> None:
    svc(backend, "a", instances=3)
    seen = []
    for _ in range(4):
        seen.append(state(backend, "a"))
        clock.advance(1.0)
    assert seen == [("Creating", 0, 3), ("Creating", 1, 2), ("Creating", 2, 1), ("Running", 3, 0)]


def test_implicit_group_lifecycle_and_new_member_state(backend: Backend, clock: FakeClock) -> None:
    svc(backend, "a")
    assert [g.name for g in backend.list_groups("", "", 1, 10)[0]] == ["g"]
    assert backend.describe_service(REGION, "a").record.traffic_state.value == "standalone"
    backend.delete_service(REGION, "a")
    assert backend.describe_group(REGION, "g").name == "g"  # still deleting
    clock.advance(1.0)
    assert refused(backend.describe_group, REGION, "g") == "InvalidGroup.NotFound"
    assert refused(backend.describe_service, REGION, "a") == "InvalidService.NotFound"


def test_grouping_setting_for_new_members(clock: FakeClock) -> None:
    b = make_backend(clock, initial_traffic_state="grouping")
    svc(b, "a", instances=4)
    svc(b, "b", instances=1)
    clock.advance(10)
    assert weights(b) == {"a": 80, "b": 20}


def test_auto_and_customized_shares(backend: Backend, clock: FakeClock) -> None:
    svc(backend, "a", instances=1)
    svc(backend, "b", instances=3)
    clock.advance(10)
    for name in ("a", "b"):
        backend.release_service(REGION, name, "grouping", None)
    assert weights(backend) == {"a": 25, "b": 75}
    backend.release_service(REGION, "a", None, 100)
    backend.release_service(REGION, "b", None, 400)
    assert weights(backend) == {"a": 25, "b": 75}  # weights do nothing in auto mode
    backend.update_group(REGION, "g", "customized", None, None)
    assert weights(backend) == {"a": 100, "b": 400}
    route = backend.route("g")
    assert route.weights == {"a": 100, "b": 400}
    backend.release_service(REGION, "b", "standalone", None)
    assert backend.route("g").weights == {"a": 100, "b": 0}


@pytest.mark.parametrize(("meaning", "expected"), [
    ("unset", {"a": 0, "b": 1}), ("running_instances", {"a": 2, "b": 1}),
])
def test_weight_minus_one_setting(clock: FakeClock, meaning: str, expected: dict[str, int]) -> None:
    b = make_backend(clock, weight_minus_one=meaning, initial_traffic_state="grouping")
    svc(b, "a", instances=2)
    svc(b, "b", instances=1)
    b.update_group(REGION, "g", "customized", None, None)
    b.release_service(REGION, "a", None, -1)
    b.release_service(REGION, "b", None, 1)
    clock.advance(10)
    assert b.route("g").weights == expected


def test_timeline_shows_black_hole_and_recovery(backend: Backend, clock: FakeClock) -> None:
    svc(backend, "a", instances=2)
    clock.advance(5)
    backend.release_service(REGION, "a", "grouping", None)
    backend.stop_service(REGION, "a")
    clock.advance(5)
    _, timeline, _ = backend.history("g")
    holes = [s["black_hole"] for s in timeline]
    assert holes[-1] is True and False in holes
    assert timeline[-1]["shares"] == {"a": 0.0}


def test_update_scales_or_versions(backend: Backend, clock: FakeClock) -> None:
    svc(backend, "a", instances=2, model_path="oss://m/v1")
    clock.advance(5)
    backend.update_service(REGION, "a", {"metadata": {"instance": 3}})
    assert (state(backend, "a"), backend.describe_service(REGION, "a").record.latest_version) == (("Scaling", 2, 1), 1)
    clock.advance(5)
    backend.update_service(REGION, "a", {"model_path": "oss://m/v2"})
    view = backend.describe_service(REGION, "a")
    assert (view.point.status.value, view.record.latest_version, view.current_version) == ("Updating", 2, 1)
    clock.advance(10)
    assert backend.describe_service(REGION, "a").current_version == 2
    backend.update_service_version(REGION, "a", 1)
    clock.advance(10)
    view = backend.describe_service(REGION, "a")
    assert (view.current_version, view.record.config["model_path"], view.point.running) == (1, "oss://m/v1", 3)
    versions, total = backend.list_service_versions(REGION, "a", 1, 1)
    assert (total, versions[0].version) == (2, 2)
    assert refused(backend.update_service_version, REGION, "a", 3) == "InvalidParameter"
    assert refused(backend.update_service, REGION, "a", {"metadata": {"group": "other"}}) == "InvalidParameter"


def test_replace_keeps_name_and_group(backend: Backend, clock: FakeClock) -> None:
    svc(backend, "a", model_path="oss://m/v1", processor="pmml")
    backend.update_service(REGION, "a", {"model_path": "oss://m/v2"}, "replace")
    config = backend.describe_service(REGION, "a").record.config
    assert config == {"model_path": "oss://m/v2", "name": "a", "metadata": {"group": "g"}}


def test_out_of_stock_members_wait(backend: Backend, clock: FakeClock) -> None:
    gpu: dict[str, Any] = {"cloud": {"computing": {"instance_type": "ecs.gn7i"}}}
    backend.set_stock("ecs.gn7i", False)
    svc(backend, "a", instances=2, **gpu)
    clock.advance(10)
    assert state(backend, "a") == ("Waiting", 0, 2)
    backend.set_stock("ecs.gn7i", True)
    clock.advance(0.5)
    assert state(backend, "a") == ("Creating", 0, 2)
    clock.advance(1.0)
    backend.set_stock("ecs.gn7i", False)  # one instance is up: it keeps running
    clock.advance(10)
    assert state(backend, "a") == ("Waiting", 1, 1)


def test_dedicated_capacity_first_come_first_served(backend: Backend, clock: FakeClock) -> None:
    backend.set_capacity("eas-r-1", 3)
    dedicated = {"metadata": {"instance": 2, "group": "g", "resource": "eas-r-1"}}
    backend.create_service({"name": "a", **dedicated}, {})
    backend.create_service({"name": "b", **dedicated}, {})
    clock.advance(10)
    assert (state(backend, "a"), state(backend, "b")) == (("Running", 2, 0), ("Waiting", 1, 1))
    backend.update_service(REGION, "a", {"metadata": {"instance": 1}})
    clock.advance(10)
    assert (state(backend, "a"), state(backend, "b")) == (("Running", 1, 0), ("Running", 2, 0))


def test_fail_label(backend: Backend, clock: FakeClock) -> None:
    svc(backend, "a", instances=2, labels={"emulator/fail": "image pull failed"})
    clock.advance(5)
    view = backend.describe_service(REGION, "a")
    assert (view.point.status.value, view.point.reason, view.point.running) == ("Failed", "image pull failed", 0)


@pytest.mark.parametrize(("lock", "blocked", "allowed"), [
    ("dangerous", ["delete", "stop"], ["release", "label", "update"]),
    ("all", ["delete", "stop", "release", "label", "update", "start"], []),
])
def test_safety_lock(backend: Backend, lock: str, blocked: list[str], allowed: list[str]) -> None:
    svc(backend, "a")
    backend.update_service_safety_lock(REGION, "a", lock)
    calls = {"delete": lambda: backend.delete_service(REGION, "a"), "stop": lambda: backend.stop_service(REGION, "a"),
             "start": lambda: backend.start_service(REGION, "a"),
             "release": lambda: backend.release_service(REGION, "a", None, 5),
             "label": lambda: backend.update_service_label(REGION, "a", {"k": "v"}),
             "update": lambda: backend.update_service(REGION, "a", {"metadata": {"instance": 2}})}
    for name in blocked:
        assert refused(calls[name]) == "InvalidOperation.SafetyLock", name
    for name in allowed:
        calls[name]()
    backend.update_service_safety_lock(REGION, "a", "none")  # the lock itself is never locked
    backend.delete_service(REGION, "a")


def test_labels_and_list_filters_and_paging(backend: Backend) -> None:
    for i in range(5):
        svc(backend, f"s{i}", group="g" if i % 2 else "h", labels={"tier": "gold" if i < 2 else "silver"})
    backend.update_service_label(REGION, "s4", {"tier": "gold", "x": "1"})
    backend.delete_service_label(REGION, "s4", ["x", "absent"])
    assert backend.describe_service(REGION, "s4").record.labels == {"tier": "gold"}
    gold, total = backend.list_services(ServiceQuery(labels=(("tier", "gold"),), order="asc"))
    assert ([v.record.name for v in gold], total) == (["s0", "s1", "s4"], 3)
    page2, total = backend.list_services(ServiceQuery(order="asc", page=2, size=2))
    assert ([v.record.name for v in page2], total) == (["s2", "s3"], 5)
    assert backend.list_services(ServiceQuery(page=9, size=2))[0] == []
    assert [v.record.name for v in backend.list_services(ServiceQuery(group_name="g", name_contains="1"))[0]] == ["s1"]


def test_bad_input(backend: Backend) -> None:
    assert refused(backend.create_service, {"name": "Bad-Name"}, {}) == "InvalidParameter"
    assert refused(backend.create_service, {"name": "a", "metadata": {"instance": -1}}, {}) == "InvalidParameter"
    svc(backend, "a")
    assert refused(backend.create_service, {"name": "a"}, {}) == "InvalidService.AlreadyExists"
    assert refused(backend.release_service, REGION, "a", None, 1001) == "InvalidParameter"
    assert refused(backend.release_service, REGION, "a", "half", None) == "InvalidParameter"
    assert refused(backend.describe_service, "cn-beijing", "a") == "InvalidService.NotFound"
    assert refused(backend.list_groups, "", "", 0, 10) == "InvalidParameter"


def test_delete_group_cascade(backend: Backend, clock: FakeClock) -> None:
    backend.create_group("eg", {}, {}, "")
    clock.advance(60)
    assert backend.describe_group(REGION, "eg").name == "eg"  # explicit groups survive without members
    svc(backend, "a", group="eg")
    assert refused(backend.delete_group, REGION, "eg", False) == "InvalidOperation.GroupNotEmpty"
    backend.delete_group(REGION, "eg", True)
    clock.advance(5)
    assert refused(backend.describe_group, REGION, "eg") == "InvalidGroup.NotFound"


def test_every_status_on_the_clock(backend: Backend, clock: FakeClock) -> None:
    """Creating, Running, Scaling (both ways), Updating, Stopping, Stopped, Starting, Deleting, gone: in turn."""
    svc(backend, "a", instances=2)
    seen = [state(backend, "a")]

    def after(seconds: float) -> None:
        clock.advance(seconds)
        seen.append(state(backend, "a"))

    after(5)
    backend.update_service(REGION, "a", {"metadata": {"instance": 3}})
    seen.append(state(backend, "a"))
    after(5)
    backend.update_service(REGION, "a", {"metadata": {"instance": 1}})
    seen.append(state(backend, "a"))
    after(5)
    backend.update_service(REGION, "a", {"model_path": "oss://m/v2"})
    seen.append(state(backend, "a"))
    after(5)
    backend.stop_service(REGION, "a")
    seen.append(state(backend, "a"))
    after(5)
    backend.start_service(REGION, "a")
    seen.append(state(backend, "a"))
    after(5)
    backend.delete_service(REGION, "a")
    seen.append(state(backend, "a"))
    assert seen == [
        ("Creating", 0, 2), ("Running", 2, 0),
        ("Scaling", 2, 1), ("Running", 3, 0),
        ("Scaling", 3, 0), ("Running", 1, 0),
        ("Updating", 1, 0), ("Running", 1, 0),
        ("Stopping", 0, 0), ("Stopped", 0, 0),
        ("Starting", 0, 1), ("Running", 1, 0),
        ("Deleting", 0, 0),
    ]
    clock.advance(5)
    assert refused(backend.describe_service, REGION, "a") == "InvalidService.NotFound"
