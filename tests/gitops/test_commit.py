"""The commit label of group files: HEAD's sha, `-dirty` per file that differs from it, nothing outside git."""

from __future__ import annotations

from pathlib import Path

from reconciler.desired.loader import load_paths
from reconciler.gitops.commit import file_commits, label_value, parse_label
from reconciler.gitops.scope import git_inputs

from .helpers import GroupRepo, group_yaml


def test_clean_files_record_head(tmp_path: Path) -> None:
    r = GroupRepo(tmp_path / "repo")
    a, b = r.group("groups/a.yaml", "alpha"), r.group("groups/b.yaml", "bravo")
    head = r.commit("two groups")
    found = file_commits([r.root / "groups"], [a, b])
    assert found.of(a) == head and found.of(b) == head
    assert found.head == head and not found.dirty


def test_a_file_that_differs_from_head_is_dirty_alone(tmp_path: Path) -> None:
    r = GroupRepo(tmp_path / "repo")
    clean, edited, staged = (r.group(f"groups/{n}.yaml", n) for n in ("alpha", "bravo", "charlie"))
    r.write(".gitignore", "groups/ignored.yaml\n")
    head = r.commit("three groups")
    r.group("groups/bravo.yaml", "bravo", replicas=2)  # unstaged edit
    r.group("groups/charlie.yaml", "charlie", replicas=2)
    r.repo.index.add(["groups/charlie.yaml"])  # staged edit
    new = r.group("groups/delta.yaml", "delta")  # untracked
    hidden = r.group("groups/ignored.yaml", "echo")  # ignored: HEAD does not have it either
    found = file_commits([r.root / "groups"], [clean, edited, staged, new, hidden])
    assert found.of(clean) == head
    for f in (edited, staged, new, hidden):
        assert found.of(f) == f"{head}-dirty", f
    assert found.head == head and found.dirty


def test_outside_git_records_nothing_and_never_fails(tmp_path: Path) -> None:
    f = tmp_path / "plain" / "a.yaml"
    f.parent.mkdir()
    f.write_text(group_yaml("alpha"))
    found = file_commits([f.parent], [f])
    assert found.labels == {} and found.head is None and not found.dirty
    inputs = git_inputs([f.parent], load_paths([f.parent]))
    assert inputs.commits == {} and inputs.source is None and inputs.scope is None


def test_a_repository_without_a_commit_records_nothing(tmp_path: Path) -> None:
    r = GroupRepo(tmp_path / "repo")
    f = r.group("groups/a.yaml", "alpha")
    assert file_commits([r.root], [f]).labels == {}


def test_git_inputs_key_the_labels_by_group(tmp_path: Path) -> None:
    r = GroupRepo(tmp_path / "repo")
    r.group("groups/a.yaml", "alpha", region="cn-beijing")
    head = r.commit("one group")
    inputs = git_inputs([r.root / "groups"], load_paths([r.root / "groups"]))
    assert inputs.commits == {("cn-beijing", "alpha"): head}
    assert inputs.source is not None and inputs.source.sha == head and not inputs.source.dirty


def test_label_round_trip() -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    assert label_value(sha, False) == sha
    assert label_value(sha, True) == f"{sha}-dirty"
    assert parse_label(label_value(sha, True)) == (sha, True)
    assert parse_label(sha) == (sha, False)
