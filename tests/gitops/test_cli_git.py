"""Through the CLI on the embedded emulator: `--changed-since` plans only changed groups, every write records
its commit, `status` shows it, a saved plan records the commit it was made from, outside git nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from e2e.conftest import Cli
from typer.testing import CliRunner

from reconciler.apply.runtime import VirtualTimer, target_connector
from reconciler.cli import plan as plan_cli
from reconciler.live.model import COMMIT_LABEL, LiveState

from .helpers import GroupRepo, group_yaml


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    c = Cli(tmp_path / "state" / "local.db", "standalone", VirtualTimer(), CliRunner())
    monkeypatch.setattr(plan_cli, "WIRING", plan_cli.Wiring(
        connector=lambda where: target_connector(where.target, state=where.state, vpc=where.vpc,
                                                 emulator=c.settings, timer=c.timer),
        timer=c.timer))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EAS_GITOPS_TARGET", raising=False)
    monkeypatch.delenv("EAS_GITOPS_REGION", raising=False)
    yield c


@pytest.fixture
def regions_read(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The regions every plan reads from EAS, one list per read."""
    seen: list[list[str]] = []
    real = plan_cli.read_regions

    async def spy(where: plan_cli.Where, regions: Sequence[str]) -> LiveState:
        seen.append(list(regions))
        return await real(where, regions)

    monkeypatch.setattr(plan_cli, "read_regions", spy)
    return seen


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[GroupRepo]:
    r = GroupRepo(tmp_path / "repo")
    r.group("groups/alpha.yaml", "alpha")
    r.group("groups/bravo.yaml", "bravo", region="cn-beijing")
    r.group("groups/charlie.yaml", "charlie", region="cn-hangzhou")
    r.commit("three groups in three regions")
    yield r
    r.close()


