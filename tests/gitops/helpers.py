"""A git repository of group files in a temporary directory, built with gitpython."""

from __future__ import annotations

from pathlib import Path

from git import Actor, Repo

AUTHOR = Actor("eas-gitops tests", "tests@eas-gitops.invalid")


def group_yaml(name: str, region: str = "cn-shanghai", replicas: int = 1) -> str:
    """A valid group file: one member `<name>_a` (auto mode, grouping)."""
    return f"""\
apiVersion: eas-gitops/v1
kind: ServiceGroup
metadata:
  name: {name}
  region: {region}
spec:
  traffic_mode: auto
  services:
    - name: {name}_a
      traffic: grouping
      replicas: {replicas}
      resources: {{cpu: 1, memory: 1000}}
      model: {{path: "oss://bucket/models/{name}.pmml", processor: pmml}}
"""


class GroupRepo:
    """A repository whose `groups/` directory holds one file per group."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.repo = Repo.init(root, initial_branch="main")
        with self.repo.config_writer() as cfg:  # commits made by `git` itself (not only gitpython) need these
            cfg.set_value("user", "name", AUTHOR.name)
            cfg.set_value("user", "email", AUTHOR.email)

    def path(self, rel: str) -> Path:
        return self.root / rel

    def write(self, rel: str, text: str) -> Path:
        p = self.path(rel)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        return p

    def group(self, rel: str, name: str, region: str = "cn-shanghai", replicas: int = 1) -> Path:
        return self.write(rel, group_yaml(name, region, replicas))

    def commit(self, message: str, *paths: str) -> str:
        """Stage `paths` (default: everything, deletions included) and commit; the new sha."""
        if paths:
            self.repo.index.add(list(paths))
        else:
            self.repo.git.add("-A")
        return self.repo.index.commit(message, author=AUTHOR, committer=AUTHOR).hexsha

    def close(self) -> None:
        self.repo.close()
