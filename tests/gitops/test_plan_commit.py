"""The commit label in plans: written along with real writes only, never a change by itself, never removed."""

from __future__ import annotations

from typing import Any

from plan.factory import group, live, svc

from reconciler.live.model import COMMIT_LABEL
from reconciler.plan.build import build_plan
from reconciler.plan.model import Action, CreateParams, LabelsParams, Plan, PlanCommit, load_plan
from reconciler.plan.render import render_json

OLD = "1" * 40
NEW = "2" * 40
KEY = ("cn-shanghai", "fraud")


def labels_written(plan: Plan, service: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for g in plan.groups:
        for s in g.steps:
            if s.service == service and isinstance(s.params, CreateParams | LabelsParams):
                out.update(s.params.labels)
    return out


def applied(name: str, commit: str | None = OLD, **kw: Any) -> dict[str, Any]:
    """A live member as eas-gitops left it: its record, and the commit label when `commit` is given."""
    return svc(name, record=True, extra_labels={COMMIT_LABEL: commit} if commit else {}, **kw)


def test_a_new_commit_alone_plans_nothing() -> None:
    desired = [group("fraud", [svc("fraud_v1", replicas=2)])]
    now = live(("fraud", [applied("fraud_v1", replicas=2)], "auto"))
    plan = build_plan(desired, now, commits={KEY: NEW}, source=PlanCommit(sha=NEW, dirty=False))
    assert not plan.has_changes and plan.groups[0].changes == ()
    assert plan.commit == PlanCommit(sha=NEW, dirty=False) and plan.groups[0].commit == NEW


def test_a_service_without_a_commit_label_gets_none_without_a_change() -> None:
    desired = [group("fraud", [svc("fraud_v1")])]
    plan = build_plan(desired, live(("fraud", [applied("fraud_v1", None)], "auto")), commits={KEY: NEW})
    assert not plan.has_changes


def test_the_label_goes_with_a_new_version_a_scale_and_a_create() -> None:
    desired = [group("fraud", [svc("fraud_v1", version="v2"), svc("fraud_v2", replicas=3), svc("fraud_v3")])]
    now = live(("fraud", [applied("fraud_v1"), applied("fraud_v2", replicas=1)], "auto"))
    plan = build_plan(desired, now, commits={KEY: NEW})
    for name in ("fraud_v1", "fraud_v2", "fraud_v3"):
        assert labels_written(plan, name).get(COMMIT_LABEL) == NEW, name
    create = next(s for s in plan.groups[0].steps if s.action is Action.CREATE_SERVICE)
    assert isinstance(create.params, CreateParams) and create.params.labels[COMMIT_LABEL] == NEW
    assert not any(c.field == f"labels.{COMMIT_LABEL}" for c in plan.groups[0].changes), "never shown as a change"


def test_an_untouched_member_keeps_its_commit() -> None:
    desired = [group("fraud", [svc("fraud_v1", version="v2"), svc("fraud_v2")])]
    now = live(("fraud", [applied("fraud_v1"), applied("fraud_v2")], "auto"))
    plan = build_plan(desired, now, commits={KEY: NEW})
    assert COMMIT_LABEL in labels_written(plan, "fraud_v1")
    assert labels_written(plan, "fraud_v2") == {}


def test_the_commit_label_is_never_removed() -> None:
    """Dropping a declared label removes that label only: the commit label is reserved, not in the record."""
    desired = [group("fraud", [svc("fraud_v1")])]
    now = live(("fraud", [applied("fraud_v1", labels={"team": "risk"})], "auto"))
    plan = build_plan(desired, now, commits={KEY: NEW})
    deleted = [k for s in plan.groups[0].steps if s.action is Action.DELETE_LABELS
               for k in getattr(s.params, "keys", ())]
    assert deleted == ["team"]
    assert labels_written(plan, "fraud_v1")[COMMIT_LABEL] == NEW


def test_outside_git_the_plan_reads_as_before() -> None:
    desired = [group("fraud", [svc("fraud_v1", version="v2")])]
    now = live(("fraud", [svc("fraud_v1")], "auto"))
    plan = build_plan(desired, now)
    assert COMMIT_LABEL not in labels_written(plan, "fraud_v1")
    text = render_json(plan)
    assert '"commit"' not in text, "no commit field at all outside git (plans stay byte-stable)"


def test_a_saved_plan_keeps_its_commit() -> None:
    desired = [group("fraud", [svc("fraud_v1", version="v2")])]
    plan = build_plan(desired, live(("fraud", [svc("fraud_v1")], "auto")), commits={KEY: f"{NEW}-dirty"},
                      source=PlanCommit(sha=NEW, dirty=True))
    again = load_plan(render_json(plan))
    assert again == plan and again.commit == PlanCommit(sha=NEW, dirty=True)
    assert labels_written(again, "fraud_v1")[COMMIT_LABEL] == f"{NEW}-dirty"
