"""The validated desired state: every group with the file it came from.

Produced only by `reconciler.desired.loader.load_paths`, so a `DesiredState` has passed every
check (field rules, names, weights, black holes, duplicates). Groups are kept in file order
(sorted paths); EAS identifies a group by (region, name).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.desired.model import ServiceGroup, ServiceSpec
from reconciler.desired.positions import Positions


@dataclass(frozen=True)
class LoadedGroup:
    """One group and where it was read from (positions let later stages point at lines)."""

    group: ServiceGroup
    file: Path
    positions: Positions | None = field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        return self.group.name

    @property
    def region(self) -> str:
        return self.group.region


@dataclass(frozen=True)
class DesiredState:
    """All groups of a run, plus notes about files that were skipped (shown, never errors)."""

    groups: tuple[LoadedGroup, ...] = ()
    notes: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[LoadedGroup]:
        return iter(self.groups)

    def __len__(self) -> int:
        return len(self.groups)

    def find(self, name: str, region: str | None = None) -> LoadedGroup | None:
        """The group called `name` (in `region`, when given)."""
        return next(
            (g for g in self.groups if g.name == name and (region is None or g.region == region)), None
        )

    def regions(self) -> list[str]:
        return sorted({g.region for g in self.groups})

    def services(self) -> Iterator[tuple[LoadedGroup, ServiceSpec]]:
        """Every member service with its group, in file order."""
        for loaded in self.groups:
            for service in loaded.group.spec.services:
                yield loaded, service
