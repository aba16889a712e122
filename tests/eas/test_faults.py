"""200 calls through EasClient under injected throttling (30 %) and 503s (10 %): every write lands exactly once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from reconciler.desired.model import TrafficMode, TrafficState
from reconciler.eas.client import EasClient
from reconciler.eas.retry import RetrySettings
from reconciler.errors import TransportError

from .emulated import Harness, emulated

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("loopback_credentials")]
SERVICES = [f"svc_{i}" for i in range(10)]


class Script:
    """Runs calls on the client and remembers which writes it made (action, service) and how many calls."""

    def __init__(self, client: EasClient) -> None:
        self.c = client
        self.calls = 0
        self.writes: Counter[tuple[str, str]] = Counter()

    def wrote(self, action: str, name: str) -> None:
        self.calls += 1
        self.writes[(action, name)] += 1

    async def create(self, name: str, group: str) -> None:
        await self.c.create_service({"name": name, "processor": "pmml", "model_path": "oss://b/m.pmml",
                                     "metadata": {"group": group, "instance": 1, "cpu": 1, "memory": 1000}})
        self.wrote("CreateService", name)

    async def release(self, name: str, **kw: object) -> None:
        await self.c.release_service(name, **kw)  # type: ignore[arg-type]
        self.wrote("ReleaseService", name)

    async def read(self, name: str) -> None:
        await self.c.describe_service(name)
        self.calls += 1


async def run_sequence(h: Harness) -> Script:
    s = Script(h.client)
    for i, name in enumerate(SERVICES):  # 10 creates
        await s.create(name, "ga" if i % 2 else "gb")
    await h.advance(60)
    for name in SERVICES:  # 20 releases
        await s.release(name, traffic_state=TrafficState.GROUPING)
        await s.release(name, weight=100)
    for group in ("ga", "gb"):  # 2 group updates
        await h.client.update_group(group, traffic_mode=TrafficMode.CUSTOMIZED)
        s.wrote("UpdateGroup", group)
    for name in SERVICES:  # 10 label writes
        await h.client.update_service_label(name, {"team": "ml"})
        s.wrote("UpdateServiceLabel", name)
    for round_ in range(7):  # 7 x 10 x (read + write) = 140 calls
        for name in SERVICES:
            await s.read(name)
            await s.release(name, traffic_state=TrafficState.STANDALONE if round_ % 2 else TrafficState.GROUPING)
    for name in SERVICES:  # 10 deletes
        await h.client.delete_service(name)
        s.wrote("DeleteService", name)
    for group in ("ga", "gb"):  # 8 listings
        for _ in range(4):
            assert len([x async for x in h.client.list_services(group_name=group)]) == 5
            s.calls += 1
    return s


@pytest.mark.parametrize("kind", ["embedded", "served"])
async def test_writes_land_exactly_once_under_faults(kind: str, tmp_path: Path) -> None:
    # x-acs-retry-after is in milliseconds on both sides (the client's default unit).
    retry = RetrySettings(attempts=12, rate_limit=0)
    async with emulated(kind, tmp_path, retry=retry) as h:
        await h.fault(operation="*", kind="throttle", rate=0.3, seed=11)
        await h.fault(operation="*", kind="error503", rate=0.1, seed=12)
        script = await run_sequence(h)
        faults = (await h.admin.get("/_emulator/faults")).json()["Faults"]
        events = (await h.history())["Events"]

    assert script.calls == 200
    applied = Counter((e["action"], e["service"] or e["detail"].get("Name", e["group"]))
                      for e in events if e["kind"] == "write")
    assert sum(applied.values()) == sum(script.writes.values()) == 122
    assert applied == script.writes
    stats = h.client.stats
    fired = {f["kind"]: f["fired"] for f in faults}
    assert fired["throttle"] > 40 and fired["error503"] > 5
    assert stats.retries == fired["throttle"] + fired["error503"]
    assert sum(stats.round_trips.values()) == 200 + stats.retries  # every listing fits one page
    throttle_waits = [s for s in h.fake_time.sleeps if s == pytest.approx(0.1)]  # retry_after_ms=100
    assert len(throttle_waits) >= fired["throttle"], "x-acs-retry-after was not honoured"


@pytest.mark.parametrize("kind", ["embedded", "served"])
async def test_dropped_connections_retry_idempotent_calls_only(kind: str, tmp_path: Path) -> None:
    async with emulated(kind, tmp_path, retry=RetrySettings(rate_limit=0)) as h:
        s = Script(h.client)
        await s.create("svc_a", "ga")
        await h.fault(operation="ReleaseService", kind="drop", count=2)
        await s.release("svc_a", weight=7)  # two drops, then applied once
        await h.fault(operation="UpdateService", kind="drop", count=1)
        with pytest.raises(TransportError):
            await h.client.update_service("svc_a", {"metadata": {"instance": 2}})
        events = [e for e in (await h.history())["Events"] if e["kind"] == "write"]
    assert [e["action"] for e in events] == ["CreateService", "ReleaseService"]
    assert h.client.stats.round_trips["ReleaseService"] == 3
    assert h.client.stats.round_trips["UpdateService"] == 1


@pytest.mark.parametrize("kind", ["embedded", "served"])
async def test_unknown_outcomes_are_resolved_not_repeated(kind: str, tmp_path: Path) -> None:
    """Faults that strike after the write was applied: the client cannot know it landed, and must not apply it twice."""
    async with emulated(kind, tmp_path, retry=RetrySettings(rate_limit=0)) as h:
        s = Script(h.client)
        await h.fault(operation="CreateService", kind="drop", after=True, count=1)
        await s.create("svc_a", "ga")  # applied, answer cut; the retry hears "already exists", same config: done
        await h.fault(operation="CreateService", kind="error503", after=True, count=1)
        await s.create("svc_b", "ga")
        await h.fault(operation="DeleteService", kind="error500", after=True, count=1)
        await h.client.delete_service("svc_b")  # applied; the repeat is refused while Deleting: resolved as done
        await h.fault(operation="UpdateService", kind="drop", after=True, count=1)
        with pytest.raises(TransportError):  # UNSAFE: never repeated, the caller must read back
            await h.client.update_service("svc_a", {"metadata": {"instance": 2}})
        live = await h.client.describe_service("svc_a")
        events = [e for e in (await h.history())["Events"] if e["kind"] == "write"]
    assert [(e["action"], e["service"]) for e in events] == [
        ("CreateService", "svc_a"), ("CreateService", "svc_b"), ("DeleteService", "svc_b"), ("UpdateService", "svc_a")]
    assert live.config["metadata"]["instance"] == 2
    trips = h.client.stats.round_trips
    assert (trips["CreateService"], trips["DeleteService"], trips["UpdateService"]) == (4, 2, 1)
    assert trips["DescribeService"] == 4  # two create resolutions, one delete resolution, the read-back above

