"""Model <-> EAS service config: the typed keys, the pass-through, and what cannot be imported."""

from __future__ import annotations

from typing import Any

import pytest

from desired.helpers import EXAMPLES
from reconciler.desired.eas_config import (
    TYPED_PATHS,
    declared_paths,
    deep_merge,
    from_eas_config,
    to_eas_config,
    value_at,
)
from reconciler.desired.loader import load_paths
from reconciler.desired.model import ServiceGroup, TrafficState
from reconciler.errors import SpecError


@pytest.fixture(scope="module")
def groups() -> dict[str, ServiceGroup]:
    return {g.name: g.group for g in load_paths([EXAMPLES])}


def config_of(groups: dict[str, ServiceGroup], group: str, service: str) -> dict[str, Any]:
    g = groups[group]
    s = g.service(service)
    assert s is not None
    return to_eas_config(g, s)


def test_pmml_member_config(groups: dict[str, ServiceGroup]) -> None:
    assert config_of(groups, "pmml", "pmml_grey") == {
        "name": "pmml_grey",
        "metadata": {"cpu": 1, "memory": 1000, "group": "pmml", "instance": 1, "rpc": {"keepalive": 5000}},
        "model_path": "oss://examplebucket/models/lr_v3.pmml",
        "processor": "pmml",
    }


def test_dedicated_and_autoscaled_public_members(groups: dict[str, ServiceGroup]) -> None:
    base = config_of(groups, "recsys", "recsys_base")
    assert base["metadata"] == {"cpu": 8, "memory": 16000, "resource": "eas-r-recsys01", "group": "recsys",
                                "instance": 6, "workspace_id": "123456"}
    assert "cloud" not in base and "autoscaler" not in base
    burst = config_of(groups, "recsys", "recsys_burst")
    assert burst["cloud"] == {"computing": {"instance_type": "ecs.c7.2xlarge"}}
    assert burst["metadata"]["instance"] == 0  # starts at the autoscaler's min
    assert burst["autoscaler"] == {
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},  # from config, merged
        "min": 0, "max": 10, "strategies": {"qps": 200},  # the documented service-config form
    }


def test_several_spot_types_and_containers(groups: dict[str, ServiceGroup]) -> None:
    cfg = config_of(groups, "llm_chat", "llm_chat_t4")
    assert cfg["cloud"] == {"computing": {"instances": [
        {"type": "ecs.gn6i-c4g1.xlarge", "spot_price_limit": 3.5},
        {"type": "ecs.gn6i-c8g1.2xlarge", "spot_price_limit": 3.5},
    ]}}
    assert cfg["containers"] == [{"image": "registry.cn-beijing.aliyuncs.com/example/llm-server:2.1",
                                  "command": "/app/start.sh --model /models/chat", "port": 8000}]
    assert cfg["storage"][0]["mount_path"] == "/models/chat"
    assert "cpu" not in cfg["metadata"]


def test_typed_fields_win_over_config(groups: dict[str, ServiceGroup]) -> None:
    g = groups["pmml"]
    s = g.spec.services[0].model_copy(update={"config": {"metadata": {"instance": 99, "disk": "30Gi"}, "name": "x"}})
    cfg = to_eas_config(g, s)
    assert cfg["metadata"]["instance"] == 4 and cfg["metadata"]["disk"] == "30Gi" and cfg["name"] == "pmml_prod"


def test_deep_merge_does_not_touch_its_inputs() -> None:
    base = {"a": {"b": 1, "c": [1]}}
    overlay = {"a": {"b": 2}, "d": 3}
    assert deep_merge(base, overlay) == {"a": {"b": 2, "c": [1]}, "d": 3}
    assert base == {"a": {"b": 1, "c": [1]}} and overlay == {"a": {"b": 2}, "d": 3}


def test_declared_paths_are_leaves_lists_whole_and_dotted_keys_kept() -> None:
    cfg = {"name": "x", "metadata": {"instance": 1, "rpc": {"keepalive": 5}}, "storage": [{"a": 1}],
           "features": {"eas.aliyun.com/enable-rollout": "true"}, "options": {}}
    assert declared_paths(cfg) == {("name",), ("metadata", "instance"), ("metadata", "rpc", "keepalive"),
                                   ("storage",), ("features", "eas.aliyun.com/enable-rollout"), ("options",)}
    assert value_at(cfg, ("metadata", "rpc", "keepalive")) == (True, 5)
    assert value_at(cfg, ("metadata", "gpu")) == (False, None)


