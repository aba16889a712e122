"""The pmml scenario through EasClient on the embedded and the served emulator (emulated clock, no sleeps)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.desired.model import TrafficMode, TrafficState
from reconciler.eas.models import SafetyLock
from reconciler.errors import ConflictError, NotFoundError

from .emulated import Harness, emulated

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("loopback_credentials")]
GROUPING, STANDALONE = TrafficState.GROUPING, TrafficState.STANDALONE


def pmml_config(name: str, replicas: int, model: str) -> dict[str, object]:
    return {"name": name, "processor": "pmml", "model_path": f"oss://examplebucket/models/{model}.pmml",
            "metadata": {"group": "pmml", "instance": replicas, "cpu": 1, "memory": 1000}}


async def listed(h: Harness) -> dict[str, tuple[str, int | None, int]]:
    """service -> (traffic state, listed weight, running instances)."""
    return {s.service_name: (s.traffic_state, s.weight, s.running_instance)
            async for s in h.client.list_services(group_name="pmml")}


async def weights(h: Harness) -> tuple[int | None, int | None]:
    now = await listed(h)
    return now["pmml_prod"][1], now["pmml_grey"][1]


async def gateway_counts(h: Harness, n: int) -> dict[str, int]:
    """n requests to the group endpoint: how many each member answered."""
    counts: dict[str, int] = {}
    token = (await h.client.describe_group("pmml")).access_token  # the group's token, as a caller gets it
    for _ in range(n):
        answer = await h.admin.post("/api/predict/pmml", content=b"{}", headers={"Authorization": token})
        assert answer.status_code == 200, answer.text
        counts[answer.json()["service"]] = counts.get(answer.json()["service"], 0) + 1
    return counts


@pytest.mark.parametrize("initial", ["standalone", "grouping"])
@pytest.mark.parametrize("kind", ["embedded", "served"])
async def test_pmml_scenario(kind: str, initial: str, tmp_path: Path) -> None:
    async with emulated(kind, tmp_path, initial_traffic_state=initial) as h:
        c = h.client
        await c.create_service(pmml_config("pmml_prod", 4, "lr_v2"))
        await c.create_service(pmml_config("pmml_grey", 1, "lr_v3"))
        assert (await c.describe_group("pmml")).name == "pmml"
        assert set(await listed(h)) == {"pmml_prod", "pmml_grey"}

        await h.advance(30)  # instances come up on the emulated clock
        assert {s: v[2] for s, v in (await listed(h)).items()} == {"pmml_prod": 4, "pmml_grey": 1}

        await c.release_service("pmml_prod", traffic_state=GROUPING)
        await c.release_service("pmml_grey", traffic_state=GROUPING)
        assert await weights(h) == (80, 20)

        await c.release_service("pmml_grey", traffic_state=STANDALONE)
        assert await weights(h) == (100, 0)
        assert (await listed(h))["pmml_grey"][0] == "standalone"
        grey_token = (await c.describe_service("pmml_grey")).access_token
        direct = await h.admin.post("/api/predict/pmml.pmml_grey", content=b"{}", headers={"Authorization": grey_token})
        assert (direct.status_code, direct.json()["service"]) == (200, "pmml_grey")  # still answers directly
        assert await gateway_counts(h, 100) == {"pmml_prod": 100}

        await c.release_service("pmml_grey", traffic_state=GROUPING)
        assert await weights(h) == (80, 20)

        await c.release_service("pmml_prod", weight=100)  # set weights while still auto: shares unchanged
        await c.release_service("pmml_grey", weight=400)
        assert await weights(h) == (80, 20)
        await c.update_group("pmml", traffic_mode=TrafficMode.CUSTOMIZED)
        assert (await c.describe_group("pmml")).mode is TrafficMode.CUSTOMIZED
        assert await weights(h) == (100, 400)
        # The proof's 10,000 requests once (in-process); elsewhere one round of smooth WRR (exact per 500)
        n = 10_000 if (kind, initial) == ("embedded", "standalone") else 500
        counts = await gateway_counts(h, n)
        assert abs(counts["pmml_prod"] / n - 0.20) <= 0.01 and abs(counts["pmml_grey"] / n - 0.80) <= 0.01

        await c.delete_service("pmml_grey")
        await c.delete_service("pmml_prod")
        await h.advance(30)
        with pytest.raises(NotFoundError):
            await c.describe_group("pmml")
        assert [g.name async for g in c.list_groups()] == []
        assert c.stats.retries == 0  # (sleeps here are the rate limit: 23 calls, burst 20, frozen clock)
        assert c.stats.writes == 11


async def test_every_operation_against_the_emulator(tmp_path: Path) -> None:
    async with emulated("embedded", tmp_path) as h:
        c = h.client
        await c.create_group("solo", labels={"team": "ml"})
        assert (await c.describe_group("solo")).labels == {"team": "ml"}
        for i in range(5):
            await c.create_service({**pmml_config(f"svc_{i}", 1, "m"), "metadata": {"group": "solo", "instance": 1}},
                                   labels={"idx": str(i)})
        await h.advance(30)
        names = [s.service_name async for s in c.list_services(group_name="solo", page_size=2)]
        assert sorted(names) == [f"svc_{i}" for i in range(5)] and c.stats.round_trips["ListServices"] == 3
        assert [s.service_name async for s in c.list_services(label={"idx": "3"})] == ["svc_3"]
        await c.release_service("svc_0", traffic_state=GROUPING)
        assert [s.service_name async for s in c.list_services(traffic_state=GROUPING)] == ["svc_0"]
        assert len([s async for s in c.list_services(service_status="Running")]) == 5

        await c.update_service("svc_0", {"metadata": {"instance": 2}})  # scale only: no new version
        await c.update_service("svc_0", {"model_path": "oss://b/v2.pmml"})
        svc = await c.describe_service("svc_0")
        assert svc.config["metadata"]["instance"] == 2 and svc.latest_version == 2
        await h.advance(30)
        versions = await c.list_service_versions("svc_0")
        assert sorted(v.image_id for v in versions) == [1, 2]
        await c.update_service_version("svc_0", 1)
        await h.advance(30)
        assert (await c.describe_service("svc_0")).config["model_path"] == "oss://examplebucket/models/m.pmml"
        assert (await c.describe_service_event("svc_0")).events

        await c.update_service_label("svc_1", {"a": "1", "b": "2"})
        await c.delete_service_label("svc_1", ["a"])
        assert (await c.describe_service("svc_1")).labels == {"idx": "1", "b": "2"}

        await c.update_service_safety_lock("svc_2", SafetyLock.DANGEROUS)
        with pytest.raises(ConflictError):
            await c.delete_service("svc_2")
        await c.update_service_safety_lock("svc_2", SafetyLock.NONE)
        await c.stop_service("svc_2")
        await h.advance(30)
        assert (await c.describe_service("svc_2")).status == "Stopped"
        await c.start_service("svc_2")
        await h.advance(30)
        assert (await c.describe_service("svc_2")).status == "Running"

        endpoints = await c.describe_group_endpoints("solo")
        assert any("/api/predict/solo" in url for e in endpoints.endpoints for url in e.internet_endpoints)
        with pytest.raises(ConflictError):
            await c.delete_group("solo")  # members left, no cascade
        await c.delete_group("solo", cascade=True)
        await h.advance(30)
        assert [s async for s in c.list_services()] == []
        with pytest.raises(NotFoundError):
            await c.describe_group("solo")
