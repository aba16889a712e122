"""Golden-case plumbing: build live state from a short YAML description, run a case, compare files.

A case directory holds inputs and expected outputs:

    desired.yaml   one ServiceGroup (loaded with the real loader); absent = nothing declared
    live.yaml      the live state, described as groups of service specs plus live facts (below)
    options.json   build_plan keywords (prune, max_shift, force, groups, adopt) and "markdown": true
    live.json      the LiveState built from live.yaml: the reviewed input the plan is computed from
    plan.json, plan.txt, plan.md (when "markdown"), or error.txt when the plan is refused

live.yaml: `groups: [{name, region, traffic_mode, services: [<ServiceSpec> + live keys]}]`; live keys:
running (default replicas), pending (0), status (Running), weight (listed weight; default the stored spec
weight in customized mode, the share in % in auto mode), managed (true), spec_hash (default the
hash of the spec), config_patch (deep-merged over the config, e.g. platform defaults or drift),
version (1), record (false: true adds the declared-keys record eas-gitops writes for this spec),
extra_labels (labels someone else set).

Set UPDATE_GOLDEN=1 to rewrite the expected files, on purpose only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from reconciler.desired.eas_config import declared_paths, deep_merge, to_eas_config, value_at
from reconciler.desired.loader import load_paths
from reconciler.desired.model import ServiceGroup, ServiceSpec, TrafficMode, TrafficState
from reconciler.desired.shares import MemberTraffic, compute_shares, percent
from reconciler.errors import PlanError
from reconciler.live.model import MANAGED_BY_LABEL, MANAGED_BY_VALUE, SPEC_HASH_LABEL, LiveGroup, LiveService, LiveState
from reconciler.plan import build_plan, record
from reconciler.plan.diff import is_sensitive, spec_hash
from reconciler.plan.render import render_json, render_markdown, render_text

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
LIVE_KEYS = {"running", "pending", "status", "weight", "managed", "spec_hash", "config_patch", "version", "record",
             "extra_labels"}
INPUTS = {"desired.yaml", "live.yaml", "options.json"}


def _group_services(g: dict[str, Any]) -> tuple[ServiceGroup, list[dict[str, Any]]]:
    raw = [{k: v for k, v in s.items() if k not in LIVE_KEYS} for s in g["services"]]
    doc = {"apiVersion": "eas-gitops/v1", "kind": "ServiceGroup",
           "metadata": {"name": g["name"], "region": g["region"]},
           "spec": {"traffic_mode": g.get("traffic_mode", "auto"), "services": raw}}
    return ServiceGroup.model_validate(doc), [{k: v for k, v in s.items() if k in LIVE_KEYS} for s in g["services"]]


def build_live(doc: dict[str, Any]) -> LiveState:
    services: list[LiveService] = []
    groups: list[LiveGroup] = []
    for g in doc.get("groups", []):
        group, facts = _group_services(g)
        mode = group.spec.traffic_mode
        groups.append(LiveGroup(name=group.name, region=group.region, traffic_mode=mode))
        running = [f.get("running", s.base_replicas) for s, f in zip(group.spec.services, facts, strict=True)]
        shares = compute_shares(mode, [MemberTraffic(s.name, s.traffic, r, s.weight)
                                       for s, r in zip(group.spec.services, running, strict=True)])
        for spec, fact, run in zip(group.spec.services, facts, running, strict=True):
            config = to_eas_config(group, spec)
            labels = dict(spec.labels)
            if fact.get("managed", True):
                labels[MANAGED_BY_LABEL] = MANAGED_BY_VALUE
                labels[SPEC_HASH_LABEL] = fact.get("spec_hash", spec_hash(config))
            if fact.get("record", False):
                labels.update(record_labels(spec, config))
            labels.update(fact.get("extra_labels", {}))
            listed = (spec.weight or 0) if mode is TrafficMode.CUSTOMIZED else round(percent(shares[spec.name]))
            version = fact.get("version", 1)
            services.append(LiveService(
                name=spec.name, region=group.region, group=group.name, status=fact.get("status", "Running"),
                running=run, pending=fact.get("pending", 0), total=spec.base_replicas,
                traffic_state=TrafficState(spec.traffic),
                weight=fact.get("weight", listed), config=deep_merge(config, fact.get("config_patch", {})),
                labels=labels, current_version=version, latest_version=version))
    return LiveState(services=tuple(services), groups=tuple(groups))


def record_labels(spec: ServiceSpec, config: dict[str, Any]) -> dict[str, str]:
    """The declared-keys record eas-gitops writes for `spec` (its EAS `config`)."""
    declared = declared_paths(config)
    secret = frozenset(p for p in declared if is_sensitive(value_at(config, p)[1]))
    return record.encode(record.Declared(frozenset(spec.labels), frozenset(declared), secret))


def run_case(case: Path) -> dict[str, str]:
    """Every output file of a case, by name."""
    opts_file = case / "options.json"
    options: dict[str, Any] = json.loads(opts_file.read_text()) if opts_file.exists() else {}
    markdown = options.pop("markdown", False)
    if "groups" in options:
        options["groups"] = set(options["groups"])
    out: dict[str, str] = {}
    live_file = case / "live.yaml"
    live = build_live(YAML(typ="safe").load(live_file.read_text()) or {}) if live_file.exists() else LiveState()
    out["live.json"] = live.model_dump_json(indent=2) + "\n"
    live = LiveState.model_validate_json(out["live.json"])  # the plan is computed from the reviewed JSON
    desired_file = case / "desired.yaml"
    desired = [g.group for g in load_paths([desired_file])] if desired_file.exists() else []
    try:
        plan = build_plan(desired, live, **options)
    except PlanError as exc:
        out["error.txt"] = f"{exc}\n"
        return out
    out["plan.json"] = render_json(plan)
    out["plan.txt"] = render_text(plan)
    if markdown:
        out["plan.md"] = render_markdown(plan)
    return out


def cases() -> list[Path]:
    return sorted(p for p in GOLDEN.iterdir() if p.is_dir())


def compare(case: Path, outputs: dict[str, str]) -> list[str]:
    """Names of expected files that differ from `outputs` (rewrites them instead with UPDATE_GOLDEN=1)."""
    expected = {p.name for p in case.iterdir() if p.is_file() and p.name not in INPUTS}
    if UPDATE:
        for name in expected - set(outputs):
            (case / name).unlink()
        for name, text in outputs.items():
            (case / name).write_text(text)
        return []
    names = sorted(expected | set(outputs))
    return [n for n in names if n not in outputs or n not in expected or (case / n).read_text() != outputs[n]]