def test_every_written_key_is_typed_or_comes_from_config(groups: dict[str, ServiceGroup]) -> None:
    for g in groups.values():
        for s in g.spec.services:
            written = declared_paths(to_eas_config(g, s.model_copy(update={"config": {}})))
            assert all(any(p[: len(t)] == t for t in TYPED_PATHS) for p in written), written


def test_import_of_a_documented_image_config() -> None:
    """The CreateService doc's image example, with a group."""
    config = {"name": "foo", "metadata": {"instance": 2, "memory": 7000, "cpu": 4, "group": "g"},
              "containers": [{"image": "registry/foo:1", "script": "python app.py", "port": 8000}],
              "storage": [{"oss": {"path": "oss://b/d/"}, "mount_path": "/data"}]}
    group, spec = from_eas_config(config, traffic=TrafficState.STANDALONE, weight=None, labels={"team": "a"})
    assert group == "g"
    assert (spec.name, spec.replicas, spec.traffic, spec.labels) == ("foo", 2, TrafficState.STANDALONE, {"team": "a"})
    assert spec.containers is not None and spec.containers[0].script == "python app.py"
    assert spec.containers[0].command is None  # script stays script: the two keys never trade places
    assert spec.config == {"storage": config["storage"]}
    assert config["metadata"]["group"] == "g"  # the input is not modified


def test_import_reads_the_newer_metadata_name_and_drops_instance_under_an_autoscaler() -> None:
    config = {"metadata": {"name": "bar", "instance": 7, "cpu": 2, "memory": 4000},
              "model_path": "oss://b/m", "processor": "pmml",
              "autoscaler": {"min": 1, "max": 5, "strategies": {"cpu": 60}}}
    group, spec = from_eas_config(config, traffic=TrafficState.GROUPING, weight=300, labels={})
    assert group is None and spec.name == "bar" and spec.weight == 300
    assert spec.replicas is None and spec.autoscaling is not None
    assert (spec.autoscaling.min, spec.autoscaling.metric, spec.autoscaling.threshold) == (1, "cpu", 60)
    assert spec.config == {}


@pytest.mark.parametrize("instances", [
    [{"type": "a", "size": 1}],
    [{"spot_price_limit": 1}],
    ["a"],
    [],
])
def test_import_refuses_what_the_model_cannot_say(instances: list[Any]) -> None:
    config = {"name": "x", "metadata": {"instance": 1}, "model_path": "m", "processor": "p",
              "cloud": {"computing": {"instances": instances}}}
    with pytest.raises(SpecError) as info:
        from_eas_config(config, traffic=TrafficState.GROUPING, weight=None, labels={})
    assert "cloud.computing.instances" in info.value.problems[0].message


def test_import_of_a_config_without_code_is_a_spec_error() -> None:
    with pytest.raises(SpecError) as info:
        from_eas_config({"name": "x", "metadata": {"instance": 1, "cpu": 1, "memory": 10}},
                        traffic=TrafficState.GROUPING, weight=None, labels={})
    assert "does not fit the model" in info.value.problems[0].message


def _member(**fields: Any) -> tuple[ServiceGroup, Any]:
    doc = {"apiVersion": "eas-gitops/v1", "kind": "ServiceGroup", "metadata": {"name": "g", "region": "cn-shanghai"},
           "spec": {"services": [{"name": "m", "replicas": 2, "model": {"path": "oss://b/m", "processor": "pmml"},
                                  **fields}]}}
    group = ServiceGroup.model_validate(doc)
    return group, group.spec.services[0]


def _round_trip(config: dict[str, Any]) -> dict[str, Any]:
    """Import a live config and write it again (what `import` then `plan` compares)."""
    _, spec = from_eas_config(config, traffic=TrafficState.GROUPING, weight=None, labels={})
    group, _ = _member(resources={"cpu": 1, "memory": 100})
    return to_eas_config(group, spec)


