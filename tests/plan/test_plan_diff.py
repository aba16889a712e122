"""diff: stable order, declared keys only, ownership, secrets, scope."""

from __future__ import annotations

import pytest

from reconciler.desired.eas_config import to_eas_config
from reconciler.errors import PlanError
from reconciler.live.model import MANAGED_BY_LABEL, LiveState
from reconciler.plan import Action, ChangeOp, build_plan, diff
from reconciler.plan.diff import change_key, spec_hash
from reconciler.plan.render import render_json, render_markdown, render_text

from .factory import group, live, svc


def test_diff_is_sorted_and_independent_of_input_order() -> None:
    services = [svc("zeta", 2, version="v2"), svc("alpha", 3), svc("mid", 1, traffic="standalone")]
    state = live(("g", [svc("zeta", 1), svc("alpha", 1), svc("old", 1)], "auto"),
                 ("h", [svc("other", 1)], "auto"))
    desired = [group("h", [svc("other", 2)]), group("g", services)]
    first = diff(desired, state)
    shuffled = LiveState(services=tuple(reversed(state.services)), groups=tuple(reversed(state.groups)))
    second = diff(list(reversed(desired)), shuffled)
    assert first == second
    assert [change_key(c) for c in first] == sorted(change_key(c) for c in first)
    assert [(c.group, c.service, c.field, c.op) for c in first] == [
        ("g", "alpha", "replicas", ChangeOp.MODIFY), ("g", "mid", "service", ChangeOp.ADD),
        ("g", "old", "service", ChangeOp.REMOVE), ("g", "zeta", "config.model_path", ChangeOp.MODIFY),
        ("g", "zeta", "replicas", ChangeOp.MODIFY), ("h", "other", "replicas", ChangeOp.MODIFY)]


def test_only_declared_keys_are_compared() -> None:
    defaults = {"metadata": {"rpc": {"keepalive": 5000}, "gateway": "default"}, "token": "abc", "storage": []}
    state = live(("g", [svc("a", 2, config_patch=defaults)], "auto"))
    assert diff([group("g", [svc("a", 2)])], state) == []
    drifted = live(("g", [svc("a", 2, config_patch={"processor": "xgboost"})], "auto"))
    (change,) = diff([group("g", [svc("a", 2)])], drifted)
    assert (change.field, change.before, change.after) == ("config.processor", "xgboost", "pmml")


def test_secret_reference_never_compared_nor_shown_and_changes_via_spec_hash() -> None:
    secret = "hunter2-the-real-value"
    desired = group("g", [svc("a", 2, config={"token": "${env:A_TOKEN}"})])
    current = to_eas_config(desired, desired.spec.services[0])
    same = live(("g", [svc("a", 2, config_patch={"token": secret}, spec_hash=spec_hash(current))], "auto"))
    assert diff([desired], same) == []
    moved = live(("g", [svc("a", 2, config_patch={"token": secret}, spec_hash="0123456789abcdef")], "auto"))
    (change,) = diff([desired], moved)
    assert (change.field, change.before, change.after) == ("config.token", "(sensitive)", "(sensitive)")
    plan = build_plan([desired], moved)
    assert [s.action for s in plan.groups[0].steps] == [Action.UPDATE_CONFIG, Action.WAIT_RUNNING,
                                                         Action.UPDATE_LABELS]
    for text in (render_json(plan), render_text(plan), render_markdown(plan)):
        assert secret not in text
    assert "${env:A_TOKEN}" in render_json(plan)  # the reference travels, the executor resolves it
    assert "${env:A_TOKEN}" not in render_text(plan) + render_markdown(plan)
    absent = live(("g", [svc("a", 2, spec_hash="0123456789abcdef")], "auto"))
    (added,) = diff([desired], absent)  # a secret the live config lacks is added, not "(sensitive) -> ..."
    assert (added.field, added.op, added.before, added.after) == ("config.token", ChangeOp.ADD, None, "(sensitive)")


def test_unmanaged_declared_service_is_left_alone_unless_adopted() -> None:
    state = live(("g", [svc("a", 2, managed=False), svc("b", 1)], "auto"))
    desired = [group("g", [svc("a", 3), svc("b", 1)])]
    plan = build_plan(desired, state)
    assert plan.groups[0].steps == ()
    assert [w.code.value for w in plan.groups[0].warnings] == ["unmanaged_name"]
    adopted = build_plan(desired, state, adopt=True)
    first, *rest = adopted.groups[0].steps
    assert first.action is Action.UPDATE_LABELS and first.params.action is Action.UPDATE_LABELS
    assert first.params.labels == {MANAGED_BY_LABEL: "eas-gitops"}
    assert [s.action for s in rest][:2] == [Action.SCALE, Action.WAIT_RUNNING]


def test_moving_a_service_between_groups_is_refused() -> None:
    state = live(("g", [svc("a", 1)], "auto"), ("h", [svc("b", 1)], "auto"))
    with pytest.raises(PlanError, match="lives in group g"):
        diff([group("h", [svc("a", 1), svc("b", 1)])], state)


def test_group_scope_and_orphans() -> None:
    state = live(("g", [svc("a", 1)], "auto"), ("old", [svc("x", 1)], "auto"), ("theirs", [svc("y", 1, managed=False)],
                                                                                "auto"))
    desired = [group("g", [svc("a", 2)])]
    assert {c.group for c in diff(desired, state, groups={"g"})} == {"g"}
    plan = build_plan(desired, state)
    assert [(g.name, g.status.value) for g in plan.groups] == [("g", "update"), ("old", "orphaned")]
    pruned = build_plan(desired, state, prune=True, groups={"cn-shanghai/old"})
    assert [g.name for g in pruned.groups] == ["old"]
    assert [s.action for s in pruned.groups[0].steps] == [Action.DRAIN, Action.DELETE_SERVICE]


def test_unknown_group_name_is_a_warning_not_a_silent_empty_plan() -> None:
    state = live(("g", [svc("a", 1)], "auto"))
    plan = build_plan([group("g", [svc("a", 1)])], state, groups={"g", "typo"})
    assert [(w.code.value, w.group) for w in plan.warnings] == [("unknown_group", "typo")]
    assert plan.summary.warnings == 1 and not plan.has_changes
    assert "! no group typo is declared or live" in render_text(plan)
