"""plan.yml's checkout: GitHub's test merge with two commits of history, planned with `--changed-since HEAD^1`.

A pull request's checkout is a merge commit whose first parent is the base it was merged onto;
cloned with `fetch-depth: 2`, that parent is there, so the changed set is exactly the pull
request's files: not the ones main changed after the branch left it, in this region or another.
"""

from __future__ import annotations

from pathlib import Path

from git import Repo
from gitops.helpers import GroupRepo

from reconciler.gitops.changes import changed_since

from .helpers import load


def test_the_test_merge_at_depth_two_plans_exactly_the_pull_request(tmp_path: Path) -> None:
    repo = GroupRepo(tmp_path / "origin")
    for name in ("alpha", "bravo", "charlie"):
        repo.group(f"groups/cn-shanghai/{name}.yaml", name)
    repo.group("groups/cn-hangzhou/delta.yaml", "delta", region="cn-hangzhou")
    repo.commit("main: four groups in two regions")
    feature = repo.repo.create_head("feature")
    repo.group("groups/cn-shanghai/charlie.yaml", "charlie", replicas=4)  # main moves on
    repo.commit("main: charlie scaled")
    feature.checkout()
    repo.group("groups/cn-shanghai/alpha.yaml", "alpha", replicas=2)
    repo.group("groups/cn-shanghai/echo.yaml", "echo")
    repo.path("groups/cn-shanghai/bravo.yaml").unlink()
    repo.group("groups/cn-hangzhou/delta.yaml", "delta", region="cn-hangzhou", replicas=3)
    repo.commit("feature: alpha scaled, echo added, bravo deleted, delta scaled")
    repo.repo.heads.main.checkout()
    repo.repo.git.merge("--no-ff", "feature", "-m", "the test merge")
    repo.close()

    clone = Repo.clone_from(f"file://{repo.root}", tmp_path / "ci", depth=2, branch="main")
    try:
        assert clone.git.rev_parse("--is-shallow-repository") == "true"
        groups = Path(clone.working_tree_dir or "") / "groups" / "cn-shanghai"
        changes = changed_since("HEAD^1", [groups])
        assert {Path(p).name for p in changes.present} == {"alpha.yaml", "echo.yaml"}
        assert ("cn-shanghai", "bravo") in changes.old and ("cn-shanghai", "charlie") not in changes.old
    finally:
        clone.close()


def test_plan_yml_checks_out_what_the_test_above_needs() -> None:
    job = load(Path(__file__).resolve().parents[2] / "examples" / "workflows" / "plan.yml")["jobs"]["plan"]
    checkout = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 2 and "ref" not in checkout["with"]
    plan = next(s for s in job["steps"] if s.get("id") == "plan")
    assert plan["with"]["changed-since"] == "HEAD^1"
