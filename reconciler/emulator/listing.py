"""ListServices without building every service: filter, sort and page light rows, then build one page.

At 10,000 services, building every service's view (JSON document, state on the clock, the group's
listed weights) for each page cost about half a second. Now the work per call is:

1. SQL over the light columns of `services` (no JSON document): every filter (GroupName,
   ServiceName, Filter as a substring of the name, Label, TrafficState, ResourceName,
   ServiceStatus), services whose Deleting phase has ended left out (gone, as EAS lists them), the
   Sort / Order (ties by name, in the same direction), then COUNT and LIMIT/OFFSET.
   A row carries the state it was stored with (valid until its `next_event`) and its phase's final
   state (from `end_time`). Only when a ServiceStatus filter meets a row between the two (a phase
   still in flight, past its stored state) are the candidates read and checked in Python, on the
   phase (`ServiceRow.at`).
2. The page: full records, states and listed weights for the page's services and their groups only.

Nothing is settled on a listing, so it writes nothing: statuses are computed from timestamps when
read, and the history of each status change is still recorded exactly once, at its own time, by
the next write or history read (`Core._settle`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconciler.emulator import errors, traffic
from reconciler.emulator.lifecycle import ServiceView
from reconciler.emulator.models import TrafficMode, TrafficState
from reconciler.emulator.settings import WeightMinusOne
from reconciler.emulator.store import ServiceRow, Tx

_SORT_COLUMNS = {"CreateTime": "created", "UpdateTime": "updated", "ServiceName": "name"}  # else CreateTime


@dataclass(frozen=True)
class ServiceQuery:
    """ListServices filters (empty = no filter) and paging."""

    group_name: str = ""
    service_name: str = ""
    name_contains: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    status: str = ""
    traffic_state: str = ""
    resource_name: str = ""
    order: str = "desc"
    sort: str = "CreateTime"
    page: int = 1
    size: int = 100


# The status at `now` in SQL: the stored one until `next_event`, the phase's final one from `end_time`;
# NULL in between (a phase in flight and past its stored state: only Python's `ServiceRow.at` knows).
_STATUS = "CASE WHEN IFNULL(next_event > ?, 1) THEN status WHEN end_time <= ? THEN final_status END"
# Gone, settled or not, once the Deleting phase ended (such a phase is never in flight past its stored state).
_NOT_DELETED = f"IFNULL({_STATUS}, '') != 'Deleted'"
_LABEL = "EXISTS (SELECT 1 FROM json_each(labels) WHERE key = ? AND value = ?)"  # exact, any key


def _where(q: ServiceQuery, now: float) -> tuple[str, tuple[Any, ...]]:
    """Every filter as SQL on the light columns; a ServiceStatus filter also lets rows in flight through."""
    clauses: list[tuple[str, tuple[Any, ...]]] = [(_NOT_DELETED, (now, now))]
    for sql, value in (("grp = ?", q.group_name), ("name = ?", q.service_name),
                       ("instr(name, ?) > 0", q.name_contains),  # case-sensitive substring, no wildcards
                       ("grp != '' AND traffic = ?", q.traffic_state), ("resource = ?", q.resource_name)):
        if value:
            clauses.append((sql, (value,)))
    clauses += [(_LABEL, pair) for pair in q.labels]
    if q.status:
        clauses.append((f"IFNULL({_STATUS}, ?) = ?", (now, now, q.status, q.status)))
    return " AND ".join(f"({sql})" for sql, _ in clauses), tuple(a for _, args in clauses for a in args)


def _order(q: ServiceQuery) -> str:
    direction = "ASC" if q.order.lower() == "asc" else "DESC"
    return f"{_SORT_COLUMNS.get(q.sort, 'created')} {direction}, name {direction}"


def select(tx: Tx, q: ServiceQuery, now: float) -> tuple[list[ServiceRow], int]:
    """The page's light rows, in the listing's order, and the number of matching services.

    SQL pages (COUNT, LIMIT/OFFSET) unless a ServiceStatus filter meets a row whose phase is in
    flight past its stored state: then every candidate row is read and checked in Python.
    """
    if q.page < 1 or q.size < 1:
        raise errors.invalid_parameter(f"PageNumber and PageSize must be >= 1 (got {q.page}, {q.size}).")
    where, args = _where(q, now)
    if q.status and tx.count_services(f"({where}) AND ({_STATUS}) IS NULL", (*args, now, now)):
        rows = [r for r in tx.service_rows(where, args, _order(q)) if r.at(now)[0] == q.status]
        return rows[(q.page - 1) * q.size: q.page * q.size], len(rows)
    return tx.service_rows(where, args, _order(q), q.size, (q.page - 1) * q.size), tx.count_services(where, args)


def listed_weights(tx: Tx, groups: list[str], now: float, minus_one: WeightMinusOne) -> dict[str, dict[str, int]]:
    """The `Weight` each member of `groups` lists (see `traffic.listed_weights`), from light rows."""
    if not groups:
        return {}
    modes = {g.name: g.traffic_mode for g in tx.groups_named(groups)}
    members: dict[str, list[traffic.Member]] = {g: [] for g in groups}
    for row in tx.service_rows(f"grp IN ({','.join('?' * len(groups))})", tuple(groups)):
        members[row.group].append(traffic.Member(row.name, TrafficState(row.traffic), row.at(now)[1], row.weight))
    return {g: traffic.listed_weights(modes.get(g, TrafficMode.AUTO), members[g], minus_one) for g in groups}


def views(tx: Tx, page: list[ServiceRow], now: float, minus_one: WeightMinusOne) -> list[ServiceView]:
    """The page's services as ListServices shows them (full records for these services only)."""
    records = tx.services_named([row.name for row in page])
    listed = listed_weights(tx, sorted({r.group for r in records if r.group}), now, minus_one)
    return [ServiceView(r, r.state(now), listed.get(r.group, {}).get(r.name, r.weight), r.running_version(now))
            for r in records]
