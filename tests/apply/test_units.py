"""Small pure pieces of apply: secret references, read-back expectations, the virtual timer."""

from __future__ import annotations

import asyncio
import json

import pytest

from reconciler.apply.observe import unmet
from reconciler.apply.runtime import VirtualTimer
from reconciler.apply.secrets import check_env, references, resolve
from reconciler.desired.model import TrafficMode, TrafficState
from reconciler.eas.models import Service
from reconciler.errors import ConfigError
from reconciler.live.model import ServiceStatus
from reconciler.plan.model import Action, Expect


def test_references_are_found_anywhere_and_resolved_only_from_the_environment() -> None:
    config = {"a": "Bearer ${env:TOKEN}", "b": [{"c": "${env:DB_PASS}"}, 3], "d": "plain"}
    assert sorted(references(config)) == ["DB_PASS", "TOKEN"]
    env = {"TOKEN": "t0k", "DB_PASS": "pw"}
    assert resolve(config, env) == {"a": "Bearer t0k", "b": [{"c": "pw"}, 3], "d": "plain"}
    assert config["a"] == "Bearer ${env:TOKEN}"  # the plan's copy keeps the reference
    with pytest.raises(ConfigError, match="DB_PASS") as info:
        resolve(config, {"TOKEN": "t0k"})
    assert "t0k" not in str(info.value)


def service(**fields: object) -> Service:
    base: dict[str, object] = {"ServiceName": "s", "Status": "Running", "RunningInstance": 2, "TotalInstance": 2,
                               "TrafficState": "grouping", "Weight": 40, "CurrentVersion": 3,
                               "ServiceConfig": json.dumps({"metadata": {"instance": 2}})}
    return Service.model_validate({**base, **fields})


def test_unmet_names_the_first_missing_fact() -> None:
    assert unmet(Expect(status=ServiceStatus.RUNNING, running=2, min_version=3), service(), TrafficMode.AUTO) is None
    assert "1 running" in (unmet(Expect(running=2), service(RunningInstance=1), TrafficMode.AUTO) or "")
    assert "version 3" in (unmet(Expect(min_version=4), service(), TrafficMode.AUTO) or "")
    assert unmet(Expect(traffic_state=TrafficState.STANDALONE), service(), None) is not None
    # In auto mode the listed weight is a share: a stored weight cannot be checked.
    assert unmet(Expect(weight=100), service(), TrafficMode.AUTO) is None
    assert unmet(Expect(weight=100), service(), TrafficMode.CUSTOMIZED) == "weight 40, want 100"
    assert unmet(Expect(exists=False), None, None) is None
    assert unmet(Expect(exists=False), service(Status="Deleting"), None) is not None


def test_check_env_lists_every_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.plan.model import CreateParams, GroupPlan, GroupStatus, Plan, Step

    step = Step(index=1, action=Action.CREATE_SERVICE, service="s",
                params=CreateParams(config={"x": "${env:B}", "y": "${env:A}"}, labels={}, replicas=1))
    plan = Plan(live_fingerprint="sha256:x", groups=(GroupPlan(region="r", name="g", status=GroupStatus.CREATE,
                                                                mode_before=None, mode_after=None, steps=(step,)),))
    with pytest.raises(ConfigError, match="A, B"):
        check_env(plan, {})
    check_env(plan, {"A": "", "B": "1"})


def test_virtual_time_moves_only_when_everyone_waits() -> None:
    timer = VirtualTimer(start=0.0)
    order: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await timer.sleep(seconds)
        order.append((name, timer.now()))

    async def busy() -> None:
        for _ in range(50):
            await asyncio.sleep(0)  # runnable work: time must not move meanwhile
        order.append(("busy", timer.now()))

    async def main() -> None:
        await asyncio.gather(sleeper("late", 5), sleeper("early", 2), busy())

    asyncio.run(main())
    assert order == [("busy", 0.0), ("early", 2.0), ("late", 5.0)]
    assert timer.slept == 5.0


