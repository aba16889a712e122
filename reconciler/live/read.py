"""Read live state through `EasClient`: one listing per region, never one call per service.

Per region: ListServices (paged at 100) and ListGroups (for each group's TrafficMode), both
listings, run concurrently; regions run concurrently too. 1,000 services in 100 groups cost 10 +
1 read calls. ListServices gives every field the planner needs (status, instances, traffic
state, weight, config, labels, versions), so the plan never describes services one by one.

Choices where the docs are silent:
- A listed service whose `Region` names another region is skipped: a real EAS endpoint serves one
  region, but an emulator shared by several region clients (the local target) lists them all.
- A service in a group that ListGroups does not list counts as `auto` (the documented default):
  the planner reads mode from `LiveState.groups` and falls back to auto the same way.
- `Weight` missing from a listing counts as 0 (EAS omits empty fields).
- A listed group without members in `auto` mode is left out: for planning it is the same as no
  group (a first member joins or creates it either way). Such a group is what `apply` creates to
  hold the lock of a group that does not exist yet (`reconciler.apply.lock`), so that lock changes
  neither the plan nor its fingerprint, and an empty group is never orphaned. An empty
  `customized` group is kept: its mode shapes the plan.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from reconciler.desired.model import TrafficMode, TrafficState
from reconciler.eas.client import EasClient
from reconciler.eas.models import Group, Service
from reconciler.gcpause import paused_gc
from reconciler.live.model import LiveGroup, LiveService, LiveState


def live_service(svc: Service, region: str) -> LiveService:
    """One listed service as the planner's frozen model."""
    return LiveService(
        name=svc.service_name, region=region, group=svc.service_group or None,
        status=svc.status or "Other", reason=svc.reason,
        running=max(svc.running_instance, 0), pending=max(svc.pending_instance, 0),
        total=max(svc.total_instance, 0),
        traffic_state=svc.traffic or TrafficState.STANDALONE, weight=svc.weight or 0,
        config=svc.config, labels=svc.labels,
        current_version=svc.current_version or 1, latest_version=svc.latest_version or 1,
    )


def live_group(group: Group, region: str) -> LiveGroup:
    return LiveGroup(name=group.name, region=region, traffic_mode=group.mode)


def _here(region_field: str, region: str) -> bool:
    return not region_field or region_field == region


async def list_services(client: EasClient, *, group: str | None = None, service: str | None = None) -> list[Service]:
    """Every service of the client's region (one listing, paged), optionally one group's or one name's only."""
    return [s async for s in client.list_services(group_name=group, service_name=service)
            if _here(s.region, client.region)]


async def list_groups(client: EasClient) -> list[Group]:
    return [g async for g in client.list_groups() if _here(g.cluster_id, client.region)]


async def read_region(client: EasClient) -> LiveState:
    """The live state of one region: two listings, concurrently."""
    services, groups = await asyncio.gather(list_services(client), list_groups(client))
    grouped = {s.service_group for s in services}
    groups = [g for g in groups if g.name in grouped or g.mode is not TrafficMode.AUTO]
    return LiveState(
        services=tuple(sorted((live_service(s, client.region) for s in services), key=lambda s: s.name)),
        groups=tuple(sorted((live_group(g, client.region) for g in groups), key=lambda g: g.name)),
    )


def merge(states: list[LiveState]) -> LiveState:
    return LiveState(services=tuple(s for st in states for s in st.services),
                     groups=tuple(g for st in states for g in st.groups))


async def read_live(clients: Mapping[str, EasClient]) -> LiveState:
    """The live state of every region in `clients` (region -> client), read concurrently, with the
    cyclic garbage collector paused (`reconciler.gcpause`: a third of the read's CPU at 10,000)."""
    regions = sorted(clients)
    with paused_gc():
        states = await asyncio.gather(*(read_region(clients[r]) for r in regions))
        return merge(list(states))
