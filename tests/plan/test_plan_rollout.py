"""Releases: what is one (and what is not), resuming from the progress label, the abort path, the weights."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.desired.eas_config import to_eas_config
from reconciler.desired.model import ServiceGroup
from reconciler.desired.rollout import PREVIOUS_LABEL, PROGRESS_LABEL
from reconciler.errors import PlanError
from reconciler.live.model import SPEC_HASH_LABEL, LiveState
from reconciler.plan import build_plan, record
from reconciler.plan.diff import spec_hash
from reconciler.plan.model import Action, GroupPlan, Plan
from reconciler.plan.render import render_json
from reconciler.plan.render.common import rollout_notes
from reconciler.plan.rollout import baseline_factor, canary_weight, ramp_weights, switch_scale

from .factory import live, svc

ROLLOUT: dict[str, Any] = {
    "steps": [{"share": 10, "bake": "10m"}, {"share": 50, "bake": "20m"}],
    "analysis": {"interval": "1m", "metrics": [{"name": "error_rate", "max": 1}]},
}


def prod(version: str = "v1", replicas: int = 4, **extra: Any) -> dict[str, Any]:
    return svc("prod", replicas=replicas, version=version, role="primary", **extra)


def grey(version: str = "v1", replicas: int = 1, **extra: Any) -> dict[str, Any]:
    return svc("grey", replicas=replicas, version=version, role="canary", **extra)


def desired(services: list[dict[str, Any]], mode: str = "auto", **rollout: Any) -> ServiceGroup:
    return ServiceGroup.model_validate({
        "apiVersion": "eas-gitops/v1", "kind": "ServiceGroup", "metadata": {"name": "g", "region": "cn-shanghai"},
        "spec": {"traffic_mode": mode, "services": services, "rollout": {**ROLLOUT, **rollout}}})


def plan_of(want: ServiceGroup, have: LiveState, **options: Any) -> GroupPlan:
    return build_plan([want], have, **options).groups[0]


def actions(g: GroupPlan) -> list[tuple[Action, str | None]]:
    return [(s.action, s.service) for s in g.steps]


def canary_hash(want: ServiceGroup) -> str:
    spec = want.service("grey")
    assert spec is not None
    return spec_hash(to_eas_config(want, spec))


V1 = live(("g", [prod(), grey()], "auto"))


# ---- what is a release -------------------------------------------------------------------------------------


def test_creating_a_group_with_a_rollout_is_not_a_release() -> None:
    g = plan_of(desired([prod("v2"), grey("v2")]), LiveState())
    assert g.rollout is None and Action.BAKE not in {a for a, _ in actions(g)}


def test_a_new_canary_joining_is_not_a_release() -> None:
    g = plan_of(desired([prod(), grey()]), live(("g", [prod()], "auto")))
    assert g.rollout is None and (Action.CREATE_SERVICE, "grey") in actions(g)


@pytest.mark.parametrize("services", [
    [prod(), grey(replicas=2)],  # a scale change
    [prod(), grey(traffic="standalone")],  # a traffic-state change
    [prod(), grey("v2", traffic="standalone")],  # the canary's version, but it takes no group traffic
])
def test_scale_and_traffic_changes_are_not_releases(services: list[dict[str, Any]]) -> None:
    g = plan_of(desired(services), V1)
    assert g.rollout is None and g.steps and Action.BAKE not in {a for a, _ in actions(g)}


def test_canary_and_primary_new_versions_ramp_then_promote() -> None:
    want = desired([prod("v2"), grey("v2")])
    g = plan_of(want, V1)
    assert g.rollout is not None
    assert g.rollout.promotes == ["prod"] and g.rollout.baseline == ["prod"]
    assert g.rollout.release == canary_hash(want) and g.rollout.previous_version == 1
    assert g.rollout.min_duration_seconds == 1800
    bakes = [s for s in g.steps if s.action is Action.BAKE]
    assert [(b.params.step, b.params.of) for b in bakes if b.params.action is Action.BAKE] == [(1, 2), (2, 2)]
    promoted = actions(g).index((Action.UPDATE_CONFIG, "prod"))
    assert promoted > g.steps.index(bakes[-1])  # the primary's new version only after the last bake
    assert actions(g)[-1] == (Action.DELETE_LABELS, "grey")
    first_write = next(i for i, (a, n) in enumerate(actions(g)) if n == "grey" and a is not Action.SET_WEIGHT)
    assert g.steps[first_write].params.action is Action.UPDATE_LABELS  # the progress label before any change
    assert PROGRESS_LABEL in g.steps[first_write].params.labels


def test_only_the_canary_ramps_to_its_declared_share_without_promotion() -> None:
    g = plan_of(desired([prod(), grey("v2")]), V1)
    assert g.rollout is not None and g.rollout.promotes == []
    assert g.members_final[1].share == 20.0 and g.mode_after is not None and g.mode_after.value == "auto"


def test_a_primary_only_change_is_refused_with_the_way_out() -> None:
    with pytest.raises(PlanError, match="give grey the new version too"):
        plan_of(desired([prod("v2"), grey()]), V1)


def test_a_primary_change_with_the_canary_not_created_yet_is_refused() -> None:
    with pytest.raises(PlanError, match="the canary grey does not exist yet"):
        plan_of(desired([prod("v2"), grey("v2")]), live(("g", [prod()], "auto")))


def test_an_unmanaged_canary_cannot_carry_a_release() -> None:
    have = live(("g", [prod(), grey(managed=False)], "auto"))
    with pytest.raises(PlanError, match="the canary grey is not managed by eas-gitops"):
        plan_of(desired([prod("v2"), grey("v2")]), have)
    assert plan_of(desired([prod(), grey("v2")]), have).rollout is None  # untouched: no release through it


def test_a_canary_without_replicas_cannot_carry_a_release() -> None:
    have = live(("g", [prod(), grey(replicas=0)], "auto"))
    with pytest.raises(PlanError, match="has no replica to carry the release"):
        plan_of(desired([prod(), grey("v2", replicas=0)]), have)


# ---- resuming ----------------------------------------------------------------------------------------------


def _mid_ramp(want: ServiceGroup, step: int, canary_state: str = "grouping", release: str | None = None,
              ) -> LiveState:
    labels = {PROGRESS_LABEL: f"{release or canary_hash(want)};{step};1700000000", PREVIOUS_LABEL: "1;abc"}
    return live(("g", [prod(weight=400), grey("v2", weight=400, traffic=canary_state, extra_labels=labels)],
                 "customized"))


def test_resume_at_the_step_the_label_names_while_the_canary_serves() -> None:
    want = desired([prod("v2"), grey("v2")])
    g = plan_of(want, _mid_ramp(want, 2))
    assert g.rollout is not None and g.rollout.resumed_from == 2 and g.rollout.min_duration_seconds == 1200
    assert g.steps[0].action is Action.BAKE and g.steps[0].params.action is Action.BAKE
    assert g.steps[0].params.step == 2
    assert g.rollout.previous_version == 1  # from eas-gitops/rollout-from
    assert (Action.UPDATE_CONFIG, "grey") not in actions(g)


def test_a_label_at_step_one_of_this_release_is_a_resume_too() -> None:
    want = desired([prod("v2"), grey("v2")])
    g = plan_of(want, _mid_ramp(want, 1))
    assert g.rollout is not None and g.rollout.resumed_from == 1
    assert ("resumes at step 1: the part of its bake already served counts (it is subtracted from that "
            "minimum at apply time: the plan has no clock)") in rollout_notes(g)
    first = next(s.params for s in g.steps if s.params.action is Action.BAKE)
    assert first.action is Action.BAKE and first.step == 1
    assert (Action.UPDATE_CONFIG, "grey") not in actions(g)


def test_step_zero_or_a_canary_out_of_traffic_restarts_from_step_one() -> None:
    want = desired([prod("v2"), grey("v2")])
    for have in (_mid_ramp(want, 0), _mid_ramp(want, 2, canary_state="standalone")):
        g = plan_of(want, have)
        assert g.rollout is not None and g.rollout.resumed_from is None
        first = next(s.params for s in g.steps if s.params.action is Action.BAKE)
        assert first.action is Action.BAKE and first.step == 1


def test_another_release_in_the_label_is_not_resumed() -> None:
    want = desired([prod("v2"), grey("v2")])
    with pytest.raises(PlanError, match="give grey the new version too"):
        plan_of(want, _mid_ramp(want, 2, release="0123456789abcdef"))


def test_a_finished_release_only_deletes_its_labels() -> None:
    want = desired([prod("v2"), grey("v2")])
    labels = {PROGRESS_LABEL: f"{canary_hash(want)};2;1700000000", PREVIOUS_LABEL: "1;abc"}
    have = live(("g", [prod("v2"), grey("v2", extra_labels=labels)], "auto"))
    g = plan_of(want, have)
    assert g.rollout is None and not g.changes
    assert [(s.action, s.params.keys if s.params.action is Action.DELETE_LABELS else ()) for s in g.steps] == [
        (Action.DELETE_LABELS, (PROGRESS_LABEL, PREVIOUS_LABEL))]


def _deleted(g: GroupPlan) -> list[str]:
    return [k for s in g.steps if s.params.action is Action.DELETE_LABELS for k in s.params.keys]


def test_the_progress_labels_are_never_a_change_and_only_go_as_leftovers() -> None:
    labels = {PROGRESS_LABEL: "0123456789abcdef;0;5", PREVIOUS_LABEL: "1;abc"}
    have = live(("g", [prod(), grey(extra_labels=labels, record=True)], "auto"))
    for want in (desired([prod(), grey()]), ServiceGroup.model_validate(
            {**desired([prod(), grey()]).model_dump(by_alias=True, mode="json"), "spec": {
                "traffic_mode": "auto", "services": [prod(), grey()]}})):  # with and without spec.rollout
        g = build_plan([want], have).groups[0]
        assert not g.changes and g.rollout is None
        assert [s.action for s in g.steps] == [Action.DELETE_LABELS]
        assert _deleted(g) == [PROGRESS_LABEL, PREVIOUS_LABEL]  # left by an aborted release: no release now
    # a (hand-edited) declared-keys record that names them, and a file that dropped a label: the record
    # removes only that label; the progress labels go as leftovers, in their own step
    named = record.encode(record.Declared(frozenset({PROGRESS_LABEL, PREVIOUS_LABEL, "team"}), frozenset()))
    have = live(("g", [prod(), grey(extra_labels={**labels, **named, "team": "risk"})], "auto"))
    g = build_plan([desired([prod(), grey()])], have).groups[0]
    removed = [s for s in g.steps if s.reason == "removed from the file"]
    assert [k for s in removed if s.params.action is Action.DELETE_LABELS for k in s.params.keys] == ["team"]


# ---- the abort path ----------------------------------------------------------------------------------------


def test_abort_rollback_drains_returns_to_the_previous_version_and_resets_the_label() -> None:
    want = desired([prod("v2"), grey("v2")])
    on_v3 = {**grey(), "version": 3}  # the live version number (a live key of the harness)
    have = live(("g", [prod(), on_v3], "auto"))
    g = plan_of(want, have)
    assert g.rollout is not None
    abort = g.rollout.abort_steps
    assert [s.action for s in abort] == [Action.DRAIN, Action.UPDATE_VERSION, Action.WAIT_RUNNING,
                                         Action.UPDATE_LABELS]
    assert abort[1].params.action is Action.UPDATE_VERSION and abort[1].params.version == 3
    assert abort[3].params.action is Action.UPDATE_LABELS
    old = have.service("cn-shanghai", "grey")
    assert old is not None
    assert abort[3].params.labels == {PROGRESS_LABEL: f"{canary_hash(want)};0;0", SPEC_HASH_LABEL: old.spec_hash}
    assert all(s.service == "grey" for s in abort)  # the primaries are never touched


def test_abort_standalone_keeps_the_new_version() -> None:
    g = plan_of(desired([prod("v2"), grey("v2")], on_failure="standalone"), V1)
    assert g.rollout is not None
    assert [s.action for s in g.rollout.abort_steps] == [Action.DRAIN, Action.UPDATE_LABELS]


# ---- weights and max_shift ----------------------------------------------------------------------------------


def test_a_step_over_max_shift_is_refused_with_the_way_out() -> None:
    want = desired([prod("v2"), grey("v2")], steps=[{"share": 10, "bake": "1m"}, {"share": 70, "bake": "1m"}])
    with pytest.raises(PlanError, match=r"rollout step 2 .* more than max_shift 50: add a step in between"):
        plan_of(want, V1)
    assert plan_of(want, V1, max_shift=61).rollout is not None


def test_canary_weights_never_exceed_the_step_share() -> None:
    assert canary_weight(10, 400) == 44 and canary_weight(50, 400) == 400 and canary_weight(10, 1) == 0
    assert ramp_weights([10, 50], 400) == [44, 400]
    assert ramp_weights([10], 1) is None and ramp_weights([90], 200) is None  # 0, and 1800 > 1000
    assert baseline_factor([10], [1]) == 9  # 1 x 9 = 9: weight 1 is 10 %
    assert baseline_factor([10], [0]) is None
    assert switch_scale([10, 50], {"prod": 4, "grey": 1}, "grey") == 100
    assert switch_scale([90], {"prod": 4, "grey": 1}, "grey") == 27  # 9 x 108 = 972 <= 1000
    assert switch_scale([10], {"grey": 1}, "grey") is None


def test_a_coarse_baseline_is_scaled_in_proportion_while_the_canary_is_out() -> None:
    have = live(("g", [prod(weight=1), grey(weight=1)], "customized"))
    want = desired([prod("v2", weight=1), grey("v2", weight=1)], mode="customized")
    g = plan_of(want, have)
    scaled = [s for s in g.steps if s.service == "prod" and s.action is Action.SET_WEIGHT]
    assert scaled and scaled[0].params.action is Action.SET_WEIGHT and scaled[0].params.weight == 9


def test_plans_without_a_rollout_have_no_rollout_key() -> None:
    plan: Plan = build_plan([desired([prod(), grey()]).model_copy(update={"spec": desired(
        [prod(), grey()]).spec.model_copy(update={"rollout": None})})], V1)
    assert all("rollout" not in g for g in json.loads(render_json(plan))["groups"])


def test_an_abort_that_would_black_hole_the_group_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # The planner's own ramps keep a primary serving, so the group at a bake is taken from a real plan
    # and its primary set standalone there: the check the plan makes for every bake must refuse it.
    from reconciler.desired.model import TrafficState
    from reconciler.plan import build as build_module
    from reconciler.plan import release as release_module

    seen: list[tuple[Any, ...]] = []

    def recording(*args: Any) -> Any:
        seen.append(args)
        return release_module.rollout_plan(*args)
    monkeypatch.setattr(build_module, "rollout_plan", recording)
    plan_of(desired([prod("v2"), grey("v2")]), V1)
    delta, r, steps, frames = seen[0]
    bake = next(s for s in steps if s.action is Action.BAKE)
    frame = frames[bake.index]
    release_module._check_abort(delta, r, bake, frame)  # prod serves: an abort leaves it the traffic
    frame.group.members["prod"].state = TrafficState.STANDALONE
    with pytest.raises(PlanError, match=f"an abort at step {bake.index} would take grey out of group traffic "
                                        "with no other member serving"):
        release_module._check_abort(delta, r, bake, frame)
