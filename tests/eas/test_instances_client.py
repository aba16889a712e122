"""EasClient's autoscaler, restart and instance calls against the embedded and the served emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import ConflictError, NotFoundError

from .emulated import emulated

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("loopback_credentials")]


def config(name: str, replicas: int, **extra: object) -> dict[str, object]:
    return {"name": name, "processor": "pmml", "model_path": "oss://b/m.pmml",
            "metadata": {"group": "scaled", "instance": replicas, "cpu": 1, "memory": 1000}, **extra}


@pytest.mark.parametrize("kind", ["embedded", "served"])
async def test_autoscaler_calls_round_trip(kind: str, tmp_path: Path) -> None:
    async with emulated(kind, tmp_path) as h:
        c = h.client
        await c.create_service(config("sa", 1))
        assert not (await c.describe_service("sa")).autoscaler_enabled
        await c.create_service_autoscaler("sa", min=2, max=5, strategies={"qps": 10},
                                          behavior={"scaleDown": {"stabilizationWindowSeconds": 60}})
        live = await c.describe_service("sa")
        assert live.autoscaler_enabled and live.total_instance == 2  # raised to min at once
        assert live.config["autoscaler"]["strategies"] == {"qps": 10}
        scaler = await c.describe_service_autoscaler("sa")
        assert (scaler.min_replica, scaler.max_replica, scaler.strategies) == (2, 5, {"qps": 10})
        assert scaler.behavior == {"scaleDown": {"stabilizationWindowSeconds": 60}}
        with pytest.raises(ConflictError):  # a second Create, outcome known: refused, not resolved
            await c.create_service_autoscaler("sa", min=1, max=3, strategies={"qps": 1})
        await c.update_service_autoscaler("sa", min=1, max=3, strategies={"cpu": 70})
        assert (await c.describe_service_autoscaler("sa")).strategies == {"cpu": 70}
        await c.delete_service_autoscaler("sa")
        assert not (await c.describe_service("sa")).autoscaler_enabled
        with pytest.raises(NotFoundError):
            await c.describe_service_autoscaler("sa")


async def test_autoscaler_writes_resolve_an_unknown_outcome(tmp_path: Path) -> None:
    async with emulated("embedded", tmp_path) as h:
        c = h.client
        await c.create_service(config("sb", 1))
        await h.fault(operation="CreateServiceAutoScaler", kind="drop", after=True, count=1)
        await c.create_service_autoscaler("sb", min=1, max=4, strategies={"qps": 5})  # applied, answer lost
        assert (await c.describe_service_autoscaler("sb")).max_replica == 4
        await h.fault(operation="DeleteServiceAutoScaler", kind="drop", after=True, count=1)
        await c.delete_service_autoscaler("sb")  # the repeat answers NotFound: done
        assert not (await c.describe_service("sb")).autoscaler_enabled


@pytest.mark.parametrize("kind", ["embedded", "served"])
async def test_restart_and_instances(kind: str, tmp_path: Path) -> None:
    async with emulated(kind, tmp_path) as h:
        c = h.client
        computing = {"instances": [{"type": "ecs.g7.large", "capacity": 1, "spot_price_limit": 0.5},
                                   {"type": "ecs.c7.large"}]}
        await c.create_service(config("sc", 3, cloud={"computing": computing}))
        pending = await c.list_service_instances("sc")
        assert [i.status for i in pending] == ["Pending"] * 3
        await h.advance(10)
        instances = await c.list_service_instances("sc", page_size=2)  # two pages
        assert [(i.status, i.instance_type, i.is_spot) for i in instances] == [
            ("Running", "ecs.g7.large", True), ("Running", "ecs.c7.large", False), ("Running", "ecs.c7.large", False)]
        assert [i.zone for i in instances] == ["cn-shanghai-a", "cn-shanghai-b", "cn-shanghai-a"]
        assert len({i.instance_name for i in instances}) == 3
        await c.restart_service("sc")
        assert (await c.describe_service("sc")).status == "Updating"
        await h.advance(10)
        restarted = await c.list_service_instances("sc", instance_status="Running")
        assert [i.restart_count for i in restarted] == [1, 1, 1]
        await c.stop_service("sc")
        with pytest.raises(ConflictError):
            await c.restart_service("sc")
