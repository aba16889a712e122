"""Checks of the traffic promises (no black hole, ready before traffic, max_shift) on the emulator's own history
(its gateway's view, not the planner's)."""

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

    A group is serving while its previous snapshot shows it existing and not black-holed; a serving group
    must not become one nor vanish (reported once per occurrence); `removed` groups may (the desired state
    deletes them). A member's share may rise at all (from 0 or from any smaller share) only while it is
    Running with no pending instance, with one exception: a member already taking traffic grows as its
    own new instances come up (a scale-up in auto mode; EAS routes only to Running instances).

    The emulator settles every service at one instant and records their status events one after another,
    while the share snapshot at the first of them already shows them all: at a status event, a member's
    status (and "its own instances came up") is judged over that whole run of consecutive status events
    of the same time. A write's snapshot is judged on the statuses recorded before it.
    """
    gone = set(removed)
    snaps_at = _by_seq(shares)
    runs = _settling_runs(events)
    status: dict[str, dict[str, Any]] = {}
    last: dict[str, dict[str, Any]] = {}
    serving: dict[str, bool] = {}
    found: list[str] = []
    for event in events:
        if event["kind"] == "status":
            status[event["service"]] = event["detail"]
        now = runs.get(event["seq"], {})
        for snap in snaps_at.get(event["seq"], []):
            group = snap["group"]
            if event["seq"] > since:
                found += _check(event, snap, last.get(group), {**status, **now}, set(now),
                                serving.get(group, False) and group not in gone)
            serving[group] = snap["exists"] and not snap["black_hole"]
            last[group] = snap
    return found


def _settling_runs(events: list[dict[str, Any]]) -> dict[int, dict[str, dict[str, Any]]]:
    """seq of each status event -> service -> last status in its run (consecutive status events, one time)."""
    out: dict[int, dict[str, dict[str, Any]]] = {}
    run: dict[str, dict[str, Any]] = {}
    for i, event in enumerate(events):
        prev = events[i - 1] if i else None
        if event["kind"] != "status":
            continue
        if prev is None or prev["kind"] != "status" or prev.get("time") != event.get("time"):
            run = {}
        run[event["service"]] = event["detail"]
        out[event["seq"]] = run  # one dict per run: every event of the run sees the whole run
    return out


def _check(event: dict[str, Any], snap: dict[str, Any], prev: dict[str, Any] | None,
           status: dict[str, dict[str, Any]], settling: set[str], serving: bool) -> list[str]:
    where = f"seq {event['seq']} ({event['kind']} {event['action']} {event['service']}) group {snap['group']}"
    found = []
    if serving and not snap["exists"]:
        found.append(f"{where}: a serving group vanished")
    elif serving and snap["black_hole"]:
        found.append(f"{where}: black hole")
    before = prev["shares"] if prev else {}
    for member, share in snap["shares"].items():
        old = before.get(member, 0.0)
        own_growth = old > EPS and member in settling
        if share > old + EPS and not own_growth:
            st = status.get(member, {})
            if st.get("Status") != "Running" or st.get("PendingInstance", 0) > 0:
                found.append(f"{where}: {member} gets traffic while {st.get('Status')} "
                             f"({st.get('RunningInstance')} running, {st.get('PendingInstance')} pending)")
    return found


def _leaves(event: dict[str, Any]) -> bool:
    """A write that takes its member out of group traffic: the others' gains are what the file declares."""
    if event["action"] == "DeleteService":
        return True
    return event["action"] == "ReleaseService" and event["detail"].get("TrafficState") == "standalone"


def shifts(events: list[dict[str, Any]], shares: dict[str, list[dict[str, Any]]], max_shift: int, *,
           since: int = 0) -> list[str]:
    """Every share rise of more than `max_shift` points that one write caused, after `since`.

    A write's effect lasts until the group's next write (a scale-up's instances come up in between):
    every snapshot of the group in that span is compared with the group's last snapshot before the write.
    Not counted: writes that take a member out of traffic, and writes to a group that took no traffic
    (the first member of a new group takes 100 %)."""
    snaps_at = _by_seq(shares)
    last: dict[str, dict[str, Any]] = {}
    base: dict[str, tuple[dict[str, Any], dict[str, Any]] | None] = {}  # group -> (write, snapshot before it)
    found: list[str] = []
    for event in events:
        group = event.get("group") or ""
        if event["kind"] == "write" and event["seq"] > since:
            before = last.get(group)
            serving = before is not None and before["exists"] and not before["black_hole"]
            base[group] = (event, before) if serving and not _leaves(event) and before else None
        for snap in snaps_at.get(event["seq"], []):
            g = snap["group"]
            span = base.get(g)
            if span is not None:
                write, before = span
                for member, share in snap["shares"].items():
                    rise = share - before["shares"].get(member, 0.0)
                    if rise * 100 > max_shift + 1e-6:
                        found.append(f"seq {event['seq']} group {g}: {member} rose {rise * 100:.1f} points since "
                                     f"write seq {write['seq']} ({write['action']} {write['service']}), "
                                     f"max_shift {max_shift}")
            last[g] = snap
    return found
