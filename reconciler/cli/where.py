"""`Where`: the target options of one command, resolved once and said out loud.

- The local target's state file, when `--state` is not given, is `.eas-gitops/local.db` at the root
  of the git work tree holding the command's files (the first PATH; no PATH: the working
  directory), or the working directory outside git (`reconciler.target_names.default_state_path`). So
  `plan` run from a sub-directory on the repository's files uses the same state as from the root.
- Every command that talks to a target says which one on stderr before its first call:
  `target: local (state .eas-gitops/local.db)`, `target: http://127.0.0.1:8080 (region cn-shanghai)`.
- An http(s) target answers for one region (an EAS endpoint, or a served emulator, serves the region
  it was started for). EAS offers no call that names an endpoint's region, but its error answers
  carry `HostId`, the endpoint's own host (`pai-eas.<region>.aliyuncs.com`, also sent by the
  emulator): one DescribeGroup of a group nobody can have (`PROBE_GROUP`) reads it
  (`probe_region`). The region served is that answer; when an endpoint gives none, `--region` /
  `EAS_GITOPS_REGION`, or `cn-shanghai` (the default of `emulator serve` and of every command).
  A `--region` that contradicts the answer is an error. A group file of another region is refused
  before anything is written (`unserved_problems`), as is a saved plan (`Where.refuse_unserved`).
  The local target emulates every region, and the aliyun target has one endpoint per region:
  neither limits the regions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.errors import ApiError, ConfigError, Problem
from reconciler.target_names import DEFAULT_REGION, TargetKind, default_state_path, resolve_target

if TYPE_CHECKING:
    from reconciler.desired.state import LoadedGroup
    from reconciler.eas.client import EasClient

PROBE_GROUP = "eas-gitops-region-probe"  # dashes: no group eas-gitops manages can have this name
_HOST_REGION = re.compile(r"^pai-eas(?:-manage-vpc)?\.([a-z0-9-]+)\.aliyuncs\.com$")

# Poll intervals of waits by target kind (a setting, not documented by EAS).
POLL_INTERVALS = {TargetKind.LOCAL: 0.25, TargetKind.URL: 1.0, TargetKind.ALIYUN: 5.0}


@dataclass(frozen=True)
class Where:
    """The target options of one command."""

    target: str | None = None
    state: Path | None = None
    vpc: bool = False
    rate_limit: float | None = None  # None: the client's default
    served_region: str | None = None  # an http(s) target: the one region it answers for
    region_given: bool = False  # served_region came from --region / EAS_GITOPS_REGION, not the default

    @property
    def kind(self) -> TargetKind:
        return resolve_target(self.target, DEFAULT_REGION, self.vpc).kind

    @property
    def poll_interval(self) -> float:
        return POLL_INTERVALS[self.kind]

    def resolved(self, paths: Sequence[Path] = (), regions: Sequence[str] = ()) -> Where:
        """The local state file found from `paths`; an http(s) target's one region from `regions`."""
        kind = self.kind
        if kind is TargetKind.LOCAL and self.state is None:
            return replace(self, state=default_state_path(paths[0] if paths else None))
        if kind is TargetKind.URL:
            named = sorted(set(regions))
            if len(named) > 1:
                raise ConfigError(f"target {self.target} answers for one region, but --region names {len(named)} "
                                  f"({', '.join(named)}): run once per region, each against its own endpoint")
            return replace(self, served_region=named[0] if named else DEFAULT_REGION, region_given=bool(named))
        return self

    def probed(self, answered: str | None) -> Where:
        """The region the endpoint named (`probe_region`) wins over the default; a --region against it is an error."""
        if answered is None or self.served_region is None or answered == self.served_region:
            return self
        if self.region_given:
            raise ConfigError(f"target {self.target} answers for region {answered} (the HostId of its answers), "
                              f"but --region / EAS_GITOPS_REGION says {self.served_region}: point --target at the "
                              f"endpoint of {self.served_region}, or pass --region {answered}")
        return replace(self, served_region=answered)

    def describe(self) -> str:
        """`target: local (state FILE)` and the like: what the command talks to."""
        resolved = resolve_target(self.target, self.served_region or DEFAULT_REGION, self.vpc)
        if resolved.kind is TargetKind.LOCAL:
            return f"target: local (state {_shown(self.state)})"
        if self.served_region is not None:
            return f"target: {resolved.base_url} (region {self.served_region})"
        return f"target: {resolved.kind.value}"

    def refuse_unserved(self, regions: Iterable[str], what: str) -> None:
        """ConfigError when `what` (e.g. a saved plan) covers a region this http(s) target does not answer for."""
        foreign = sorted(set(regions) - {self.served_region}) if self.served_region is not None else []
        if foreign:
            raise ConfigError(f"{what} covers region {', '.join(foreign)}, but target {self.target} answers for "
                              f"{self.served_region}: apply it against the endpoint of {foreign[0]} with "
                              f"--region {foreign[0]}")

    def regions_to_read(self, regions: Iterable[str]) -> list[str]:
        """An http(s) target reads only the region it serves; the others read every region asked for."""
        return [self.served_region] if self.served_region is not None else sorted(set(regions))


def region_of_host(host_id: str) -> str | None:
    """`cn-shanghai` for `pai-eas.cn-shanghai.aliyuncs.com` (or the VPC host); None for any other host."""
    match = _HOST_REGION.match(host_id.strip().lower())
    return match.group(1) if match else None


async def probe_region(client: EasClient) -> str | None:
    """The region an endpoint serves, from the HostId of its answer to a DescribeGroup that cannot succeed.

    Reads nothing of anyone's and writes nothing; None when the answer names no EAS host.
    """
    try:
        await client.describe_group(PROBE_GROUP)
    except ApiError as err:
        return region_of_host(err.host_id)
    return None


def _shown(path: Path | None) -> str:
    if path is None:
        return "(default)"
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


def unserved_problems(where: Where, groups: Iterable[LoadedGroup]) -> list[Problem]:
    """A problem at `metadata.region` of every group an http(s) target cannot serve (empty: all served)."""
    if where.served_region is None:
        return []
    problems = []
    for loaded in groups:
        if loaded.region == where.served_region:
            continue
        message = (f"region {loaded.region} is not served by target {where.target}, which answers for "
                   f"{where.served_region}")
        hint = (f"point --target at the endpoint of {loaded.region} and pass --region {loaded.region}, "
                "or plan this file separately")
        if loaded.positions is not None:
            problems.append(loaded.positions.at_value(("metadata", "region"), message, hint))
        else:
            problems.append(Problem(str(loaded.file), 0, 0, message, hint))
    return problems
