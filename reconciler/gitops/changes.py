"""The group files that changed since a git ref, for `plan|apply --changed-since REF`.

What "changed" means, exactly:

- The base is the merge base of REF and HEAD (what `git diff REF...HEAD` uses), so a branch
  that is behind REF does not count REF's own newer commits as its changes. When git finds no
  merge base (a shallow clone where the history between them was not fetched), REF itself is the
  base: on the merge checkout CI gets for a pull request, REF's tree against that checkout is
  exactly the pull request's change.
- Changed files are the differences between the base and the working tree: committed since the
  base, staged, unstaged, plus untracked files (not ignored ones). Renames are found as git finds
  them (`-M`); a rename is its old path gone and its new path added.
- Only group files count: `*.yaml` / `*.yml` under the PATHS, skipping hidden directories the way
  the loader does (`.github/workflows/*.yml` is never a group file).
- For every changed file that existed at the base (modified, renamed away, deleted), the old text
  at the base is parsed for its group's identity (`metadata.region`, `metadata.name`): a group
  whose file was deleted, or whose name changed, is then planned too (as orphaned when no file
  declares it any more). An old text that names no group (not YAML, or no region and name)
  adds nothing: no group could have been applied from it.

REF must be in the clone. CI checkouts are often shallow (actions/checkout fetches one commit by
default): when REF is missing, the error says what to fetch (`git fetch --depth=1 origin <base>`)
or to check out with the full history (`fetch-depth: 0`). Only REF's commit is needed, not the
history in between.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from reconciler.desired.loader import YAML_SUFFIXES
from reconciler.errors import ConfigError
from reconciler.gitops.repo import GitFiles, git_available, open_repo, real

if TYPE_CHECKING:
    from git import Commit, Repo

_SHA = re.compile(r"[0-9a-f]{7,40}")
FULL_HISTORY = "or check out with the full history (actions/checkout: `fetch-depth: 0`)"


@dataclass(frozen=True)
class Changes:
    """Changed group files between a base commit and the working tree."""

    ref: str
    base: str  # the sha compared with: the merge base, or REF's commit when there is none
    merge_base: bool  # False: no merge base was found, REF itself is the base
    present: tuple[str, ...]  # files that exist now and differ from the base (real paths, `repo.real`)
    old: tuple[tuple[str, str], ...]  # (region, name) named by the base's text of changed files


def fetch_hint(ref: str, remotes: Sequence[str]) -> str:
    """How to bring REF into a shallow clone."""
    if _SHA.fullmatch(ref):
        return f"`git fetch --depth=1 origin {ref}` (the full 40-character sha)"
    remote, _, name = ref.partition("/")
    if name and (remote in remotes or remote == "origin"):
        return f"`git fetch --depth=1 {remote} {name}:refs/remotes/{remote}/{name}`"
    if ref.startswith("refs/"):
        return f"`git fetch --depth=1 origin {ref}:{ref}`"
    return f"`git fetch --depth=1 origin {ref}:refs/remotes/origin/{ref}` and pass --changed-since origin/{ref}"


def _resolve(repo: Repo, ref: str) -> Commit:
    from git import GitCommandError

    try:
        sha = repo.git.rev_parse("--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    except GitCommandError as exc:
        if exc.status != 1:  # 1: no such commit; anything else is git refusing (raised as a git failure)
            raise
        shallow = repo.git.rev_parse("--is-shallow-repository") == "true"
        where = f"{repo.working_tree_dir}" + (" (a shallow clone: only part of the history was fetched)"
                                              if shallow else "")
        raise ConfigError(f"--changed-since {ref}: no such commit in {where}: fetch it first with "
                          f"{fetch_hint(ref, [r.name for r in repo.remotes])}, {FULL_HISTORY}") from None
    return repo.commit(sha)


def _base(repo: Repo, ref: Commit) -> tuple[Commit, bool]:
    """The merge base of REF and HEAD, or REF itself when git finds none (True: a merge base)."""
    bases = repo.merge_base(ref, repo.head.commit)  # [] when git finds none (exit 1)
    return (bases[0], True) if bases and bases[0] is not None else (ref, False)


def is_group_file(path: str, roots: Sequence[Path]) -> bool:
    """A YAML file the loader would read from `roots` (named directly, or under a root, not hidden)."""
    if not path.endswith(YAML_SUFFIXES):
        return False
    for root in roots:
        top = real(root)
        if path == top:
            return True
        if path.startswith(top.rstrip(os.sep) + os.sep):
            parts = path[len(top.rstrip(os.sep)) + 1:].split(os.sep)
            if not any(p.startswith(".") for p in parts):
                return True
    return False


def identity(text: str) -> tuple[str, str] | None:
    """(region, name) a group file's text declares, read leniently (old texts may predate today's schema)."""
    try:
        data: Any = YAML(typ="safe").load(text)
    except YAMLError:
        return None
    meta = data.get("metadata") if isinstance(data, dict) else None
    if not isinstance(meta, dict):
        return None
    region, name = meta.get("region"), meta.get("name")
    return (region, name) if isinstance(region, str) and isinstance(name, str) and region and name else None


def changed_since(ref: str, roots: Sequence[Path]) -> Changes:
    """The group files under `roots` that changed between REF (its merge base with HEAD) and the working tree.

    The repository is the one holding the first root. ConfigError for every git problem.
    """
    roots = list(roots) or [Path(".")]
    if not git_available():
        raise ConfigError("--changed-since needs git, and no `git` executable was found")
    from git import GitCommandError

    try:
        return _changed(ref, roots)
    except GitCommandError as exc:
        raise ConfigError(f"--changed-since {ref}: git failed: {_git_message(exc)} "
                          "(for an unsafe repository, see `git config --global --add safe.directory`)") from None


def _git_message(exc: Exception) -> str:
    """The last line git wrote on stderr (gitpython wraps it as `\\n  stderr: '...'`)."""
    text = str(getattr(exc, "stderr", "") or "").strip().removeprefix("stderr:").strip().strip("'")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else str(exc)


def _changed(ref: str, roots: list[Path]) -> Changes:
    with open_repo(roots[0]) as repo:
        if repo is None:
            raise ConfigError(f"--changed-since needs the files in a git repository, and {roots[0]} is in none "
                              "(plan without --changed-since)")
        try:
            repo.head.commit  # noqa: B018 - an unborn HEAD raises here
        except ValueError:
            raise ConfigError("--changed-since: the repository has no commit yet") from None
        tree = GitFiles.of(repo)
        base, merged = _base(repo, _resolve(repo, ref))
        specs = tree.pathspecs(roots)
        present: set[str] = set()
        old: set[tuple[str, str]] = set()
        for d in base.diff(None, paths=tuple(specs)):
            if d.b_path and d.change_type != "D" and is_group_file(tree.abs(d.b_path), roots):
                present.add(tree.abs(d.b_path))
            if d.a_path and d.a_blob is not None and d.change_type != "A" and is_group_file(tree.abs(d.a_path), roots):
                found = identity(d.a_blob.data_stream.read().decode("utf-8", "replace"))
                if found is not None:
                    old.add(found)
        untracked = repo.git.ls_files("--others", "--exclude-standard", "-z", "--", *specs).split("\0")
        present |= {tree.abs(p) for p in untracked if p and is_group_file(tree.abs(p), roots)}
        return Changes(ref, base.hexsha, merged, tuple(sorted(present)), tuple(sorted(old)))

