"""The pmml scenario through EasClient on the embedded and the served emulator (emulated clock, no sleeps)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import NotFoundError
from reconciler.spec.model import TrafficMode, TrafficState

from .emulated import Harness, emulated

pytestmark = pytest.mark.anyio
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


@pytest.mark.parametrize("initial", ["standalone", "grouping"])
@pytest.mark.parametrize("kind", ["embedded", "served"])
async def test_pmml_scenario(kind: str, initial: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_ID", raising=False)
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

        await c.release_service("pmml_grey", traffic_state=GROUPING)
        assert await weights(h) == (80, 20)

        await c.release_service("pmml_prod", weight=100)  # set weights while still auto: shares unchanged
        await c.release_service("pmml_grey", weight=400)
        assert await weights(h) == (80, 20)
        await c.update_group("pmml", traffic_mode=TrafficMode.CUSTOMIZED)
        assert (await c.describe_group("pmml")).mode is TrafficMode.CUSTOMIZED
        assert await weights(h) == (100, 400)

        await c.delete_service("pmml_grey")
        await c.delete_service("pmml_prod")
        await h.advance(30)
        with pytest.raises(NotFoundError):
            await c.describe_group("pmml")
        assert [g.name async for g in c.list_groups()] == []
        assert c.stats.retries == 0  # (sleeps here are the rate limit: 23 calls, burst 20, frozen clock)
        assert c.stats.writes == 11
