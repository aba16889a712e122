"""The history checker itself must catch what the promises forbid (else every property test is too weak)."""

from __future__ import annotations

from typing import Any

from .invariants import violations

RUNNING = {"Status": "Running", "RunningInstance": 2, "PendingInstance": 0}
UPDATING = {"Status": "Updating", "RunningInstance": 1, "PendingInstance": 1}


def event(seq: int, kind: str = "write", service: str = "a", detail: dict[str, Any] | None = None,
          time: float | None = None) -> dict[str, Any]:
    """An emulator history event; each at its own instant unless `time` says otherwise."""
    return {"seq": seq, "time": float(seq) if time is None else time, "kind": kind, "action": "ReleaseService",
            "service": service, "detail": detail or {}}


def snap(seq: int, shares: dict[str, float], *, exists: bool = True) -> dict[str, Any]:
    return {"event_seq": seq, "group": "g", "exists": exists, "black_hole": exists and not any(shares.values()),
            "shares": shares}


def check(statuses: dict[str, dict[str, Any]], snaps: list[dict[str, Any]], **kw: Any) -> list[str]:
    """The first snapshot is the state before the apply (`since` excludes it)."""
    events = [event(i + 1, "status", name, st) for i, (name, st) in enumerate(statuses.items())]
    base = len(events)
    events += [event(base + i + 1) for i in range(len(snaps))]
    timeline = [{**s, "event_seq": base + i + 1} for i, s in enumerate(snaps)]
    return violations(events, {"g": timeline}, since=base + 1, **kw)


def test_a_share_rising_from_above_zero_while_not_running_is_caught() -> None:
    found = check({"a": RUNNING, "b": UPDATING}, [snap(0, {"a": 0.8, "b": 0.2}), snap(0, {"a": 0.5, "b": 0.5})])
    assert len(found) == 1 and "b gets traffic while Updating" in found[0]


def test_a_share_rising_for_a_running_member_is_fine() -> None:
    assert check({"a": RUNNING, "b": RUNNING}, [snap(0, {"a": 0.8, "b": 0.2}), snap(0, {"a": 0.5, "b": 0.5})]) == []


def test_a_serving_group_that_black_holes_or_vanishes_is_caught_unless_removed() -> None:
    holed = check({"a": RUNNING}, [snap(0, {"a": 1.0}), snap(0, {"a": 0.0})])
    assert len(holed) == 1 and "black hole" in holed[0]
    vanished = check({"a": RUNNING}, [snap(0, {"a": 1.0}), snap(0, {}, exists=False)])
    assert len(vanished) == 1 and "vanished" in vanished[0]
    assert check({"a": RUNNING}, [snap(0, {"a": 1.0}), snap(0, {}, exists=False)], removed={"g"}) == []


def test_a_group_that_never_served_may_stay_dark() -> None:
    assert check({"a": UPDATING}, [snap(0, {"a": 0.0}), snap(0, {"a": 0.0})]) == []


def test_a_serving_member_may_grow_with_its_own_instances_but_not_from_another_members_move() -> None:
    statuses = {"a": {"Status": "Scaling", "RunningInstance": 3, "PendingInstance": 1}, "b": RUNNING}
    events = [event(1, "status", "a", statuses["a"]), event(2, "status", "b", RUNNING),
              event(3, "status", "a", statuses["a"]), event(4, "write", "b")]
    timeline = [snap(1, {"a": 0.5, "b": 0.5}), snap(3, {"a": 0.6, "b": 0.4}), snap(4, {"a": 1.0, "b": 0.0})]
    for i, s in zip((2, 3, 4), timeline, strict=True):
        s["event_seq"] = i
    found = violations(events, {"g": timeline}, since=2)
    assert len(found) == 1 and found[0].startswith("seq 4 (write") and "a gets traffic while Scaling" in found[0]


def test_members_settling_at_one_instant_are_judged_together() -> None:
    """Two members come up at the same instant: the snapshot at the first status event already shows both."""
    scaling = {"Status": "Scaling", "RunningInstance": 1, "PendingInstance": 1}
    done = {"Status": "Running", "RunningInstance": 2, "PendingInstance": 0}
    events = [event(1, "status", "c", scaling), event(2, "status", "a", RUNNING, time=9.0),
              event(3, "status", "c", done, time=9.0)]
    timeline = [{**snap(0, {"b": 0.5, "c": 0.5}), "event_seq": 1}, {**snap(0, {"b": 0.33, "c": 0.67}), "event_seq": 2}]
    assert violations(events, {"g": timeline}, since=1) == []
    events[2]["time"] = 10.0  # c only settles later: its rise at a's event is not its own doing
    (found,) = violations(events, {"g": timeline}, since=1)
    assert "c gets traffic while Scaling" in found


def test_a_join_is_judged_before_a_later_write_of_the_same_instant() -> None:
    """Join while Running, then scale down at the same instant: the join's snapshot is not judged by 'Scaling'."""
    events = [event(1, "status", "b", RUNNING, time=5.0), event(2, "write", "b", time=6.0),
              event(3, "write", "b", time=6.0), event(4, "status", "b", UPDATING, time=6.0)]
    timeline = [{**snap(0, {"b": 0.0}), "event_seq": 1}, {**snap(0, {"b": 1.0}), "event_seq": 2}]
    assert violations(events, {"g": timeline}, since=1) == []
