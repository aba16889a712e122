"""Property: for random groups and random rollouts, the plan of a release keeps its promises on the timeline.

- the new version never carries more than the current step's share before that step's bake (from the
  canary's new version on, no step up to bake k raises the canary above step k's share, and at bake k it
  is at most that share);
- the canary's share never rises by more than max_shift in one step (or the plan refuses, naming it);
- never a black hole, also on the abort path: at every bake, a member other than the canary serves;
- the primaries get their new version only after the last bake, and the abort path touches only the canary;
- the group ends on the shares its file declares;
- an unfinished release (the canary on its new version with the progress label at step k) resumes at
  step k while the canary serves, else from step 1.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.desired.eas_config import to_eas_config
from reconciler.desired.model import ServiceGroup
from reconciler.desired.rollout import PROGRESS_LABEL
from reconciler.desired.shares import desired_shares, percent
from reconciler.errors import PlanError
from reconciler.plan import Action, build_plan
from reconciler.plan.diff import spec_hash
from reconciler.plan.model import GroupPlan

from .factory import live, svc

TOLERANCE = 0.11  # timeline shares are rounded to 0.1


@st.composite
def releases(draw: st.DrawFn) -> tuple[list[dict[str, Any]], str, ServiceGroup]:
    live_mode, want_mode = draw(st.sampled_from(["auto", "customized"])), draw(st.sampled_from(["auto", "customized"]))
    names = [*["p0", "p1"][: draw(st.integers(1, 2))], "c"]
    have, want = [], []
    for name in names:
        replicas = draw(st.integers(1, 4))
        have.append(svc(name, replicas, weight=draw(st.integers(1, 500)), role="canary" if name == "c" else None))
        new = name == "c" or draw(st.booleans())
        weight = draw(st.integers(1, 500)) if want_mode == "customized" else None
        want.append(svc(name, draw(st.integers(1, 4)), weight=weight, version="v2" if new else "v1",
                        role="canary" if name == "c" else None))
    shares = sorted(draw(st.sets(st.integers(1, 95), min_size=1, max_size=4)))
    bakes = [draw(st.sampled_from(["4s", "1m", "10m"])) for _ in shares]
    rollout = {"steps": [{"share": s, "bake": b} for s, b in zip(shares, bakes, strict=True)],
               "analysis": {"interval": "1s", "metrics": [{"name": "error_rate", "max": 1}]},
               "on_failure": draw(st.sampled_from(["rollback", "standalone"]))}
    group = ServiceGroup.model_validate({
        "apiVersion": "eas-gitops/v1", "kind": "ServiceGroup", "metadata": {"name": "g", "region": "cn-shanghai"},
        "spec": {"traffic_mode": want_mode, "services": want, "rollout": rollout}})
    if draw(st.booleans()):  # an unfinished release: the canary already on v2, its label at some step
        canary = group.service("c")
        assert canary is not None
        label = f"{spec_hash(to_eas_config(group, canary))};{draw(st.integers(0, len(shares)))};1700000000"
        state = draw(st.sampled_from(["grouping", "standalone"]))
        have[-1] = {**svc("c", have[-1]["replicas"], state, weight=have[-1]["weight"], version="v2", role="canary"),
                    "extra_labels": {PROGRESS_LABEL: label}}
        live_mode = "customized"  # a ramp runs in customized mode
    return have, live_mode, group


def _check_ramp(g: GroupPlan, group: ServiceGroup) -> None:
    assert g.rollout is not None and group.spec.rollout is not None
    declared = [s.share for s in group.spec.rollout.steps]
    by_step = {t.step: t for t in g.timeline}
    # from the canary's new version on (a resumed release: from the first step)
    start = next((s.index for s in g.steps if s.service == "c" and s.action is Action.UPDATE_CONFIG), 1)
    bakes = [s for s in g.steps if s.params.action is Action.BAKE]
    first = g.rollout.resumed_from or 1
    assert [b.params.step for b in bakes if b.params.action is Action.BAKE] == list(range(first, len(declared) + 1))
    for bake in bakes:
        assert bake.params.action is Action.BAKE
        limit = declared[bake.params.step - 1]
        assert by_step[bake.index].shares["c"] <= limit + TOLERANCE, (bake.index, limit)
        for index in range(start, bake.index + 1):  # no step before the bake raises the canary above the limit
            if by_step[index].shares["c"] > by_step[index - 1].shares["c"]:
                assert by_step[index].shares["c"] <= limit + TOLERANCE, (index, limit)
        others = sum(v for n, v in by_step[bake.index].shares.items() if n != "c")
        assert others > 0, f"an abort at step {bake.index} would black-hole the group"
        start = bake.index + 1
    last = bakes[-1].index
    assert all(s.index > last for s in g.steps if s.action is Action.UPDATE_CONFIG and s.service != "c")
    assert {s.service for s in g.rollout.abort_steps} == {"c"}


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # examples: tests/conftest.py profile
@given(releases(), st.sampled_from([10, 25, 50, 100]))
def test_release_plans_keep_their_promises(case: tuple[list[dict[str, Any]], str, ServiceGroup],
                                           max_shift: int) -> None:
    have, live_mode, group = case
    try:
        plan = build_plan([group], live(("g", have, live_mode)), max_shift=max_shift)
    except PlanError as exc:  # only max_shift (the ramp's or a settling move's) or too coarse weights refuse
        assert "max_shift" in str(exc) or "weight" in str(exc), str(exc)
        return
    g = plan.groups[0]
    assert not any(t.black_hole for t in g.timeline)
    for before, after in zip(g.timeline, g.timeline[1:], strict=False):
        assert after.shares["c"] - before.shares["c"] <= max_shift + TOLERANCE
    _check_ramp(g, group)
    canary = next(m for m in have if m["name"] == "c")
    label = canary.get("extra_labels", {}).get(PROGRESS_LABEL)
    if label is not None:  # resumed at the label's step exactly when the canary serves and the step is >= 1
        step = int(label.split(";")[1])
        serving = canary["traffic"] == "grouping"
        assert g.rollout.resumed_from == (step if serving and step >= 1 else None)
    want = {n: percent(s) for n, s in desired_shares(group).items()}
    assert {m.name: m.share for m in g.members_final} == want
