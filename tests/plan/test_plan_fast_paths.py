"""Planning fast paths: the config diff's `_covered` never hides a change the path-by-path comparison
finds, and `build_plan` pauses the cyclic garbage collector only while it runs."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.desired.eas_config import declared_paths, value_at
from reconciler.errors import PlanError
from reconciler.live.model import LiveState
from reconciler.plan import build
from reconciler.plan.diff import _NOT_COMPARED, _covered

KEYS = st.sampled_from(["metadata", "instance", "group", "rpc", "a", "b", "eas.aliyun.com/x"])
LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["", "x", "y"]),
                   st.lists(st.integers(0, 2), max_size=2), st.just({}))
TREES = st.recursive(LEAVES, lambda inner: st.dictionaries(KEYS, inner, max_size=3), max_leaves=12)
CONFIGS = st.dictionaries(KEYS, TREES, max_size=4)


def slow_path_unchanged(want: dict[str, Any], have: dict[str, Any]) -> bool:
    """What `_config_changes` compares: every declared leaf but the ones never compared, found and equal."""
    for path in declared_paths(want) - _NOT_COMPARED:
        found, value = value_at(have, path)
        if not found or value != value_at(want, path)[1]:
            return False
    return True


def overlay(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`base` with keys of `extra` that `base` lacks added at every level (platform defaults)."""
    out = dict(extra)
    for key, value in base.items():
        if isinstance(value, dict) and value and isinstance(extra.get(key), dict):
            out[key] = overlay(value, extra[key])
        else:
            out[key] = value
    return out


@settings(max_examples=300, deadline=None)
@given(CONFIGS, CONFIGS)
def test_covered_implies_no_change(want: dict[str, Any], have: dict[str, Any]) -> None:
    if _covered(want, have):
        assert slow_path_unchanged(want, have)


@settings(max_examples=200, deadline=None)
@given(CONFIGS, CONFIGS)
def test_live_with_platform_defaults_added_is_covered(want: dict[str, Any], extra: dict[str, Any]) -> None:
    assert _covered(want, overlay(want, extra))


def test_the_never_compared_keys_and_a_real_difference() -> None:
    want = {"metadata": {"instance": 2, "group": "g", "rpc": {"batching": True}}, "processor": "pmml"}
    live = {"metadata": {"instance": 5, "rpc": {"batching": True, "keepalive": 1}}, "processor": "pmml", "x": 1}
    assert _covered(want, live)  # replicas and group are compared elsewhere; extra live keys are defaults
    assert not _covered(want, {**live, "processor": "tf"})
    assert not _covered(want, {**live, "metadata": {"rpc": {"batching": False}}})
    assert not _covered({"metadata": {"rpc": {}}}, {"metadata": {"rpc": {"a": 1}}})  # an empty object is a leaf


def test_build_plan_pauses_the_cyclic_collector_and_always_restores_it(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []

    def failing(*_: Any, **__: Any) -> Any:
        seen.append(gc.isenabled())
        raise PlanError("boom")

    monkeypatch.setattr(build, "analyze", failing)
    assert gc.isenabled()
    with pytest.raises(PlanError):
        build.build_plan([], LiveState())
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        with pytest.raises(PlanError):
            build.build_plan([], LiveState())
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()
