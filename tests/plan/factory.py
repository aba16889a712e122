"""Small builders for unit tests: desired groups and live state from a few keywords."""

from __future__ import annotations

from typing import Any

from reconciler.desired.model import ServiceGroup
from reconciler.live.model import LiveState

from .harness import build_live


def svc(name: str, replicas: int = 1, traffic: str = "grouping", weight: int | None = None,
        version: str = "v1", **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": name, "traffic": traffic, "replicas": replicas,
                           "resources": {"cpu": 1, "memory": 1000},
                           "model": {"path": f"oss://bucket/models/{version}.pmml", "processor": "pmml"}}
    if weight is not None:
        doc["weight"] = weight
    doc.update(extra)
    return doc


def group(name: str, services: list[dict[str, Any]], mode: str = "auto", region: str = "cn-shanghai") -> ServiceGroup:
    return ServiceGroup.model_validate({
        "apiVersion": "eas-gitops/v1", "kind": "ServiceGroup", "metadata": {"name": name, "region": region},
        "spec": {"traffic_mode": mode, "services": services}})


def live(*groups: tuple[str, list[dict[str, Any]], str], region: str = "cn-shanghai") -> LiveState:
    """Live state from (name, services, mode) triples; services take the live keys of harness.build_live."""
    return build_live({"groups": [{"name": n, "region": region, "traffic_mode": m, "services": s}
                                  for n, s, m in groups]})