def test_live_progress_keeps_one_row_per_group_with_its_current_step() -> None:
    from reconciler.apply.report import Event, EventKind
    from reconciler.cli.apply import LiveProgress
    from reconciler.plan.model import Step, WaitParams

    now = [100.0]
    step = Step(index=3, action=Action.WAIT_RUNNING, service="pmml_prod", params=WaitParams(replicas=4))
    progress = LiveProgress(clock=lambda: now[0])
    progress(Event(EventKind.GROUP_START, "cn-shanghai", "pmml", total_steps=6))
    now[0] = 102.5
    progress(Event(EventKind.STEP_START, "cn-shanghai", "pmml", step=step, total_steps=6, elapsed=2.5))
    progress(Event(EventKind.GROUP_START, "cn-shanghai", "ranker", total_steps=9))
    now[0] = 104.0
    rows = [[cell for cell in column.cells] for column in progress._table().columns]
    assert rows == [["cn-shanghai/pmml", "cn-shanghai/ranker"], ["3/6 wait_running pmml_prod", "starting"],
                    ["4.0s", "1.5s"]]  # elapsed ticks between events


def test_aliyun_smoke_goes_to_the_members_direct_path_with_its_token() -> None:
    import httpx

    from reconciler.apply.runtime import aliyun_smoke
    from reconciler.eas.client import EasClient
    from reconciler.eas.transport import Caller

    seen: list[httpx.Request] = []

    def api(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v2/services/cn-shanghai/pmml_grey"
        return httpx.Response(200, json={"ServiceName": "pmml_grey", "AccessToken": "tok123",
                                         "InternetEndpoint": "http://1234.cn-shanghai.pai-eas.aliyuncs.com/api/predict/x"})

    def gateway(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    async def go() -> int:
        async with (httpx.AsyncClient(transport=httpx.MockTransport(api), base_url="https://pai-eas") as mgmt,
                    httpx.AsyncClient(transport=httpx.MockTransport(gateway)) as http):
            smoke = aliyun_smoke(EasClient(Caller(mgmt), "cn-shanghai"), http)
            return await smoke("pmml", "pmml_grey", "/health", '{"x": 1}')

    assert asyncio.run(go()) == 200
    assert str(seen[0].url) == "http://1234.cn-shanghai.pai-eas.aliyuncs.com/api/predict/pmml.pmml_grey/health"
    assert seen[0].headers["authorization"] == "tok123" and seen[0].method == "POST"


def test_a_waiter_cancelled_during_a_listing_does_not_break_the_others() -> None:
    from collections.abc import AsyncIterator
    from typing import Any, cast

    from reconciler.apply.observe import Observer
    from reconciler.eas.client import EasClient

    class SlowLister:
        region = "cn-shanghai"

        def __init__(self) -> None:
            self.listing = asyncio.Event()
            self.go_on = asyncio.Event()
            self.calls = 0

        async def list_services(self, **_: Any) -> AsyncIterator[Service]:
            self.calls += 1
            self.listing.set()
            await self.go_on.wait()
            for name, grp in (("a", "g1"), ("b", "g2")):
                yield service(ServiceName=name, ServiceGroup=grp)

    async def main() -> None:
        lister = SlowLister()
        observer = Observer(cast(EasClient, lister), VirtualTimer(), interval=1.0)
        ready = Expect(status=ServiceStatus.RUNNING)
        a = asyncio.ensure_future(observer.wait("a", "g1", lambda s: unmet(ready, s, None), timeout=60))
        b = asyncio.ensure_future(observer.wait("b", "g2", lambda s: unmet(ready, s, None), timeout=60))
        await lister.listing.wait()
        a.cancel()
        lister.go_on.set()
        found = await asyncio.wait_for(b, timeout=5)  # real seconds: a broken poller would hang here
        assert found is not None and found.service_name == "b"
        assert a.cancelled() and lister.calls == 1

    asyncio.run(main())
