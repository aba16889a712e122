"""The traffic vocabulary of a PAI-EAS service group, shared by the wire and the group files.

EAS spells a group's traffic mode `auto` | `customized` (UpdateGroup / DescribeGroup `TrafficMode`)
and a member's traffic state `grouping` | `standalone` (ReleaseService / ListServices
`TrafficState`); the group files use the same words. The enums live here, below both the client
layer (`reconciler.eas`) and the desired-state model (`reconciler.desired`), so that neither imports
the other and a value read from EAS is the very enum member a file declares (`is` comparisons hold).
"""

from __future__ import annotations

from enum import StrEnum


class TrafficMode(StrEnum):
    """How a group splits traffic: by running replicas (`auto`) or by weight (`customized`)."""

    AUTO = "auto"
    CUSTOMIZED = "customized"


class TrafficState(StrEnum):
    """Whether a member takes part in group traffic (`grouping`) or only its direct endpoint."""

    GROUPING = "grouping"
    STANDALONE = "standalone"
