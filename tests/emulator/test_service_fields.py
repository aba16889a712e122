"""Service fields the SDK declares and the emulator fills from settings or the config."""

from __future__ import annotations

import json
from typing import Any

from alibabacloud_eas20210701 import models as m

from reconciler.emulator.responses import service_wire
from reconciler.emulator.settings import ServiceFieldSettings

from .helpers import REGION, FakeClock, Served, make_backend


def config(name: str, **metadata: Any) -> dict[str, Any]:
    return {"name": name, "processor": "pmml", "model_path": "oss://b/m.pmml",
            "metadata": {"instance": 1, "cpu": 1, "memory": 1000, "group": "fields", **metadata}}


def test_fields_through_the_sdk(sdk: Any, served: Served) -> None:
    for body in (config("fields_async", type="Async", quota_id="quota-1", gateway="gw-123"), config("fields_b")):
        sdk.create_service(m.CreateServiceRequest(body=json.dumps(body)))
    got = sdk.describe_service(REGION, "fields_async").body
    assert (got.source, got.role, got.quota_id, got.gateway) == ("openapi", "", "quota-1", "gw-123")
    assert json.loads(got.extra_data) == {"blue_green_services": ["fields_async", "fields_b"]}
    assert got.secondary_internet_endpoint == f"{served.base_url}/api/predict/fields.fields_async/sync"
    assert got.secondary_intranet_endpoint == got.secondary_internet_endpoint
    plain = sdk.describe_service(REGION, "fields_b").body
    assert (plain.secondary_internet_endpoint, plain.quota_id, plain.gateway) == ("", "", "")
    listed = sdk.list_services(m.ListServicesRequest(service_name="fields_async")).body.services[0]
    assert listed.gateway == "gw-123" and not listed.extra_data  # ExtraData and endpoints: DescribeService only


def test_every_choice_is_a_setting(clock: FakeClock) -> None:
    fields = ServiceFieldSettings(source="dsw", role="Queue", async_types=(), extra_data_members=False,
                                  gateway_keys=(("networking", "gateway"),), zones=("x",))
    backend = make_backend(clock, service_fields=fields)
    body = {**config("one", type="Async", gateway="gw-ignored"), "networking": {"gateway": "gw-net"}}
    backend.create_service(body, {})
    wire = service_wire(backend.describe_service(REGION, "one"), "h", detail=True, tokens=backend.tokens,
                        fields=fields)
    assert (wire["Source"], wire["Role"], wire["Gateway"]) == ("dsw", "Queue", "gw-net")
    assert (wire["ExtraData"], wire["SecondaryInternetEndpoint"]) == ("", "")
    clock.advance(5)
    rows, _ = backend.list_service_instances(REGION, "one", {}, 1, 10)
    assert [r["Zone"] for r in rows] == [f"{REGION}-x"]


def enabled(backend: Any, name: str) -> bool:
    flag: bool = service_wire(backend.describe_service(REGION, name), "h", tokens=backend.tokens)["AutoscalerEnabled"]
    return flag


def test_autoscaler_enabled_follows_the_config(clock: FakeClock) -> None:
    backend = make_backend(clock)
    scaled = {**config("auto"), "autoscaler": {"min": 1, "max": 2, "strategies": {"qps": 3}}}
    backend.create_service(scaled, {})
    backend.create_service(config("fixed"), {})
    assert enabled(backend, "auto") is True
    assert enabled(backend, "fixed") is False
    backend.update_service(REGION, "fixed", {"autoscaler": {"min": 1, "max": 3, "strategies": {"qps": 1}}})
    assert enabled(backend, "fixed") is True


def test_instance_count_in_resource_splits_mixed_placements(clock: FakeClock) -> None:
    backend = make_backend(clock)
    mixed = {**config("mixed", instance=5, resource="eas-r-abc"),
             "cloud": {"computing": {"instances": [{"type": "dedicated_resource", "capacity": "40%"},
                                                   {"type": "ecs.c7.large"}]}}}
    backend.create_service(mixed, {})
    clock.advance(30)
    wire = service_wire(backend.describe_service(REGION, "mixed"), "h", tokens=backend.tokens)
    assert wire["InstanceCountInResource"] == {"Dedicated": 2, "Public": 3, "Quota": 0}
    rows, total = backend.list_service_instances(REGION, "mixed", {"ResourceType": "DedicatedResource"}, 1, 10)
    assert total == 2 and {r["InstanceType"] for r in rows} == {""}
