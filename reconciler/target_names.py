"""What a target string names, and the defaults every command shares: no client, no HTTP.

`resolve_target` parses `local`, `aliyun` or an http(s) URL into a `Target` (kind and base URL);
`default_state_path` finds the local target's SQLite file. `reconciler.targets` builds clients on
these; the CLI's options and `--help` need only this module, so showing a
command's help imports neither httpx nor the client layer.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from reconciler.errors import ConfigError

ENV_TARGET = "EAS_GITOPS_TARGET"
DEFAULT_TARGET = "local"
DEFAULT_REGION = "cn-shanghai"
STATE_DIR = ".eas-gitops"
STATE_FILE = "local.db"
LOCAL_BASE_URL = "http://eas.local"  # host the embedded emulator sees and the signer signs


class TargetKind(StrEnum):
    LOCAL = "local"
    URL = "url"
    ALIYUN = "aliyun"


@dataclass(frozen=True)
class Target:
    """A resolved target: kind and base URL (no credentials)."""

    kind: TargetKind
    base_url: str

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""


def default_target(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return env.get(ENV_TARGET) or DEFAULT_TARGET


def project_root(start: Path | None = None) -> Path:
    """The root of the git work tree holding `start` (a file or a directory; default: the working directory).

    The nearest ancestor with a `.git` entry (a directory, or the file of a linked worktree or a
    submodule); outside any git work tree, the working directory. A plain walk up the directories:
    no git command runs and the repository itself is never read.
    """
    here = (start if start is not None else Path.cwd()).resolve()
    if not here.is_dir():
        here = here.parent
    for directory in (here, *here.parents):
        if (directory / ".git").exists():
            return directory
    return Path.cwd()


def default_state_path(start: Path | None = None) -> Path:
    """The local target's state file: `.eas-gitops/local.db` at `project_root(start)`, so every command run
    anywhere inside one repository (on that repository's files) sees the same emulated EAS."""
    return project_root(start) / STATE_DIR / STATE_FILE


def aliyun_host(region: str, vpc: bool = False) -> str:
    return f"pai-eas-manage-vpc.{region}.aliyuncs.com" if vpc else f"pai-eas.{region}.aliyuncs.com"


def resolve_target(target: str | None, region: str, vpc: bool = False) -> Target:
    """Parse a target string: `local`, `aliyun` or an http(s) URL."""
    name = (target or default_target()).strip()
    if name == TargetKind.LOCAL:
        return Target(TargetKind.LOCAL, LOCAL_BASE_URL)
    if name == TargetKind.ALIYUN:
        if not region:
            raise ConfigError("the aliyun target needs a region (--region, e.g. cn-shanghai)")
        return Target(TargetKind.ALIYUN, f"https://{aliyun_host(region, vpc)}")
    parts = urlsplit(name)
    if parts.scheme in ("http", "https") and parts.hostname:
        if parts.path not in ("", "/") or parts.query:
            raise ConfigError(f"target URL {name!r} must be scheme://host[:port] without a path")
        return Target(TargetKind.URL, f"{parts.scheme}://{parts.netloc}")
    raise ConfigError(f"unknown target {name!r}: use local, aliyun or http(s)://host:port")
