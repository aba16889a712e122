"""Removals: only keys the declared-keys record names are removed; the record itself, its limits."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.errors import ConfigError
from reconciler.live.model import MANAGED_BY_LABEL, LiveState
from reconciler.plan import Action, ChangeOp, build_plan, diff
from reconciler.plan.model import Plan, Step, WarningCode
from reconciler.plan.record import (
    OVERFLOW,
    RECORD_LABEL,
    Declared,
    RecordLimits,
    RecordState,
    decode,
    encode,
    removed_paths,
)
from reconciler.plan.render import render_json, render_markdown, render_text

from .factory import group, live, svc

RPC = {"metadata": {"rpc": {"keepalive": 5000}}}


def applied(**extra: Any) -> dict[str, Any]:
    """A live member eas-gitops applied with a label and a config key; its record says so."""
    return svc("a", 2, labels={"owner": "alice", "team": "ml"}, config=RPC, record=True, **extra)


def removals(changes: list[Any]) -> list[str]:
    return [c.field for c in changes if c.op is ChangeOp.REMOVE]


def steps(plan: Plan) -> list[Step]:
    return [s for g in plan.groups for s in g.steps]


def test_a_label_dropped_from_the_file_is_removed_and_someone_elses_stays() -> None:
    state = live(("g", [applied(extra_labels={"cost-center": "42"})], "auto"))
    desired = [group("g", [svc("a", 2, labels={"team": "ml"}, config=RPC)])]
    changes = diff(desired, state)
    assert removals(changes) == ["labels.owner"]
    (change,) = changes
    assert (change.before, change.after) == ("alice", None)
    plan = build_plan(desired, state)
    delete, write = steps(plan)
    assert delete.action is Action.DELETE_LABELS and delete.params.action is Action.DELETE_LABELS
    assert delete.params.keys == ("owner",)  # cost-center is not in the record: never removed
    assert write.action is Action.UPDATE_LABELS and write.params.action is Action.UPDATE_LABELS
    assert "owner" not in decode({**write.params.labels}).declared.labels  # type: ignore[union-attr]


def test_a_config_key_dropped_from_the_file_is_removed_and_a_platform_default_stays() -> None:
    state = live(("g", [applied(config_patch={"metadata": {"rpc": {"max_queue_size": 64}}, "storage": []})], "auto"))
    desired = [group("g", [svc("a", 2, labels={"owner": "alice", "team": "ml"})])]
    changes = diff(desired, state)
    assert removals(changes) == ["config.metadata.rpc.keepalive"]
    plan = build_plan(desired, state)
    update = steps(plan)[0]
    assert update.params.action is Action.UPDATE_CONFIG
    assert update.params.removed_paths == (("metadata", "rpc", "keepalive"),)
    assert update.params.changed_paths == ()
    assert [s.action for s in steps(plan)] == [Action.UPDATE_CONFIG, Action.WAIT_RUNNING, Action.UPDATE_LABELS]


def test_removals_are_shown_in_text_markdown_and_json() -> None:
    state = live(("g", [applied()], "auto"))
    plan = build_plan([group("g", [svc("a", 2, labels={"team": "ml"})])], state)
    text, markdown, data = render_text(plan), render_markdown(plan), render_json(plan)
    for line in ("- a labels.owner", "- a config.metadata.rpc.keepalive"):
        assert line in text and line in markdown
    assert '"removed_paths"' in data and '"delete_labels"' in data


def test_a_secret_removed_is_never_shown() -> None:
    # applied with the reference (live holds the resolved value); now the file drops the key
    state = live(("g", [svc("a", 2, config={"token": "${env:A_TOKEN}"}, record=True,
                             config_patch={"token": "hunter2-the-real-value"})], "auto"))
    (change,) = diff([group("g", [svc("a", 2)])], state)
    assert (change.field, change.op, change.before) == ("config.token", ChangeOp.REMOVE, "(sensitive)")
    assert "hunter2" not in render_text(build_plan([group("g", [svc("a", 2)])], state))


def test_without_a_record_nothing_is_removed_and_no_plan_is_made_just_for_the_record() -> None:
    state = live(("g", [svc("a", 2, labels={"owner": "alice"}, config=RPC)], "auto"))
    assert diff([group("g", [svc("a", 2, config=RPC)])], state) == []  # owner stays, no record written
    assert not build_plan([group("g", [svc("a", 2, config=RPC)])], state).has_changes
    plan = build_plan([group("g", [svc("a", 2, labels={"owner": "bob"}, config=RPC)])], state)
    (write,) = steps(plan)  # the next label write carries the record
    assert write.params.action is Action.UPDATE_LABELS and RECORD_LABEL in write.params.labels


def test_an_applied_service_with_its_record_plans_nothing() -> None:
    state = live(("g", [applied()], "auto"))
    assert not build_plan([group("g", [svc("a", 2, labels={"owner": "alice", "team": "ml"}, config=RPC)])],
                          state).has_changes


def test_a_record_that_differs_alone_is_rewritten() -> None:
    state = live(("g", [applied(extra_labels={RECORD_LABEL: "1;1;owner,team,extra;metadata(rpc(keepalive))"})],
                  "auto"))
    desired = [group("g", [svc("a", 2, labels={"owner": "alice", "team": "ml"}, config=RPC)])]
    (change,) = diff(desired, state)
    assert (change.field, change.op) == (f"labels.{RECORD_LABEL}", ChangeOp.MODIFY)
    (write,) = steps(build_plan(desired, state))
    assert write.params.action is Action.UPDATE_LABELS and set(write.params.labels) == {RECORD_LABEL}


def test_an_unreadable_or_overflowing_record_removes_nothing_and_warns() -> None:
    for value in ("1;3;owner;", "garbage", OVERFLOW, "1;1;owner;metadata(rpc"):
        state = live(("g", [applied(extra_labels={RECORD_LABEL: value})], "auto"))
        plan = build_plan([group("g", [svc("a", 2)])], state)
        assert removals([c for g in plan.groups for c in g.changes]) == [], value
        codes = [w.code for g in plan.groups for w in g.warnings]
        assert WarningCode.REMOVALS_NOT_TRACKED in codes, value


def test_a_hand_edited_record_naming_a_reserved_label_does_not_remove_ownership() -> None:
    record = f"1;1;owner,{MANAGED_BY_LABEL};metadata(rpc(keepalive))"
    state = live(("g", [applied(extra_labels={RECORD_LABEL: record})], "auto"))
    assert removals(diff([group("g", [svc("a", 2)])], state)) == ["config.metadata.rpc.keepalive", "labels.owner"]


def test_a_label_key_deleteservicelabel_cannot_name_alone_is_not_sent_and_warns() -> None:
    state = live(("g", [svc("a", 2, labels={"team,owner": "x", "team": "ml", "owner": "al"}, record=True)], "auto"))
    plan = build_plan([group("g", [svc("a", 2, labels={"team": "ml", "owner": "al"})])], state)
    assert [s.action for s in steps(plan)] == [Action.UPDATE_LABELS]  # no DeleteServiceLabel "team,owner"
    assert WarningCode.REMOVALS_NOT_TRACKED in [w.code for g in plan.groups for w in g.warnings]


def test_a_path_that_now_holds_declared_keys_is_not_removed() -> None:
    before = Declared(frozenset(), frozenset({("metadata", "rpc"), ("features", "x", "y"), ("gone",)}))
    live_config = {"metadata": {"rpc": {"keepalive": 1}}, "features": {"x": 5}, "gone": 1}
    now = {("metadata", "rpc", "keepalive"), ("features", "x")}
    assert removed_paths(before, now, live_config) == (("gone",),)
    assert removed_paths(before, now, {}) == ()  # already gone live: nothing to send


def test_too_many_keys_overflow_with_a_warning_and_a_shorter_record_deletes_its_leftover_pieces() -> None:
    many = {f"k{i:04d}": "v" for i in range(600)}
    plan = build_plan([group("g", [svc("a", 2, labels=many)])], LiveState())
    create = steps(plan)[0]
    assert create.params.action is Action.CREATE_SERVICE and create.params.labels[RECORD_LABEL] == OVERFLOW
    assert WarningCode.REMOVALS_NOT_TRACKED in [w.code for g in plan.groups for w in g.warnings]

    big = {f"k{i:03d}": "v" for i in range(60)}
    state = live(("g", [svc("a", 2, labels=big, record=True)], "auto"))
    assert f"{RECORD_LABEL}-2" in state.services[0].labels  # the long record took several pieces
    plan = build_plan([group("g", [svc("a", 2, labels={"k000": "v"})])], state)
    actions = [s.action for s in steps(plan)]
    assert actions == [Action.DELETE_LABELS, Action.UPDATE_LABELS, Action.DELETE_LABELS]
    removed, _, leftovers = steps(plan)
    assert removed.params.action is Action.DELETE_LABELS and len(removed.params.keys) == 59
    assert leftovers.params.action is Action.DELETE_LABELS
    assert leftovers.params.keys and all(k.startswith(f"{RECORD_LABEL}-") for k in leftovers.params.keys)


_KEY = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(labels=st.frozensets(_KEY, max_size=6),
       paths=st.frozensets(st.lists(_KEY, min_size=1, max_size=4).map(tuple), max_size=8),
       piece=st.integers(16, 200))
def test_the_record_reads_back_what_was_written(labels: frozenset[str], paths: frozenset[tuple[str, ...]],
                                                 piece: int) -> None:
    leaves = frozenset(p for p in paths if not any(q != p and q[:len(p)] == p for q in paths))  # leaves only
    secret = frozenset(sorted(leaves)[:1])
    declared = Declared(labels, leaves, secret)
    written = encode(declared, RecordLimits(piece_chars=piece, max_pieces=64))
    assert all(len(v) <= piece for v in written.values())
    got = decode(written)
    if got.state is RecordState.OVERFLOW:
        return
    never = {("name",), ("metadata", "name"), ("metadata", "group"), ("metadata", "instance"),
             ("metadata", "workspace_id")}
    assert got.state is RecordState.OK
    assert got.declared == Declared(labels, leaves - never, secret - never)


def test_a_typed_key_the_file_no_longer_sets_is_removed_too() -> None:
    """From one instance type to a list: a merge would leave cloud.computing.instance_type beside the list."""
    state = live(("g", [svc("a", 2, resources={"instance_type": "ecs.c6.large"}, record=True)], "auto"))
    desired = [group("g", [svc("a", 2, resources={"instance_types": ["ecs.c6.large", "ecs.c7.large"]})])]
    changes = diff(desired, state)
    assert removals(changes) == ["config.cloud.computing.instance_type"]
    assert "config.cloud.computing.instances" in [c.field for c in changes if c.op is ChangeOp.ADD]


def test_record_limits_too_small_for_the_header_are_refused() -> None:
    with pytest.raises(ConfigError):
        RecordLimits(piece_chars=8)
