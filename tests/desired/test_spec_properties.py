"""Property tests: a valid model survives YAML and the EAS config mapping unchanged."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

from desired.helpers import EXAMPLES, SCHEMA_PATH
from reconciler.desired.eas_config import from_eas_config, to_eas_config
from reconciler.desired.loader import load_paths
from reconciler.desired.model import ServiceGroup, TrafficMode, TrafficState
from reconciler.desired.shares import desired_shares, is_black_hole
from reconciler.errors import SpecError

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

names = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 -_./:", min_size=1, max_size=20)
sizes = st.sampled_from([0.5, 1.0, 2.0, 3.5, 8.0])
prices = st.sampled_from([0.25, 1.0, 3.5, 12.0])
types = st.from_regex(r"ecs\.(c7|g7|gn6i|gn7i)-c[0-9]{1,2}g1\.(x|2x|4x)large", fullmatch=True)


@st.composite
def resources(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["dedicated", "sized", "type", "types"]))
    res: dict[str, Any] = {}
    if kind in ("dedicated", "sized"):
        res["cpu"], res["memory"] = draw(sizes), draw(st.integers(1, 64000))
    if kind == "dedicated":
        res["resource_group"] = draw(st.from_regex(r"eas-r-[a-z0-9]{4,10}", fullmatch=True))
        res["gpu"] = draw(st.none() | st.integers(0, 8))
        res["gpu_memory"] = draw(st.none() | st.integers(0, 80))
    elif kind == "type":
        res["instance_type"] = draw(types)
    elif kind == "types":
        res["instance_types"] = draw(st.lists(types, min_size=2, max_size=3, unique=True))
    if kind in ("type", "types") and draw(st.booleans()):
        res["spot"], res["spot_price_limit"] = True, draw(prices)
    return {k: v for k, v in res.items() if v is not None}


@st.composite
def code(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        return {"model": {"path": "oss://bucket/" + draw(names), "processor": draw(names)}}
    container = st.fixed_dictionaries(
        {"image": st.from_regex(r"registry/[a-z]{1,8}:[0-9]{1,3}", fullmatch=True)},
        optional={"port": st.integers(1, 65535), "command": words},
    )
    return {"containers": draw(st.lists(container, min_size=1, max_size=2))}


@st.composite
def service(draw: st.DrawFn, name: str, mode: TrafficMode) -> dict[str, Any]:
    s: dict[str, Any] = {"name": name, "traffic": draw(st.sampled_from(list(TrafficState))),
                         "resources": draw(resources()), **draw(code())}
    if draw(st.booleans()):
        s["replicas"] = draw(st.integers(0, 6))
    else:
        low = draw(st.integers(0, 4))
        s["autoscaling"] = {"min": low, "max": low + draw(st.integers(1, 10)),
                            "metric": draw(st.sampled_from(["qps", "cpu", "gpu[util]"])), "threshold": draw(sizes)}
    if mode is TrafficMode.CUSTOMIZED and (s["traffic"] is TrafficState.GROUPING or draw(st.booleans())):
        s["weight"] = draw(st.integers(0, 1000))
    s["role"] = draw(st.none() | st.sampled_from(["primary", "canary", "burst capacity"]))
    if draw(st.booleans()):
        s["smoke_test"] = {"path": "/" + draw(names), "body": draw(st.none() | words),
                           "expect_status": draw(st.integers(100, 599))}
    s["labels"] = draw(st.dictionaries(st.from_regex(r"[a-z][a-z0-9.-]{0,8}", fullmatch=True), words, max_size=2))
    config = draw(st.fixed_dictionaries({}, optional={
        "token": words, "storage": st.lists(st.fixed_dictionaries({"mount_path": words}), max_size=2),
        "metadata": st.fixed_dictionaries({"rpc": st.fixed_dictionaries({"keepalive": st.integers(1, 10**6)})}),
        "features": st.fixed_dictionaries({"eas.aliyun.com/enable-rollout": st.sampled_from(["true", "false"])}),
    }))
    if "autoscaling" in s and draw(st.booleans()):
        config["autoscaler"] = {"behavior": {"scaleDown": {"stabilizationWindowSeconds": draw(st.integers(0, 900))}}}
    s["config"] = config
    return s


@st.composite
def groups(draw: st.DrawFn) -> ServiceGroup:
    mode = draw(st.sampled_from(list(TrafficMode)))
    member_names = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    metadata: dict[str, Any] = {"name": draw(names), "region": draw(st.sampled_from(["cn-shanghai", "ap-southeast-1"]))}
    if draw(st.booleans()):
        metadata["workspace_id"] = str(draw(st.integers(1, 10**6)))
    group = ServiceGroup.model_validate({
        "apiVersion": "eas-gitops/v1", "kind": "ServiceGroup", "metadata": metadata,
        "spec": {"traffic_mode": mode, "services": [draw(service(n, mode)) for n in member_names]},
    })
    assume(not is_black_hole(desired_shares(group)))
    return group


SCHEMA = Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


@SETTINGS
@given(groups())
def test_model_to_yaml_and_back_is_the_same_model(group: ServiceGroup) -> None:
    data = group.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    # the second validator agrees: what the models accept, the committed JSON Schema accepts
    assert [e.message for e in SCHEMA.iter_errors(data)] == []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "group.yaml"
        with path.open("w", encoding="utf-8") as handle:
            YAML().dump(data, handle)
        loaded = load_paths([path])
    assert loaded.groups[0].group == group


@SETTINGS
@given(groups())
def test_model_to_eas_config_and_back_is_lossless(group: ServiceGroup) -> None:
    for spec in group.spec.services:
        config = to_eas_config(group, spec)
        name, back = from_eas_config(config, traffic=spec.traffic, weight=spec.weight, labels=spec.labels)
        assert name == group.name
        # role and smoke_test live only in the desired state; EAS has no place for them
        assert back == spec.model_copy(update={"role": None, "smoke_test": None})
        assert to_eas_config(group, back) == config


BASE_LINES = [line for line in (EXAMPLES / "pmml.yaml").read_text(encoding="utf-8").splitlines()
              if not line.lstrip().startswith("#")]
JUNK = st.sampled_from(["", "  ", "- x", "x: [1", "weight: 5000", "replicas: -1", "\t", ": :", "*a", "&a x",
                        "<<: *a", "'", "{", "config: 3", "traffic: groupin", "resources: {gpu: 2}", "---"])


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines = list(BASE_LINES)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["drop", "dup", "junk", "indent"]))
        if action == "drop":
            del lines[at]
        elif action == "dup":
            lines.insert(at, lines[at])
        elif action == "junk":
            lines.insert(at, " " * draw(st.integers(0, 8)) + draw(JUNK))
        else:
            lines[at] = " " * draw(st.integers(0, 3)) + lines[at]
    return "\n".join(lines) + "\n"


@SETTINGS
@given(mutated())
def test_any_mangled_file_gives_problems_with_positions_never_a_crash(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "group.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            load_paths([path])
        except SpecError as err:
            assert err.problems
            rows = text.count("\n") + 1
            assert all(1 <= p.line <= rows and p.column >= 1 for p in err.problems), err.problems
