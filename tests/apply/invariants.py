"""Checks of DESIGN.md §3 promises 1 and 2 on the emulator's own history (its gateway's view, not the planner's)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

EPS = 1e-9


def _by_seq(shares: dict[str, list[dict[str, Any]]]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for snaps in shares.values():
        for snap in snaps:
            out.setdefault(snap["event_seq"], []).append(snap)
    return out


def violations(events: list[dict[str, Any]], shares: dict[str, list[dict[str, Any]]], *, since: int = 0,
               removed: Iterable[str] = ()) -> list[str]:
    """Every black hole of a serving group and every share rise of a member that was not ready, after `since`.

    A group is serving while its previous snapshot shows it not black-holed; a serving group must not
    become one (reported once per occurrence); `removed` groups may (the desired state deletes them).
    A member's share may rise from 0 only while its last
    status is Running with no pending instance.
    """
    gone = set(removed)
    snaps_at = _by_seq(shares)
    status: dict[str, dict[str, Any]] = {}
    last: dict[str, dict[str, Any]] = {}
    serving: dict[str, bool] = {}
    found: list[str] = []
    for event in events:
        if event["kind"] == "status":
            status[event["service"]] = event["detail"]
        for snap in snaps_at.get(event["seq"], []):
            group = snap["group"]
            prev = last.get(group)
            if event["seq"] > since:
                found += _check(event, snap, prev, status, serving.get(group, False) and group not in gone)
            serving[group] = snap["exists"] and not snap["black_hole"]
            last[group] = snap
    return found


def _check(event: dict[str, Any], snap: dict[str, Any], prev: dict[str, Any] | None,
           status: dict[str, dict[str, Any]], serving: bool) -> list[str]:
    where = f"seq {event['seq']} ({event['kind']} {event['action']} {event['service']}) group {snap['group']}"
    found = []
    if snap["exists"] and snap["black_hole"] and serving:
        found.append(f"{where}: black hole")
    before = prev["shares"] if prev else {}
    for member, share in snap["shares"].items():
        if share > EPS and before.get(member, 0.0) <= EPS:
            st = status.get(member, {})
            if st.get("Status") != "Running" or st.get("PendingInstance", 0) > 0:
                found.append(f"{where}: {member} gets traffic while {st.get('Status')} "
                             f"({st.get('RunningInstance')} running, {st.get('PendingInstance')} pending)")
    return found
