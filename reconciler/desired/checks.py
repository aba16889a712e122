"""Rules that span a group or several files, reported with file positions.

The models check each object on its own; these rules need the whole group or the whole run:
names against the configurable pattern, reserved labels, weights against the traffic mode,
black holes (desired shares all zero, computed by `shares.desired_shares`, the one implementation),
typed fields repeated inside `config`, names that EAS requires to be unique (a group per
region; a service per region, across all groups and files), and the rollout's canary (named or
the one `role: canary`, declared, not the only grouping member).

`check_rollout_target` holds the rollout rules that need the plan's settings, run by `plan` (and
`apply`) before anything is read: every step within `max_shift` of the one before, and the
provider's interval on the target (CloudMonitor on the real cloud answers whole minutes).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

from reconciler.analysis.duration_text import format_duration
from reconciler.analysis.gates import CLOUD_PERIOD, ProviderName, finest_period, interval_problem
from reconciler.desired.eas_config import TYPED_PATHS, declared_paths, to_eas_config, value_at
from reconciler.desired.limits import number_faults
from reconciler.desired.model import RESERVED_LABEL_PREFIX, ServiceSpec, TrafficMode, TrafficState
from reconciler.desired.positions import Loc, Positions, dotted
from reconciler.desired.rollout import CANARY_ROLE, resolve_canary, step_rises
from reconciler.desired.shares import desired_shares, is_black_hole
from reconciler.desired.state import LoadedGroup
from reconciler.errors import Problem

_SERVICES = ("spec", "services")
_ROLLOUT = ("spec", "rollout")


def _pos(loaded: LoadedGroup) -> Positions:
    return loaded.positions or Positions(str(loaded.file), None)


def _suggest(name: str, pattern: re.Pattern[str]) -> str:
    fixed = re.sub(r"[^a-z0-9_]", "_", name.lower())
    if fixed and not fixed[0].isalpha():
        fixed = "s_" + fixed
    return f"e.g. '{fixed}'" if pattern.match(fixed) else ""


def check_names(loaded: LoadedGroup, pattern: re.Pattern[str]) -> list[Problem]:
    pos, problems = _pos(loaded), []
    named: list[tuple[Loc, str, str]] = [(("metadata", "name"), "group", loaded.group.name)]
    named += [((*_SERVICES, i, "name"), "service", s.name) for i, s in enumerate(loaded.group.spec.services)]
    for loc, what, name in named:
        if not pattern.match(name):
            hint = " ".join(x for x in (f"names must match {pattern.pattern}", _suggest(name, pattern)) if x)
            problems.append(pos.at_value(loc, f"{what} name '{name}' is not allowed", hint))
    return problems


def check_labels(loaded: LoadedGroup) -> list[Problem]:
    pos = _pos(loaded)
    places: list[tuple[Loc, Iterable[str]]] = [(("metadata", "labels"), loaded.group.metadata.labels)]
    places += [((*_SERVICES, i, "labels"), s.labels) for i, s in enumerate(loaded.group.spec.services)]
    return [
        pos.at_key((*loc, key), f"label key '{key}' is reserved for the tool",
                   f"keys starting with {RESERVED_LABEL_PREFIX} are set by eas-gitops; choose another key")
        for loc, labels in places for key in labels if key.startswith(RESERVED_LABEL_PREFIX)
    ]


def check_weights(loaded: LoadedGroup) -> list[Problem]:
    pos, spec, problems = _pos(loaded), loaded.group.spec, []
    for i, s in enumerate(spec.services):
        if spec.traffic_mode is TrafficMode.AUTO and s.weight is not None:
            problems.append(pos.at_key(
                (*_SERVICES, i, "weight"), f"{s.name}: weight has no effect under traffic_mode auto",
                "remove weight (auto splits by replicas), or set spec.traffic_mode: customized"))
        elif (spec.traffic_mode is TrafficMode.CUSTOMIZED and s.weight is None
              and s.traffic is TrafficState.GROUPING):
            problems.append(pos.at_key(
                (*_SERVICES, i), f"{s.name}: traffic_mode customized needs a weight for every grouping member",
                "add weight: 0-1000 (share = weight / sum of the grouping members' weights)"))
    return problems


def check_black_hole(loaded: LoadedGroup) -> list[Problem]:
    if not is_black_hole(desired_shares(loaded.group)):
        return []
    if loaded.group.spec.traffic_mode is TrafficMode.AUTO:
        what, fix = "replicas", "replicas > 0 (an autoscaled member counts its min)"
    else:
        what, fix = "a weight", "a weight > 0 and replicas > 0"
    return [_pos(loaded).at_key(
        _SERVICES, f"group '{loaded.name}' would serve no traffic (black hole): no grouping member with {what} > 0",
        f"give at least one grouping member {fix}; to retire the group, delete its file and apply with --prune")]


def _typed_paths(loaded: LoadedGroup, service: ServiceSpec) -> set[tuple[str, ...]]:
    """The config paths the typed fields of `service` write (labels included when it has some)."""
    typed = declared_paths(to_eas_config(loaded.group, service.model_copy(update={"config": {}})))
    return typed | ({("labels",)} if service.labels else set())


def _clash_problem(pos: Positions, i: int, service: ServiceSpec, path: tuple[str, ...], typed: set[tuple[str, ...]],
                   field: str) -> Problem:
    loc: tuple[str | int, ...] = (*_SERVICES, i, "config", *path)
    key = ".".join(path)
    if any(t[: len(path)] == path or path[: len(t)] == t for t in typed):
        return pos.at_key(loc, f"{service.name}: config.{key} is set both in config and by the typed field {field}",
                          f"keep only {field}; typed fields win, so the config value would be ignored")
    return pos.at_key(loc, f"{service.name}: config.{key} is the typed field {field}",
                      f"set {field} instead and remove it from config")


def check_config(loaded: LoadedGroup) -> list[Problem]:
    """Keys of `config` that typed fields own (see eas_config.TYPED_PATHS), and an autoscaler without autoscaling."""
    pos, problems = _pos(loaded), []
    for i, s in enumerate(loaded.group.spec.services):
        if not s.config:
            continue
        # An empty object declares nothing (`metadata: {}`); any other value under an owned path clashes.
        declared = sorted(p for p in declared_paths(s.config) if value_at(s.config, p)[1] != {})
        typed: set[tuple[str, ...]] | None = None  # computed on the first clash only: it builds the EAS config
        seen: set[tuple[str, ...]] = set()
        for owned, field in TYPED_PATHS.items():
            for path in declared:
                n = min(len(path), len(owned))
                if path[:n] == owned[:n] and path[:n] not in seen:
                    seen.add(path[:n])
                    typed = _typed_paths(loaded, s) if typed is None else typed
                    problems.append(_clash_problem(pos, i, s, path[:n], typed, field))
        if s.autoscaling is None and any(p[0] == "autoscaler" for p in declared) and ("autoscaler",) not in seen:
            problems.append(pos.at_key((*_SERVICES, i, "config", "autoscaler"),
                                       f"{s.name}: config.autoscaler needs the typed field autoscaling",
                                       "replace replicas with autoscaling: {min, max, metric, threshold}"))
        problems += _config_numbers(pos, (*_SERVICES, i, "config"), s.config)
    return problems


def _config_numbers(pos: Positions, loc: tuple[str | int, ...], value: object) -> list[Problem]:
    """Numbers under `config` that EAS cannot read from JSON (limits.number_faults), positioned."""
    return [pos.at_value((*loc, *where), f"{dotted((*loc, *where))} {what}", hint)
            for where, what, hint in number_faults(value)]


def check_rollout(loaded: LoadedGroup) -> list[Problem]:
    """The canary of `spec.rollout`: named or the one `role: canary`, declared, not the only grouping member."""
    spec, pos = loaded.group.spec, _pos(loaded)
    if spec.rollout is None:
        return []
    names = [s.name for s in spec.services]
    canary = resolve_canary(spec.rollout, spec.services)
    if canary is None:
        roles = [s.name for s in spec.services if s.role == CANARY_ROLE]
        found = f"{len(roles)} members have it ({', '.join(roles)})" if roles else "no member has it"
        return [pos.at_key(_ROLLOUT, f"spec.rollout has no canary: none is named and {found}",
                           f"name it with canary: <member>, or give exactly one member role: {CANARY_ROLE}")]
    if canary not in names:
        return [pos.at_value((*_ROLLOUT, "canary"), f"spec.rollout.canary '{canary}' is not a member of the group",
                             f"name one of {', '.join(names)}")]
    others = [s.name for s in spec.services if s.name != canary and s.traffic is TrafficState.GROUPING]
    if not others:
        loc = (*_ROLLOUT, "canary") if pos.exists((*_ROLLOUT, "canary")) else _ROLLOUT
        return [pos.at_key(loc, f"the canary {canary} is the only grouping member: no baseline to compare it "
                                "with, and nothing to carry the traffic when it aborts",
                           "declare a primary member with traffic: grouping")]
    interval = spec.rollout.analysis.interval
    return [pos.at_value((*_ROLLOUT, "steps", i, "bake"),
                         f"rollout step {i + 1} bakes {format_duration(step.bake)}, shorter than the analysis "
                         f"interval {format_duration(interval)}: the bake would hold no whole check",
                         f"bake at least {format_duration(interval)}, or shorten analysis.interval")
            for i, step in enumerate(spec.rollout.steps) if step.bake < interval]


def check_rollout_target(loaded: LoadedGroup, cloud: bool, max_shift: int) -> list[Problem]:
    """The rollout rules that need the plan's settings: each step within max_shift, the interval on the
    real cloud (`cloud`) or an emulator."""
    rollout, pos = loaded.group.spec.rollout, _pos(loaded)
    if rollout is None:
        return []
    problems = []
    shares = [s.share for s in rollout.steps]
    for i, rise in enumerate(step_rises(shares)):
        if rise > max_shift:
            before = shares[i - 1] if i else 0.0
            problems.append(pos.at_value(
                (*_ROLLOUT, "steps", i, "share"),
                f"rollout step {i + 1} raises the canary's share by {rise:g} points ({before:g} -> {shares[i]:g}), "
                f"more than max_shift {max_shift}",
                f"add a step in between, e.g. share: {(before + shares[i]) // 2:g}, or plan with --max-shift "
                f"{math.ceil(rise)}"))
    why = interval_problem(rollout.analysis, cloud)
    finest = format_duration(finest_period(cloud))
    if why is not None:
        source = "CloudMonitor publishes acs_learn per minute" if cloud else "the emulator counts whole seconds"
        problems.append(pos.at_value((*_ROLLOUT, "analysis", "interval"), why,
                                     f"{source}: use interval: {finest} or more"))
    if cloud and rollout.analysis.provider is ProviderName.CLOUDMONITOR:
        problems += [pos.at_value((*_ROLLOUT, "steps", i, "bake"),
                                  f"rollout step {i + 1} bakes {format_duration(step.bake)}, shorter than the "
                                  f"finest period of CloudMonitor on the aliyun target ({finest})",
                                  f"CloudMonitor publishes acs_learn per minute: use bake: {finest} or more")
                     for i, step in enumerate(rollout.steps) if step.bake < CLOUD_PERIOD]
    return problems


def check_group(loaded: LoadedGroup, pattern: re.Pattern[str]) -> list[Problem]:
    """Every rule that looks at one group only."""
    weights = check_weights(loaded)
    problems = check_names(loaded, pattern) + check_labels(loaded) + weights + check_config(loaded)
    problems += check_rollout(loaded)
    if not weights:  # a missing weight already explains a zero share
        problems += check_black_hole(loaded)
    return problems


def check_unique(groups: Sequence[LoadedGroup]) -> list[Problem]:
    """A group name once per region; a service name once per region, across all groups and files."""
    problems: list[Problem] = []
    group_seen: dict[tuple[str, str], str] = {}
    service_seen: dict[tuple[str, str], str] = {}
    for loaded in groups:
        pos = _pos(loaded)
        key = (loaded.region, loaded.name)
        if key in group_seen:
            problems.append(pos.at_value(
                ("metadata", "name"), f"group '{loaded.name}' in {loaded.region} is also defined at {group_seen[key]}",
                "one file per group: merge the two files or rename one group"))
        else:
            line, col = pos.value(("metadata", "name"))
            group_seen[key] = f"{pos.file}:{line}:{col}"
        for i, s in enumerate(loaded.group.spec.services):
            skey = (loaded.region, s.name)
            loc = (*_SERVICES, i, "name")
            if skey in service_seen:
                problems.append(pos.at_value(
                    loc, f"service name '{s.name}' is already used in {loaded.region} at {service_seen[skey]}",
                    f"EAS service names are unique per region: rename one ({dotted(loc)})"))
            else:
                line, col = pos.value(loc)
                service_seen[skey] = f"{pos.file}:{line}:{col}"
    return problems
