"""Drift classification and the drift policy at plan time, on live states built with the golden harness."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.desired.drift_policy import DriftAction
from reconciler.desired.model import ServiceGroup
from reconciler.desired.write_back import DELETE
from reconciler.plan.drift import DriftClass, DriftItem, find_drift, summary
from reconciler.plan.model import WarningCode
from reconciler.plan.overlay import file_edits, overlaid
from reconciler.plan.policy import plan_with_policy

from .harness import build_live


def member(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "replicas": 2, "resources": {"cpu": 1, "memory": 1000},
            "model": {"path": f"oss://b/{name}.pmml", "processor": "pmml"},
            "labels": {"team": "risk"}, "config": {"metadata": {"rpc": {"keepalive": 5000}}}, **extra}


def group(*services: dict[str, Any], drift: dict[str, Any] | None = None, mode: str = "auto") -> ServiceGroup:
    spec: dict[str, Any] = {"traffic_mode": mode, "services": list(services)}
    if drift is not None:
        spec["drift"] = drift
    return ServiceGroup.model_validate({"apiVersion": "eas-gitops/v1", "kind": "ServiceGroup",
                                        "metadata": {"name": "g", "region": "cn-shanghai"}, "spec": spec})


def live_of(*services: dict[str, Any], mode: str = "auto") -> Any:
    """Live state: these services (spec keys + harness live keys), with the record eas-gitops writes."""
    return build_live({"groups": [{"name": "g", "region": "cn-shanghai", "traffic_mode": mode,
                                   "services": [{"record": True, **s} for s in services]}]})


def by_field(items: list[DriftItem]) -> dict[tuple[str | None, str], DriftItem]:
    return {(i.service, i.field): i for i in items}


def test_no_difference_is_no_drift() -> None:
    assert find_drift([group(member("a"))], live_of(member("a"))) == []


def test_a_console_config_change_is_by_hand_and_known_and_plan_keeps_it() -> None:
    live = live_of(member("a", config_patch={"metadata": {"rpc": {"keepalive": 9000}}}))
    items = find_drift([group(member("a"))], live)
    item = by_field(items)[("a", "config.metadata.rpc.keepalive")]
    assert (item.cls, item.known, item.live, item.file) == (DriftClass.BY_HAND, True, 9000, 5000)
    assert item.kept_live and item.counted
    plan = plan_with_policy([group(member("a"))], live)
    assert not plan.has_changes  # report (the default): apply leaves the console value
    warnings = [w for g in plan.groups for w in g.warnings if w.code is WarningCode.DRIFT]
    assert len(warnings) == 1 and "config.metadata.rpc.keepalive" in warnings[0].message
    assert plan.summary.warnings == 1


def test_a_file_edit_not_yet_applied_is_pending_and_planned() -> None:
    live = live_of(member("a"))  # live is what eas-gitops wrote (hash and record agree)
    edited = group(member("a", config={"metadata": {"rpc": {"keepalive": 7000}}}))
    items = find_drift([edited], live)
    assert [(i.field, i.cls) for i in items] == [("config.metadata.rpc.keepalive", DriftClass.PENDING)]
    assert not any(i.counted for i in items)
    plan = plan_with_policy([edited], live)
    assert [c.field for g in plan.groups for c in g.changes] == ["config.metadata.rpc.keepalive"]


def test_file_and_live_both_moved_is_by_hand_but_the_file_wins() -> None:
    live = live_of(member("a", config_patch={"metadata": {"rpc": {"keepalive": 9000}}}))
    edited = group(member("a", config={"metadata": {"rpc": {"keepalive": 7000}}}))
    item = by_field(find_drift([edited], live))[("a", "config.metadata.rpc.keepalive")]
    assert item.cls is DriftClass.BY_HAND and not item.known and not item.kept_live
    assert plan_with_policy([edited], live).has_changes


def test_typed_config_fields_answer_to_their_file_names() -> None:
    live = live_of(member("a", config_patch={"metadata": {"cpu": 4}}))
    item = by_field(find_drift([group(member("a"), drift={"revert": ["resources.cpu"]})], live))[
        ("a", "config.metadata.cpu")]
    assert item.names == ("config.metadata.cpu", "resources.cpu") and item.action is DriftAction.REVERT
    plan = plan_with_policy([group(member("a"), drift={"revert": ["resources.cpu"]})], live)
    assert [c.field for g in plan.groups for c in g.changes] == ["config.metadata.cpu"]  # reverted


def test_platform_default_keys_and_reserved_labels_never_drift() -> None:
    live = live_of(member("a", config_patch={"metadata": {"eas_default": 1}, "networking": {"x": True}},
                          extra_labels={"eas-gitops/lock": "someone", "other-team": "x"}))
    assert find_drift([group(member("a"))], live) == []


def test_an_autoscaler_moving_replicas_is_platform_never_drift() -> None:
    scaled = member("a", autoscaling={"min": 1, "max": 5, "threshold": 10})
    del scaled["replicas"]
    live = live_of({**scaled, "config_patch": {"metadata": {"instance": 4}}, "running": 4})
    items = find_drift([group(scaled)], live)
    assert [(i.field, i.cls, i.live) for i in items] == [("replicas", DriftClass.PLATFORM, 4)]
    assert summary(items)["platform"] == 1 and not any(i.counted for i in items)


@pytest.mark.parametrize(("running", "expected"), [
    (1, []),  # at min: where the autoscaler rests, nothing to say
    (5, [("replicas", DriftClass.PLATFORM, 5)]),  # at max: still inside the range, the autoscaler's business
    (6, [("replicas", DriftClass.BY_HAND, 6)]),  # above max: outside the range, the plan scales it back
])
def test_the_range_edges_of_an_autoscaled_member(running: int, expected: list[Any]) -> None:
    scaled = member("a", autoscaling={"min": 1, "max": 5, "threshold": 10})
    del scaled["replicas"]
    live = live_of({**scaled, "config_patch": {"metadata": {"instance": running}}, "running": running})
    items = find_drift([group(scaled)], live)
    assert [(i.field, i.cls, i.live) for i in items] == expected
    plan = plan_with_policy([group(scaled)], live)
    changes = [(c.field, c.before, c.after) for g in plan.groups for c in g.changes]
    assert changes == ([("replicas", 6, 5)] if running > 5 else [])  # at max: never scaled


def test_labels_use_the_record_replicas_and_traffic_are_by_hand_without_a_record() -> None:
    live = live_of(member("a", extra_labels={"team": "ops"}, config_patch={"metadata": {"instance": 3}},
                          running=3, traffic="standalone"))
    items = by_field(find_drift([group(member("a"))], live))
    assert items[("a", "labels.team")].cls is DriftClass.BY_HAND  # the record names it: eas-gitops wrote it
    assert items[("a", "replicas")].cls is DriftClass.BY_HAND and not items[("a", "replicas")].known
    assert items[("a", "traffic")].cls is DriftClass.BY_HAND
    # without a record of the value written, the default lets the file win: a file edit must apply
    assert not any(i.kept_live for i in items.values())
    plan = plan_with_policy([group(member("a"))], live)
    assert {c.field for g in plan.groups for c in g.changes} == {"labels.team", "replicas", "traffic_state"}


def test_a_label_the_record_does_not_name_is_the_files_new_wish() -> None:
    live = live_of(member("a", labels={}))
    item = by_field(find_drift([group(member("a"))], live))[("a", "labels.team")]
    assert item.cls is DriftClass.PENDING


def test_named_report_keeps_the_live_replicas_and_ignore_hides_them() -> None:
    live = live_of(member("a", config_patch={"metadata": {"instance": 3}}, running=3))
    reported = group(member("a"), drift={"report": ["replicas"]})
    plan = plan_with_policy([reported], live)
    assert not plan.has_changes and any(w.code is WarningCode.DRIFT for g in plan.groups for w in g.warnings)
    ignored = group(member("a"), drift={"ignore": ["replicas"]})
    assert [i for i in find_drift([ignored], live) if i.shown] == []
    plan = plan_with_policy([ignored], live)
    assert not plan.has_changes and not any(g.warnings for g in plan.groups)


def test_default_revert_plans_every_by_hand_change() -> None:
    live = live_of(member("a", config_patch={"metadata": {"rpc": {"keepalive": 9000}}}))
    plan = plan_with_policy([group(member("a"), drift={"default": "revert"})], live)
    assert [c.field for g in plan.groups for c in g.changes] == ["config.metadata.rpc.keepalive"]


def test_unmanaged_member_and_missing_member() -> None:
    live = live_of(member("a"), {**member("intruder"), "managed": False})
    items = by_field(find_drift([group(member("a"), member("b"))], live))
    assert items[("intruder", "service")].cls is DriftClass.UNMANAGED
    assert items[("b", "service")].cls is DriftClass.MISSING
    assert all(i.counted for i in items.values())


def test_a_managed_member_the_file_dropped_is_pending() -> None:
    live = live_of(member("a"), member("b"))
    items = find_drift([group(member("a"))], live)
    assert [(i.service, i.cls) for i in items] == [("b", DriftClass.PENDING)]


def test_customized_weight_and_mode() -> None:
    a, b = member("a", weight=100), member("b", weight=300)
    live = live_of({**a, "weight": 250}, b, mode="customized")
    items = by_field(find_drift([group(a, b, mode="customized")], live))
    assert (items[("a", "weight")].live, items[("a", "weight")].file) == (250, 100)
    auto_live = live_of(member("a"), member("b"))
    moved = by_field(find_drift([group(a, b, mode="customized")], auto_live))
    assert moved[(None, "traffic_mode")].cls is DriftClass.BY_HAND


@pytest.mark.parametrize(("policy", "field", "want"), [
    ({"ignore": ["labels"], "revert": ["labels.team"]}, "labels.team", DriftAction.REVERT),  # longest wins
    ({"ignore": ["labels"]}, "labels.team", DriftAction.IGNORE),
    ({"report": ["config.metadata"]}, "config.metadata.rpc.keepalive", DriftAction.REPORT),
    ({"default": "revert", "ignore": ["config.metadata.rp"]}, "config.metadata.rpc.keepalive", DriftAction.REVERT),
])
def test_policy_matching(policy: dict[str, Any], field: str, want: DriftAction) -> None:
    g = group(member("a"), drift=policy)
    assert g.spec.drift.action([field]) is want


def without_label(live: Any, service: str, key: str) -> Any:
    """`live` with one label deleted by hand (the declared-keys record still names it)."""
    services = tuple(s.model_copy(update={"labels": {k: v for k, v in s.labels.items() if k != key}})
                     if s.name == service else s for s in live.services)
    return live.model_copy(update={"services": services})


def test_a_label_deleted_by_hand_written_back_leaves_a_clean_plan() -> None:
    live = without_label(live_of(member("a")), "a", "team")
    items = find_drift([group(member("a"))], live)
    assert [(i.field, i.cls, i.live) for i in items] == [("labels.team", DriftClass.BY_HAND, None)]
    written = overlaid(group(member("a")), live, items)
    assert written.spec.services[0].labels == {}
    assert [(e.loc, e.value) for e in file_edits(group(member("a")), written)] == [
        (("spec", "services", 0, "labels", "team"), DELETE)]
    # the record still names `team`; it is gone from the file and from live: nothing to remove, no rewrite
    assert not plan_with_policy([written], live).has_changes


def test_config_written_back_leaves_a_clean_plan_although_the_hash_is_stale() -> None:
    live = live_of(member("a", config_patch={"metadata": {"rpc": {"keepalive": 9000}}}))
    written = overlaid(group(member("a")), live, find_drift([group(member("a"))], live))
    assert written.spec.services[0].config == {"metadata": {"rpc": {"keepalive": 9000}}}
    plan = plan_with_policy([written], live)
    assert not plan.has_changes and not any(g.warnings for g in plan.groups)


def test_the_groups_mode_written_back_brings_the_live_weights() -> None:
    a, b = member("a", weight=100), member("b", weight=300)
    live = live_of(a, b, mode="customized")
    file = group(member("a"), member("b"))  # auto in the file
    items = [i for i in find_drift([file], live) if i.field == "traffic_mode"]
    written = overlaid(file, live, items)
    assert written.spec.traffic_mode.value == "customized"
    assert [s.weight for s in written.spec.services] == [100, 300]
    back = overlaid(group(a, b, mode="customized"), live_of(member("a"), member("b")),
                    [i for i in find_drift([group(a, b, mode="customized")], live_of(member("a"), member("b")))
                     if i.field == "traffic_mode"])
    assert back.spec.traffic_mode.value == "auto" and [s.weight for s in back.spec.services] == [None, None]