def ok(cli: Cli, *args: str | Path) -> str:
    result = cli(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def status(cli: Cli, region: str) -> dict[str, Any]:
    out = cli("status", "--state", str(cli.state), "--region", region, "--format", "json")
    assert out.exit_code == 0, out.output
    data: dict[str, Any] = json.loads(out.stdout)
    return data


def member_commit(cli: Cli, region: str, service: str) -> str | None:
    rows = {r["service"]: r for r in status(cli, region)["rows"]}
    value: str | None = rows[service]["commit"]
    return value


def plan_json(cli: Cli, *args: str | Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ok(cli, "plan", *args, "--format", "json"))
    return data


def groups_of(plan: dict[str, Any]) -> dict[str, str]:
    return {f"{g['region']}/{g['name']}": g["status"] for g in plan["groups"]}


def test_changed_since_plans_only_changed_groups_and_deleted_ones_as_orphaned(
        cli: Cli, repo: GroupRepo, regions_read: list[list[str]]) -> None:
    groups = repo.root / "groups"
    base = repo.repo.head.commit.hexsha
    ok(cli, "apply", groups, "--auto-approve")
    assert member_commit(cli, "cn-shanghai", "alpha_a") == base
    repo.repo.create_head("feature").checkout()
    repo.group("groups/alpha.yaml", "alpha", replicas=2)
    repo.path("groups/bravo.yaml").unlink()
    head = repo.commit("feature: alpha scaled, bravo deleted")
    regions_read.clear()

    plan = plan_json(cli, groups, "--changed-since", "main")
    assert groups_of(plan) == {"cn-shanghai/alpha": "update", "cn-beijing/bravo": "orphaned"}, "charlie: unchanged"
    assert regions_read == [["cn-beijing", "cn-shanghai"]], "cn-hangzhou (only charlie) is not read"
    assert plan["commit"] == {"sha": head, "dirty": False}

    ok(cli, "apply", groups, "--changed-since", "main", "--auto-approve")
    assert member_commit(cli, "cn-shanghai", "alpha_a") == head, "the update records the new commit"
    assert member_commit(cli, "cn-hangzhou", "charlie_a") == base, "untouched: still the commit that made it"
    assert [r["service"] for r in status(cli, "cn-beijing")["rows"]] == ["bravo_a"], "orphaned: kept"

    ok(cli, "apply", groups, "--changed-since", "main", "--prune", "--auto-approve")
    assert status(cli, "cn-beijing")["rows"] == [], "pruned: the deleted file's group is gone"
    assert cli("plan", groups, "--changed-since", "main", "--detailed-exitcode").exit_code == 0


def test_a_new_commit_alone_plans_nothing(cli: Cli, repo: GroupRepo) -> None:
    groups = repo.root / "groups"
    ok(cli, "apply", groups, "--auto-approve")
    repo.write("README.md", "docs only\n")
    repo.commit("docs")
    result = cli("plan", groups, "--detailed-exitcode")
    assert result.exit_code == 0, result.output


def test_status_shows_the_commit_per_member_and_group(cli: Cli, repo: GroupRepo) -> None:
    groups = repo.root / "groups"
    first = repo.repo.head.commit.hexsha
    ok(cli, "apply", groups, "--auto-approve")
    view = status(cli, "cn-shanghai")
    assert [(r["service"], r["commit"]) for r in view["rows"]] == [("alpha_a", first)]
    assert [(g["name"], g["commit"], g["commits"]) for g in view["groups"]] == [("alpha", first, [first])]
    table = ok(cli, "status", "--state", str(cli.state))
    assert first[:12] in table and f"group alpha: commit {first[:12]}" in table
    repo.group("groups/alpha.yaml", "alpha", replicas=3)  # not committed: the write is dirty
    ok(cli, "apply", groups, "--auto-approve")
    assert member_commit(cli, "cn-shanghai", "alpha_a") == f"{first}-dirty"
    assert f"{first[:12]}-dirty" in ok(cli, "status", "--state", str(cli.state))


def test_a_saved_plan_records_the_commit_it_was_planned_from(cli: Cli, repo: GroupRepo, tmp_path: Path) -> None:
    groups = repo.root / "groups"
    planned = repo.repo.head.commit.hexsha
    saved = tmp_path / "plan.json"
    ok(cli, "plan", groups, "--out", saved)
    repo.write("README.md", "a later commit\n")
    later = repo.commit("later")
    assert later != planned
    ok(cli, "apply", "--plan", saved, "--auto-approve")
    assert member_commit(cli, "cn-shanghai", "alpha_a") == planned
    refused = cli("apply", "--plan", saved, "--changed-since", "main", "--auto-approve")
    assert refused.exit_code == 1 and "--changed-since" in refused.output


def test_outside_git_nothing_is_recorded_and_nothing_fails(cli: Cli, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "alpha.yaml").write_text(group_yaml("alpha"))
    plan = plan_json(cli, plain)
    assert "commit" not in plan and all("commit" not in g for g in plan["groups"])
    ok(cli, "apply", plain, "--auto-approve")
    assert member_commit(cli, "cn-shanghai", "alpha_a") is None
    labels = _labels(cli, "alpha_a")
    assert COMMIT_LABEL not in labels and "eas-gitops/managed-by" in labels
    assert "-" in ok(cli, "status", "--state", str(cli.state))
    failed = cli("plan", plain, "--changed-since", "main")
    assert failed.exit_code == 1 and "needs the files in a git repository" in failed.output


def test_a_missing_ref_exits_1_with_the_fetch_to_run(cli: Cli, repo: GroupRepo) -> None:
    result = cli("plan", repo.root / "groups", "--changed-since", "origin/main")
    assert result.exit_code == 1
    assert "fetch-depth: 0" in result.output and "Traceback" not in result.output


def _labels(cli: Cli, service: str) -> dict[str, str]:
    async def read() -> dict[str, str]:
        async with plan_cli.WIRING.connector(plan_cli.Where(state=cli.state))("cn-shanghai") as link:
            svc = await link.client.describe_service(service)
            return dict(svc.labels)

    return asyncio.run(read())
