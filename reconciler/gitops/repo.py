"""Finding the git repository that holds the group files, with gitpython.

gitpython runs the `git` executable. It is imported here, lazily, so that a machine without git
still runs every command that does not need it: commit recording then records nothing, and only
`--changed-since` (which cannot work without git) says so.

Paths: git speaks repository-relative POSIX paths; the commands take paths relative to the working
directory. `GitFiles` converts between the two, always through resolved absolute paths.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from git import Repo


@lru_cache(maxsize=1)
def git_available() -> bool:
    """True when gitpython can run the `git` executable (gitpython refuses to import without one)."""
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")  # never let gitpython print or raise at import
    try:
        import git

        git.Git().version_info  # noqa: B018 - runs `git version` once
    except Exception:  # any failure to run git means: no git here
        return False
    return True


@contextmanager
def open_repo(start: Path) -> Iterator[Repo | None]:
    """The repository holding `start` (a file or a directory), or None outside git or without git."""
    if not git_available():
        yield None
        return
    from git import InvalidGitRepositoryError, NoSuchPathError, Repo

    where = start if start.is_dir() else start.parent
    try:
        repo = Repo(where.resolve(), search_parent_directories=True)
    except (InvalidGitRepositoryError, NoSuchPathError):
        yield None
        return
    try:
        yield None if repo.bare else repo
    finally:
        repo.close()  # gitpython keeps `git cat-file` processes: never leave them running


@dataclass(frozen=True)
class GitFiles:
    """Path conversions for one repository's working tree."""

    root: Path  # the working tree, resolved

    @classmethod
    def of(cls, repo: Repo) -> GitFiles:
        assert repo.working_tree_dir is not None
        return cls(Path(repo.working_tree_dir).resolve())

    def rel(self, path: Path) -> str | None:
        """`path` as git names it (repository-relative, POSIX), or None when it lies outside this tree."""
        try:
            return PurePosixPath(path.resolve().relative_to(self.root)).as_posix()
        except ValueError:
            return None

    def abs(self, git_path: str) -> Path:
        return self.root / git_path

    def pathspecs(self, roots: Sequence[Path]) -> list[str]:
        """The roots as git pathspecs (`.` for the whole tree); roots outside the tree are left out."""
        out = [r if r else "." for r in (self.rel(p) for p in roots) if r is not None]
        return sorted(set(out))
