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
from pathlib import Path
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


@lru_cache(maxsize=4096)
def _real_dir(directory: str) -> str:
    return os.path.realpath(directory)


def real(path: Path | str) -> str:
    """`path` absolute with symlinked directories resolved, as a string (one realpath per directory:
    thousands of group files share a few directories, and a realpath per file costs 0.1 ms each)."""
    head, name = os.path.split(os.fspath(path))
    return os.path.join(_real_dir(os.path.abspath(head or ".")), name)  # absolute: the cache outlives a chdir


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

    def rel(self, path: Path | str) -> str | None:
        """`path` as git names it (repository-relative, POSIX), or None when it lies outside this tree."""
        return self.rel_real(real(path))

    def rel_real(self, full: str) -> str | None:
        """`rel` of a path that is already real (`real`)."""
        root = str(self.root).rstrip(os.sep)
        if full == root:
            return ""
        if not full.startswith(root + os.sep):
            return None
        return full[len(root) + 1:].replace(os.sep, "/")

    def abs(self, git_path: str) -> str:
        """The real path of a repository-relative git path."""
        return os.path.join(str(self.root), *git_path.split("/"))

    def pathspecs(self, roots: Sequence[Path]) -> list[str]:
        """The roots as git pathspecs (`.` for the whole tree); roots outside the tree are left out."""
        out = [r or "." for r in (self.rel(p) for p in roots) if r is not None]
        return sorted(set(out))
