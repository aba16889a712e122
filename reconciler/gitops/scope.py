"""What git adds to a plan: the commit labels, the plan's commit and, with `--changed-since`, its scope.

`git_inputs` is called by `plan` and `apply` after the files are loaded. Every file is still loaded
and validated (a new file must not declare a group another, unchanged file holds), but with
`--changed-since REF` only these groups are planned, and only their regions are read from EAS:

- the groups declared by the files that changed (`reconciler.gitops.changes`);
- the groups the old text of a changed file named at the base: a deleted file's group, a renamed
  group's old name. When no file declares such a group any more it is planned as orphaned
  (kept; deleted only with `--prune`); when one does, it is planned as declared.

Everything else (other groups, orphaned groups whose files did not change, other regions) is not
read and not shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.desired.state import DesiredState
from reconciler.gitops.changes import changed_since
from reconciler.gitops.commit import file_commits
from reconciler.gitops.repo import real
from reconciler.plan.model import PlanCommit


@dataclass(frozen=True)
class GitInputs:
    commits: dict[tuple[str, str], str] = field(default_factory=dict)  # (region, name) -> eas-gitops/commit value
    source: PlanCommit | None = None
    scope: frozenset[tuple[str, str]] | None = None  # None: every group (no --changed-since)

    def groups(self, requested: Sequence[str]) -> set[str] | None:
        """The `groups` filter of build_plan: the scope, narrowed by `--group` names (name or region/name)."""
        if self.scope is None:
            return set(requested) if requested else None
        return {f"{r}/{n}" for r, n in self.scope if not requested or n in requested or f"{r}/{n}" in requested}

    def regions(self, declared: Sequence[str], requested: Sequence[str], groups: set[str] | None) -> list[str]:
        """Regions to read: with a scope, those of its groups only; else every declared and requested one."""
        if self.scope is None:
            return sorted({*declared, *requested})
        return sorted({g.split("/", 1)[0] for g in groups or ()})


def git_inputs(roots: Sequence[Path], desired: DesiredState, since: str | None = None) -> GitInputs:
    """Commit labels per declared group (none outside git); the changed scope when `since` is a ref.

    Raises ConfigError only for `since` (no repository, REF not in the clone: the message says what to fetch).
    """
    found = file_commits(roots, (g.file for g in desired.groups))
    commits = {(g.region, g.name): label for g in desired.groups if (label := found.of(g.file)) is not None}
    source = PlanCommit(sha=found.head, dirty=found.dirty) if found.head is not None else None
    if since is None:
        return GitInputs(commits, source)
    changes = changed_since(since, roots)
    present = set(changes.present)
    scope = {(g.region, g.name) for g in desired.groups if real(g.file) in present}
    return GitInputs(commits, source, frozenset(scope | set(changes.old)))
