"""Persistence: state survives a restart; two stores (and two processes) share one SQLite file safely."""

from __future__ import annotations

import math
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from reconciler.emulator.backend import Backend
from reconciler.emulator.errors import WireError
from reconciler.emulator.listing import ServiceQuery
from reconciler.emulator.settings import EmulatorSettings
from reconciler.emulator.store import Store

from .helpers import REGION, FakeClock

WRITER = """
import sys
from reconciler.emulator.backend import Backend
from reconciler.emulator.settings import EmulatorSettings
from reconciler.emulator.store import Store
b = Backend(EmulatorSettings(clock=lambda: 1_700_000_000.0), Store(__import__("pathlib").Path(sys.argv[1])))
for i in range(int(sys.argv[2])):
    b.create_service({"name": f"p{i}", "metadata": {"instance": 1, "group": "shared"}}, {})
    b.release_service("cn-shanghai", f"p{i}", "grouping", i)
"""


def open_backend(path: Path, clock: FakeClock) -> Backend:
    return Backend(EmulatorSettings(state_path=path, clock=clock), Store(path))


def test_state_survives_a_restart(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "state" / "local.db"
    first = open_backend(path, clock)
    first.create_service({"name": "a", "metadata": {"instance": 2, "group": "g"}}, {"k": "v"})
    first.advance_clock(30)
    first.release_service(REGION, "a", "grouping", 7)
    first.store.close()
    second = open_backend(path, clock)
    view = second.describe_service(REGION, "a")
    assert (view.point.status.value, view.record.weight, view.record.labels) == ("Running", 7, {"k": "v"})
    events, timeline, now = second.history("g")
    assert now == clock() + 30  # the clock offset is stored too
    assert [e["action"] for e in events if e["kind"] == "write"] == ["CreateService", "ReleaseService"]
    assert timeline[-1]["shares"] == {"a": 1.0}


def test_two_stores_on_one_file_interleave_without_loss(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "local.db"
    stores = [open_backend(path, clock), open_backend(path, clock)]

    def write(index: int) -> None:
        for i in range(25):
            stores[index].create_service({"name": f"s{index}_{i}", "metadata": {"instance": 1, "group": "g"}}, {})

    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _, total = stores[0].list_services(ServiceQuery(size=100))
    assert total == 50
    events, _, _ = stores[1].history("g")
    assert sum(e["action"] == "CreateService" for e in events) == 50


def test_a_second_process_writes_the_same_file(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "local.db"
    here = open_backend(path, clock)
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(path), "20"])
    for i in range(20):
        here.create_service({"name": f"h{i}", "metadata": {"instance": 1, "group": "shared"}}, {})
    assert child.wait(timeout=60) == 0
    views, total = here.list_services(ServiceQuery(group_name="shared", size=100))
    assert total == 40
    assert {v.record.weight for v in views if v.record.name.startswith("p")} == set(range(20))


def test_regions_share_a_file_but_not_names_or_history(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "local.db"
    regions = {r: Backend(EmulatorSettings(state_path=path, clock=clock, region=r), Store(path, r))
               for r in ("cn-shanghai", "cn-beijing")}
    for region, backend in regions.items():
        backend.create_service({"name": "same", "metadata": {"instance": 1, "group": "g"}}, {"region": region})
    for region, backend in regions.items():
        assert backend.describe_service(region, "same").record.labels == {"region": region}
        assert backend.list_services(ServiceQuery())[1] == 1
        events, _, _ = backend.history("g")
        assert [e["action"] for e in events if e["kind"] == "write"] == ["CreateService"]
    regions["cn-beijing"].advance_clock(5)  # the clock is shared
    assert regions["cn-shanghai"].describe_service("cn-shanghai", "same").point.status.value == "Running"


def test_a_file_of_an_older_schema_is_recreated(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE services (name TEXT PRIMARY KEY, doc TEXT)")
    backend = Backend(EmulatorSettings(state_path=path), Store(path))
    assert backend.list_services(ServiceQuery()) == ([], 0)


@pytest.mark.parametrize("seconds", [math.nan, math.inf, -1.0])
def test_the_backend_refuses_a_clock_step_that_is_not_finite_and_forward(backend: Backend, seconds: float) -> None:
    before = backend.history()[2]
    with pytest.raises(WireError) as exc:
        backend.advance_clock(seconds)
    assert exc.value.code == "InvalidParameter" and backend.history()[2] == before
