"""Which commit the group files come from, recorded on every service a plan writes to.

The record is one label, `eas-gitops/commit`:

- its value is the full sha of HEAD of the repository that holds the group's file;
- with the suffix `-dirty` when that file is not exactly as HEAD has it: changed (staged or not),
  untracked, or ignored by git. The suffix is per group, so a local edit of one file marks only the
  services of that group. (We follow `git describe --dirty` in spelling, but look at the group's own
  file only: a README edit does not make a deployment dirty, a file that HEAD lacks does.)

Files outside a git repository (or on a machine without git, or in a repository without a commit
yet) record nothing, and that is never an error: commit recording is information, not a
precondition. When the paths span several repositories, each file records its own repository's
HEAD; the plan's own `commit` field is then left out (no single commit made the plan).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.gitops.repo import GitFiles, open_repo, real

DIRTY_SUFFIX = "-dirty"


def label_value(sha: str, dirty: bool) -> str:
    """The `eas-gitops/commit` value: the sha, with `-dirty` when the file differs from it."""
    return sha + (DIRTY_SUFFIX if dirty else "")


def parse_label(value: str) -> tuple[str, bool]:
    """(sha, dirty) of an `eas-gitops/commit` value."""
    if value.endswith(DIRTY_SUFFIX):
        return value[: -len(DIRTY_SUFFIX)], True
    return value, False


@dataclass(frozen=True)
class FileCommits:
    """The commit label of every group file inside a repository (files outside git are absent)."""

    labels: dict[str, str] = field(default_factory=dict)  # real file path (`repo.real`) -> label value
    heads: frozenset[str] = frozenset()  # HEAD of every repository involved

    @property
    def head(self) -> str | None:
        """The one commit the files come from, or None (outside git, or several repositories)."""
        return next(iter(self.heads)) if len(self.heads) == 1 else None

    @property
    def dirty(self) -> bool:
        return any(parse_label(v)[1] for v in self.labels.values())

    def of(self, file: Path) -> str | None:
        return self.labels.get(real(file))


def _porcelain_paths(text: str) -> set[str]:
    """Paths named by `git status --porcelain=v1 -z` (both sides of a rename)."""
    out: set[str] = set()
    entries = iter(text.split("\0"))
    for entry in entries:
        if len(entry) < 4:
            continue
        out.add(entry[3:])
        if entry[0] in "RC":  # `XY to\0from\0`: the source follows as its own entry
            out.add(next(entries, ""))
    return out


def _repo_labels(root: Path, files: Sequence[str], roots: Sequence[Path]) -> tuple[str, dict[str, str]] | None:
    """(HEAD, {file: label}) for the files inside the repository at `root`; None without a commit."""
    with open_repo(root) as repo:
        if repo is None:
            return None
        from git import GitCommandError

        tree = GitFiles.of(repo)
        specs = tree.pathspecs(roots)
        try:
            head = repo.head.commit.hexsha
            # clean = in HEAD's tree and not changed since: one listing each, whatever the number of files
            tracked = set(repo.git.ls_tree("-r", "-z", "--name-only", "--full-tree", head, "--", *specs).split("\0"))
            changed = _porcelain_paths(repo.git.status("--porcelain=v1", "-z", "--untracked-files=no", "--", *specs))
        except (ValueError, GitCommandError):  # no commit yet, or git refuses (e.g. an unsafe directory)
            return None
        labels = {}
        for f in files:
            rel = tree.rel_real(f)
            if rel is not None:
                labels[f] = label_value(head, rel not in tracked or rel in changed)
        return head, labels


def file_commits(roots: Sequence[Path], files: Iterable[Path]) -> FileCommits:
    """The commit label of each of `files`, found under `roots` (the PATHS of a command). Never raises."""
    pending = [real(f) for f in files]
    labels: dict[str, str] = {}
    heads: set[str] = set()
    for root in roots or [Path(".")]:
        todo = [f for f in pending if f not in labels]
        if not todo:
            break
        found = _repo_labels(root, todo, roots or [Path(".")])
        if found is not None:
            heads.add(found[0])
            labels.update(found[1])
    return FileCommits(labels, frozenset(heads))