@pytest.mark.parametrize("instances", [
    [{"type": "dedicated_resource", "capacity": 4}, {"type": "ecs.c7.large", "capacity": "20%"}],
    [{"type": "ecs.a", "spot_price_limit": 1}, {"type": "ecs.b"}],  # spot first, then on demand
    [{"type": "ecs.a", "spot_price_limit": 1}, {"type": "ecs.b", "spot_price_limit": 2}],
    [{"type": "ecs.a", "capacity": 3}],
    [{"type": "ecs.a"}],  # one entry without spot: a list, not cloud.computing.instance_type
    [{"type": "ecs.a"}, {"type": "ecs.b"}],  # the short spelling instance_types
    [{"type": "ecs.a", "spot_price_limit": 2.5}],  # the short spelling spot + instance_type
])
def test_live_instances_lists_import_and_come_back_unchanged(instances: list[dict[str, Any]]) -> None:
    resource = {"resource": "eas-r-abc"} if instances[0]["type"] == "dedicated_resource" else {}
    config = {"name": "m", "metadata": {"instance": 2, "cpu": 2, "memory": 4000, "group": "g", **resource},
              "model_path": "oss://b/m", "processor": "pmml", "cloud": {"computing": {"instances": instances}}}
    assert _round_trip(config) == config


def test_short_spellings_are_used_when_they_say_the_same_list() -> None:
    _, spec = from_eas_config({"name": "m", "metadata": {"instance": 1}, "model_path": "m", "processor": "p",
                               "cloud": {"computing": {"instances": [{"type": "a"}, {"type": "b"}]}}},
                              traffic=TrafficState.GROUPING, weight=None, labels={})
    assert spec.resources.instance_types == ["a", "b"] and spec.resources.instances is None
    _, spec = from_eas_config({"name": "m", "metadata": {"instance": 1}, "model_path": "m", "processor": "p",
                               "cloud": {"computing": {"instances": [{"type": "a", "capacity": 2}]}}},
                              traffic=TrafficState.GROUPING, weight=None, labels={})
    assert spec.resources.instances is not None and spec.resources.instances[0].capacity == 2


def test_command_and_script_map_one_to_one() -> None:
    group, service = _member(resources={"cpu": 1, "memory": 100}, model=None, containers=[
        {"image": "i:1", "command": "python app.py"}, {"image": "i:2", "script": "cd /app && ./run.sh"}])
    assert to_eas_config(group, service)["containers"] == [
        {"image": "i:1", "command": "python app.py"}, {"image": "i:2", "script": "cd /app && ./run.sh"}]


def test_the_autoscaler_api_list_form_of_older_configs_is_read() -> None:
    config = {"name": "m", "metadata": {"instance": 3, "cpu": 1, "memory": 9}, "model_path": "m", "processor": "p",
              "autoscaler": {"min": 1, "max": 4, "scaleStrategies": [{"metricName": "qps", "threshold": 9}]}}
    _, spec = from_eas_config(config, traffic=TrafficState.GROUPING, weight=None, labels={})
    assert spec.autoscaling is not None and (spec.autoscaling.metric, spec.autoscaling.threshold) == ("qps", 9)


def test_several_autoscaler_strategies_cannot_be_imported() -> None:
    config = {"name": "m", "metadata": {"instance": 3, "cpu": 1, "memory": 9}, "model_path": "m", "processor": "p",
              "autoscaler": {"min": 1, "max": 4, "strategies": {"qps": 9, "cpu": 50}}}
    with pytest.raises(SpecError) as info:
        from_eas_config(config, traffic=TrafficState.GROUPING, weight=None, labels={})
    assert "not exactly one metric" in info.value.problems[0].message
    del config["autoscaler"]["strategies"]["cpu"]  # one strategy: fine
    assert from_eas_config(config, traffic=TrafficState.GROUPING, weight=None, labels={})[1].autoscaling


@pytest.mark.parametrize(("resources", "containers", "message"), [
    ({"cpu": 1, "memory": 9}, [{"image": "i", "command": "a", "script": "b"}], "command or script, not both"),
    ({"instances": [{"type": "a", "capacity": 0}]}, None, "neither a count"),
    ({"instances": [{"type": "a", "capacity": "120%"}]}, None, "neither a count"),
    ({"instances": [{"type": "a", "capacity": True}]}, None, "valid integer"),
    ({"instances": [{"type": "dedicated_resource"}]}, None, "go together"),
    ({"resource_group": "eas-r-a", "instances": [{"type": "a"}]}, None, "go together"),
    ({"instances": [{"type": "a"}], "instance_type": "b"}, None, "cannot be combined with instance_type"),
    ({"instances": [{"type": "a"}], "spot": True}, None, "cannot be combined with spot"),
    ({"resource_group": "eas-r-a", "instances": [{"type": "dedicated_resource", "spot_price_limit": 1}]}, None,
     "cannot bid for spot"),
])
def test_instances_and_container_rules(resources: dict[str, Any], containers: Any, message: str) -> None:
    code = {"containers": containers, "model": None} if containers else {}
    with pytest.raises(ValueError, match=message):
        _member(resources=resources, **code)
