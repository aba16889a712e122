"""SQLite store of the emulator (stdlib sqlite3).

One file holds services, groups, the history of events and share snapshots, stock and capacity
settings and a little metadata (clock offset, generation counter, settle horizon). WAL mode lets a
served emulator and a CLI read and write the same file: every write runs in `BEGIN IMMEDIATE`, so
two processes serialise on SQLite's own lock and never interleave half-done updates. `state_path`
None gives a private in-memory database. Records are stored as JSON documents beside the columns
that are queried: group, next status change, and the light columns ListServices filters, sorts,
pages and weighs on without parsing documents (`ServiceRow`, state as of the last store).
Several regions may share one file: a `Store` sees the services, groups and history of its own
region only (names are unique per region, as in EAS); the clock offset, stock and capacities are
shared. A file written by an emulator with another schema version is emptied and recreated (it
holds emulator state only).

Signature nonces are stored too (`nonces`: access key id, nonce, wall time first seen), so a
request replayed after a restart is still refused; `use_nonce` forgets nonces older than the skew
window as it goes. The file also holds the random key the prediction tokens are derived from
(`meta.token_key`, made once per file, see tokens.py): tokens stay valid across restarts and
differ between state files. Neither changes `meta.generation` (they are not services or groups).

Invariant: `meta.generation` changes whenever a transaction changed a service or group, so a reader
(the gateway) may cache anything derived from them for as long as the generation stays the same
and the clock has not reached `next_change()`.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from reconciler.emulator.models import (
    GroupRecord,
    Phase,
    ServiceRecord,
    next_change,
    resource_of,
    state_at,
    timeline,
)
from reconciler.emulator.settings import DEFAULT_REGION

SCHEMA_VERSION = 4
# services: besides the JSON `doc`, the columns ListServices filters, sorts and pages on, and the
# service's state when it was stored (`status`, `running`, valid until `next_event`), its phase's final
# state (`final_status`, `final_running`, from `end_time` on) and the phase itself (`phase`), so a reader
# computes the state at any later time without parsing `doc`.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS services (region TEXT NOT NULL, name TEXT NOT NULL, grp TEXT NOT NULL,
                                     created REAL NOT NULL, updated REAL NOT NULL, traffic TEXT NOT NULL,
                                     weight INTEGER NOT NULL, resource TEXT NOT NULL, labels TEXT NOT NULL,
                                     status TEXT NOT NULL, running INTEGER NOT NULL, next_event REAL,
                                     final_status TEXT NOT NULL, final_running INTEGER NOT NULL,
                                     end_time REAL NOT NULL, phase TEXT NOT NULL, doc TEXT NOT NULL,
                                     PRIMARY KEY (region, name));
CREATE INDEX IF NOT EXISTS services_grp ON services (region, grp, created, name);
CREATE INDEX IF NOT EXISTS services_next ON services (region, next_event);
CREATE INDEX IF NOT EXISTS services_created ON services (region, created, name);
CREATE INDEX IF NOT EXISTS services_updated ON services (region, updated, name);
CREATE TABLE IF NOT EXISTS groups (region TEXT NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL,
                                   PRIMARY KEY (region, name));
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, region TEXT NOT NULL, time REAL NOT NULL,
                                   kind TEXT NOT NULL, action TEXT NOT NULL, service TEXT NOT NULL, grp TEXT NOT NULL,
                                   doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_grp ON events (region, grp);
CREATE INDEX IF NOT EXISTS events_service ON events (region, service);
CREATE TABLE IF NOT EXISTS shares (seq INTEGER PRIMARY KEY AUTOINCREMENT, region TEXT NOT NULL,
                                   event_seq INTEGER NOT NULL, time REAL NOT NULL, grp TEXT NOT NULL,
                                   doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS shares_grp ON shares (region, grp);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stock (instance_type TEXT PRIMARY KEY, in_stock INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS capacity (resource TEXT PRIMARY KEY, instances INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS nonces (access_key_id TEXT NOT NULL, nonce TEXT NOT NULL, seen REAL NOT NULL,
                                   PRIMARY KEY (access_key_id, nonce));
CREATE INDEX IF NOT EXISTS nonces_seen ON nonces (seen);
"""
_TABLES = ("services", "groups", "events", "shares", "meta", "stock", "capacity", "nonces")


