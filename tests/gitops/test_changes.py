"""`changed_since`: the changed group files and old identities are exactly right on a real repository."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from git import Repo

from reconciler.errors import ConfigError
from reconciler.gitops.changes import changed_since, fetch_hint, identity, is_group_file

from .helpers import GroupRepo, group_yaml


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[GroupRepo]:
    """main: alpha..echo; branch feature: alpha modified, bravo deleted, charlie renamed (committed),
    golf staged, delta modified unstaged, foxtrot untracked; main then moves on (echo changed)."""
    r = GroupRepo(tmp_path / "repo")
    for name in ("alpha", "bravo", "charlie", "delta", "echo"):
        r.group(f"groups/{name}.yaml", name)
    r.write("groups/README.txt", "not a group\n")
    r.write(".github/workflows/plan.yml", "on: push\n")
    r.commit("main: five groups")
    feature = r.repo.create_head("feature")
    r.group("groups/echo.yaml", "echo", replicas=5)
    r.commit("main moves on after feature branched off")
    feature.checkout()
    r.group("groups/alpha.yaml", "alpha", replicas=2)
    r.path("groups/bravo.yaml").unlink()
    r.repo.git.mv("groups/charlie.yaml", "groups/charlie-renamed.yaml")
    r.write(".github/workflows/plan.yml", "on: pull_request\n")  # YAML, but hidden: never a group file
    r.write("groups/README.txt", "still not a group\n")
    r.commit("feature: modify, delete, rename")
    r.group("groups/golf.yaml", "golf")
    r.repo.index.add(["groups/golf.yaml"])  # staged, not committed
    r.group("groups/delta.yaml", "delta", replicas=3)  # unstaged
    r.group("groups/foxtrot.yaml", "foxtrot")  # untracked
    yield r
    r.close()


def names(paths: tuple[str, ...], root: Path) -> set[str]:
    return {Path(p).relative_to(root.resolve()).as_posix() for p in paths}


def test_modify_add_rename_delete_staged_unstaged_untracked(repo: GroupRepo) -> None:
    c = changed_since("main", [repo.root / "groups"])
    assert c.merge_base, "main and feature share history: the merge base is the base"
    assert c.base == repo.repo.merge_base("main", "HEAD")[0].hexsha
    assert names(c.present, repo.root) == {
        "groups/alpha.yaml",  # modified, committed
        "groups/charlie-renamed.yaml",  # renamed (new side)
        "groups/golf.yaml",  # staged
        "groups/delta.yaml",  # unstaged
        "groups/foxtrot.yaml",  # untracked
    }  # not echo: main changed it after feature branched off; not bravo: deleted; not README or .github
    # old texts at the base: modified, renamed away, deleted (bravo's group comes from its old blob)
    assert set(c.old) == {("cn-shanghai", n) for n in ("alpha", "bravo", "charlie", "delta")}


def test_without_changes_the_set_is_empty(repo: GroupRepo) -> None:
    repo.repo.git.stash("--include-untracked")
    c = changed_since("HEAD", [repo.root / "groups"])
    assert c.present == () and c.old == ()


def test_paths_limit_the_changes(repo: GroupRepo) -> None:
    c = changed_since("main", [repo.root / "groups" / "alpha.yaml"])
    assert names(c.present, repo.root) == {"groups/alpha.yaml"}
    assert c.old == (("cn-shanghai", "alpha"),)


def test_an_old_text_without_identity_adds_nothing(repo: GroupRepo) -> None:
    repo.write("groups/broken.yaml", "metadata: [not, a, mapping\n")
    repo.commit("a broken file on feature (and the staged golf)", "groups/broken.yaml")
    base = repo.repo.head.commit.hexsha
    repo.path("groups/broken.yaml").unlink()
    c = changed_since(base, [repo.root / "groups"])
    assert c.old == (("cn-shanghai", "delta"),), "delta is modified; broken's old text names no group"
    assert {Path(p).name for p in c.present} == {"delta.yaml", "foxtrot.yaml"}


def test_identity_is_read_leniently() -> None:
    assert identity(group_yaml("alpha", "cn-beijing")) == ("cn-beijing", "alpha")
    assert identity("metadata: {name: x, region: cn-hangzhou, future_key: 1}\nspec: 3\n") == ("cn-hangzhou", "x")
    assert identity("metadata: {name: x}\n") is None
    assert identity("[1, 2") is None
    assert identity("- a\n") is None


def test_group_files_are_yaml_and_not_hidden(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    assert is_group_file(f"{root}/g/a.yaml", [root])
    assert is_group_file(f"{root}/g/a.yml", [root])
    assert not is_group_file(f"{root}/g/a.txt", [root])
    assert not is_group_file(f"{root}/.github/workflows/p.yml", [root])
    assert is_group_file(f"{root}/.hidden/a.yaml", [root / ".hidden" / "a.yaml"]), "a file named explicitly"
    assert not is_group_file(f"{root}/other/a.yaml", [root / "g"])
    assert not is_group_file(f"{root}/gx/a.yaml", [root / "g"]), "a sibling with the same prefix is outside"


def test_a_missing_ref_names_the_fetch(repo: GroupRepo) -> None:
    with pytest.raises(ConfigError) as err:
        changed_since("nosuchbranch", [repo.root / "groups"])
    assert "git fetch --depth=1 origin nosuchbranch:refs/remotes/origin/nosuchbranch" in str(err.value)
    assert "fetch-depth: 0" in str(err.value)


def test_fetch_hints() -> None:
    sha = "a" * 40
    assert f"git fetch --depth=1 origin {sha}" in fetch_hint(sha, ["origin"])
    assert "git fetch --depth=1 origin main:refs/remotes/origin/main" in fetch_hint("origin/main", ["origin"])
    assert "git fetch --depth=1 upstream dev:refs/remotes/upstream/dev" in fetch_hint("upstream/dev", ["upstream"])
    assert "refs/pull/7/head:refs/pull/7/head" in fetch_hint("refs/pull/7/head", ["origin"])


def test_outside_git_is_an_error_for_changed_since(tmp_path: Path) -> None:
    (tmp_path / "g.yaml").write_text(group_yaml("alpha"))
    with pytest.raises(ConfigError, match="needs the files in a git repository"):
        changed_since("main", [tmp_path])


def test_shallow_clone_without_the_base_says_what_to_fetch_then_works(repo: GroupRepo, tmp_path: Path) -> None:
    repo.commit("feature: everything committed")
    clone = Repo.clone_from(f"file://{repo.root}", tmp_path / "ci", depth=1, branch="feature", single_branch=True)
    try:
        assert clone.git.rev_parse("--is-shallow-repository") == "true"
        groups = Path(clone.working_tree_dir or "") / "groups"
        with pytest.raises(ConfigError) as err:
            changed_since("origin/main", [groups])
        message = str(err.value)
        assert "shallow clone" in message
        fetch = "git fetch --depth=1 origin main:refs/remotes/origin/main"
        assert fetch in message
        clone.git.fetch("--depth=1", "origin", "main:refs/remotes/origin/main")  # exactly what the hint says
        c = changed_since("origin/main", [groups])
        # only REF's commit was fetched: no merge base, so REF's tree is the base (echo differs from it too)
        assert not c.merge_base and c.base == clone.commit("origin/main").hexsha
        assert {Path(p).name for p in c.present} == {"alpha.yaml", "charlie-renamed.yaml", "golf.yaml", "delta.yaml",
                                              "foxtrot.yaml", "echo.yaml"}
        assert ("cn-shanghai", "bravo") in c.old
    finally:
        clone.close()


def test_a_git_failure_is_one_clear_error(repo: GroupRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    from git import GitCommandError

    import reconciler.gitops.changes as changes

    def refuse(*_: object) -> None:
        raise GitCommandError(["git", "merge-base"], 128, b"fatal: detected dubious ownership in repository")

    monkeypatch.setattr(changes, "_base", refuse)
    with pytest.raises(ConfigError, match=r"git failed: fatal: detected dubious ownership.*safe.directory"):
        changed_since("main", [repo.root / "groups"])