@dataclass(frozen=True)
class ServiceRow:
    """A service without its JSON document: what listing filters, sorts, pages and weighs on.

    `status` / `running` are the state when the row was stored; they hold until `next_event`
    (emulated time only moves forward). From `end_time` on, the phase's final state holds. Only in
    between does `at` compute the state from `phase`.
    """

    COLUMNS: ClassVar[str] = ("name, grp, created, updated, traffic, weight, resource, status, running, "
                              "next_event, final_status, final_running, end_time, phase")
    name: str
    group: str
    created: float
    updated: float
    traffic: str
    weight: int
    resource: str
    status: str
    running: int
    next_event: float | None
    final_status: str
    final_running: int
    end_time: float
    phase_json: str

    def at(self, now: float) -> tuple[str, int]:
        """(status, running) at emulated time `now` (>= the time the row was stored)."""
        if self.next_event is None or self.next_event > now:
            return self.status, self.running
        if self.end_time <= now:
            return self.final_status, self.final_running
        point = state_at(Phase.from_dict(json.loads(self.phase_json)), now)
        return point.status.value, point.running


class Tx:
    """Queries and updates inside one transaction."""

    def __init__(self, conn: sqlite3.Connection, region: str) -> None:
        self._conn = conn
        self.region = region
        self.dirty = False

    def _rows(self, sql: str, *args: Any) -> list[Any]:
        return self._conn.execute(sql, args).fetchall()

    # services ------------------------------------------------------------------------------
    def service(self, name: str) -> ServiceRecord | None:
        rows = self._rows("SELECT doc FROM services WHERE region = ? AND name = ?", self.region, name)
        return ServiceRecord.from_dict(json.loads(rows[0][0])) if rows else None

    def services(self, group: str | None = None) -> list[ServiceRecord]:
        sql, args = "SELECT doc FROM services WHERE region = ?", tuple[str, ...]((self.region,))
        if group is not None:
            sql, args = sql + " AND grp = ?", (self.region, group)
        rows = self._rows(sql + " ORDER BY created, name", *args)
        return [ServiceRecord.from_dict(json.loads(r[0])) for r in rows]

    def due_services(self, now: float) -> list[ServiceRecord]:
        rows = self._rows("SELECT doc FROM services WHERE region = ? AND next_event IS NOT NULL AND next_event <= ? "
                          "ORDER BY created, name", self.region, now)
        return [ServiceRecord.from_dict(json.loads(r[0])) for r in rows]

    def put_service(self, record: ServiceRecord, now: float) -> None:
        """Store `record` as it is at emulated time `now` (its state then holds until `next_event`)."""
        point, final = record.state(now), timeline(record.phase)[-1]
        doc = record.to_dict()
        self._conn.execute(
            "INSERT OR REPLACE INTO services (region, name, grp, created, updated, traffic, weight, resource, "
            "labels, status, running, next_event, final_status, final_running, end_time, phase, doc) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (self.region, record.name, record.group, record.created_at, record.updated_at, record.traffic_state.value,
             record.weight, resource_of(record.config), json.dumps(record.labels), point.status.value, point.running,
             next_change(record.phase, now), final.status.value, final.running, final.time,
             json.dumps(doc["phase"]), json.dumps(doc)))
        self.dirty = True

    def service_rows(self, where: str = "", args: tuple[Any, ...] = (), order: str = "created, name",
                     limit: int = -1, offset: int = 0) -> list[ServiceRow]:
        """Light rows (no `doc`) of this region's services matching the SQL condition `where`, in `order`."""
        sql = f"SELECT {ServiceRow.COLUMNS} FROM services WHERE region = ?" + (f" AND ({where})" if where else "")
        rows = self._rows(f"{sql} ORDER BY {order} LIMIT ? OFFSET ?", self.region, *args, limit, offset)
        return [ServiceRow(*r) for r in rows]

    def count_services(self, where: str = "", args: tuple[Any, ...] = ()) -> int:
        sql = "SELECT COUNT(*) FROM services WHERE region = ?" + (f" AND ({where})" if where else "")
        return int(self._rows(sql, self.region, *args)[0][0])

    def services_named(self, names: Sequence[str]) -> list[ServiceRecord]:
        """Full records of `names` (in that order; missing names are skipped)."""
        marks = ",".join("?" * len(names))
        rows = self._rows(f"SELECT name, doc FROM services WHERE region = ? AND name IN ({marks})", self.region, *names)
        docs = dict(rows)
        return [ServiceRecord.from_dict(json.loads(docs[n])) for n in names if n in docs]

    def delete_service(self, name: str) -> None:
        self._conn.execute("DELETE FROM services WHERE region = ? AND name = ?", (self.region, name))
        self.dirty = True

    def has_due(self, now: float) -> bool:
        return bool(self._rows("SELECT 1 FROM services WHERE region = ? AND next_event IS NOT NULL "
                               "AND next_event <= ? LIMIT 1", self.region, now))

    def next_change(self) -> float | None:
        value = self._rows("SELECT MIN(next_event) FROM services WHERE region = ?", self.region)[0][0]
        return float(value) if value is not None else None

    # groups --------------------------------------------------------------------------------
    def group(self, name: str) -> GroupRecord | None:
        rows = self._rows("SELECT doc FROM groups WHERE region = ? AND name = ?", self.region, name)
        return GroupRecord.from_dict(json.loads(rows[0][0])) if rows else None

    def groups_named(self, names: Sequence[str]) -> list[GroupRecord]:
        marks = ",".join("?" * len(names))
        rows = self._rows(f"SELECT doc FROM groups WHERE region = ? AND name IN ({marks})", self.region, *names)
        return [GroupRecord.from_dict(json.loads(r[0])) for r in rows]

    def groups(self) -> list[GroupRecord]:
        rows = self._rows("SELECT doc FROM groups WHERE region = ? ORDER BY name", self.region)
        return [GroupRecord.from_dict(json.loads(r[0])) for r in rows]

    def put_group(self, record: GroupRecord) -> None:
        self._conn.execute("INSERT OR REPLACE INTO groups (region, name, doc) VALUES (?, ?, ?)",
                           (self.region, record.name, json.dumps(record.to_dict())))
        self.dirty = True

    def delete_group(self, name: str) -> None:
        self._conn.execute("DELETE FROM groups WHERE region = ? AND name = ?", (self.region, name))
        self.dirty = True

    # meta, stock, capacity -----------------------------------------------------------------
    def meta(self, key: str, default: str = "") -> str:
        rows = self._rows("SELECT value FROM meta WHERE key = ?", key)
        return str(rows[0][0]) if rows else default

    def set_meta(self, key: str, value: str) -> None:
        self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def insert_meta_once(self, key: str, value: str) -> None:
        self._conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def use_nonce(self, access_key_id: str, nonce: str, now: float, window: float) -> bool:
        """Forget nonces older than `window`, then record this one; False when it is still remembered."""
        self._conn.execute("DELETE FROM nonces WHERE seen < ?", (now - window,))
        cur = self._conn.execute("INSERT OR IGNORE INTO nonces (access_key_id, nonce, seen) VALUES (?, ?, ?)",
                                 (access_key_id, nonce, now))
        return cur.rowcount == 1

    def out_of_stock(self) -> set[str]:
        return {r[0] for r in self._rows("SELECT instance_type FROM stock WHERE in_stock = 0")}

    def set_stock(self, instance_type: str, in_stock: bool) -> None:
        self._conn.execute("INSERT OR REPLACE INTO stock (instance_type, in_stock) VALUES (?, ?)",
                           (instance_type, int(in_stock)))
        self.dirty = True

    def capacities(self) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in self._rows("SELECT resource, instances FROM capacity")}

    def set_capacity(self, resource: str, instances: int | None) -> None:
        if instances is None:
            self._conn.execute("DELETE FROM capacity WHERE resource = ?", (resource,))
        else:
            self._conn.execute("INSERT OR REPLACE INTO capacity (resource, instances) VALUES (?, ?)",
                               (resource, instances))
        self.dirty = True

    # history -------------------------------------------------------------------------------
    def add_event(self, time: float, kind: str, action: str, service: str, group: str,
                  detail: dict[str, Any]) -> int:
        cur = self._conn.execute("INSERT INTO events (region, time, kind, action, service, grp, doc) "
                                 "VALUES (?,?,?,?,?,?,?)", (self.region, time, kind, action, service, group,
                                                            json.dumps(detail)))
        return int(cur.lastrowid or 0)

    def events(self, group: str | None = None, service: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT seq, time, kind, action, service, grp, doc FROM events", [self.region]
        where = ["region = ?"]
        if group is not None:
            where.append("grp = ?")
            args.append(group)
        if service is not None:
            where.append("service = ?")
            args.append(service)
        sql += " WHERE " + " AND ".join(where)
        rows = self._rows(sql + " ORDER BY seq", *args)
        return [{"seq": r[0], "time": r[1], "kind": r[2], "action": r[3], "service": r[4], "group": r[5],
                 "detail": json.loads(r[6])} for r in rows]

    def add_shares(self, event_seq: int, time: float, group: str, doc: dict[str, Any]) -> None:
        self._conn.execute("INSERT INTO shares (region, event_seq, time, grp, doc) VALUES (?,?,?,?,?)",
                           (self.region, event_seq, time, group, json.dumps(doc)))

    def share_timeline(self, group: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT event_seq, time, grp, doc FROM shares WHERE region = ?", tuple[str, ...]((self.region,))
        if group is not None:
            sql, args = sql + " AND grp = ?", (self.region, group)
        rows = self._rows(sql + " ORDER BY seq", *args)
        return [{"event_seq": r[0], "time": r[1], "group": r[2], **json.loads(r[3])} for r in rows]


class Store:
    """One SQLite connection, used by one thread at a time (guarded by a lock)."""

    def __init__(self, path: Path | None, region: str = DEFAULT_REGION) -> None:
        self.path = path
        self.region = region
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        target = str(path) if path is not None else ":memory:"
        self._conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False, timeout=30.0)
        self._lock = threading.RLock()
        with self._lock:
            if path is not None:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=30000")
            # Listing scans the light columns of every row; a page cache that holds the table (up to 64 MiB,
            # taken only as used) keeps that scan in memory instead of re-reading the file.
            self._conn.execute("PRAGMA cache_size=-65536")
            self._migrate()
            self.token_key = self._token_key()

    def _token_key(self) -> str:
        """The file's random token key, made by the first emulator that opens it (under the write lock)."""
        with self.write() as tx:
            tx.insert_meta_once("token_key", secrets.token_hex(32))
            return tx.meta("token_key")

    def use_nonce(self, access_key_id: str, nonce: str, now: float, window: float) -> bool:
        """Remember `(access_key_id, nonce)` at wall time `now`; False when it was seen within `window` seconds."""
        with self.write() as tx:
            return tx.use_nonce(access_key_id, nonce, now, window)

    def _migrate(self) -> None:
        """Create the schema; a file from an older emulator (other `user_version`) is emptied and recreated."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                for table in _TABLES:
                    self._conn.execute(f"DROP TABLE IF EXISTS {table}")
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    self._conn.execute(statement)
                self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """A transaction that holds SQLite's write lock from the start (BEGIN IMMEDIATE)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            tx = Tx(self._conn, self.region)
            try:
                yield tx
                if tx.dirty:
                    generation = int(tx.meta("generation", "0")) + 1
                    tx.set_meta("generation", str(generation))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A read-only snapshot (deferred transaction)."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield Tx(self._conn, self.region)
            finally:
                self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
