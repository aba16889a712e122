"""Secret references in service configs: `${env:NAME}` is resolved from the environment at apply time only.

The plan, the plan file, the journal and every message keep the reference; only the body sent
with CreateService / UpdateService carries the value. `missing(plan, env)` lists every variable
a plan needs that is not set, so apply can refuse before its first write.

Choices: a reference may sit anywhere inside a string (`"Bearer ${env:TOKEN}"`); names follow
shell rules (`[A-Za-z_][A-Za-z0-9_]*`); an empty variable counts as set.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

from reconciler.errors import ConfigError
from reconciler.plan.model import Action, Plan

REFERENCE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


def references(value: Any) -> Iterator[str]:
    """Every variable name referenced anywhere inside `value` (strings, dicts, lists)."""
    if isinstance(value, str):
        yield from REFERENCE.findall(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def plan_references(plan: Plan) -> set[str]:
    names: set[str] = set()
    for group in plan.groups:
        for step in group.steps:
            if step.params.action in (Action.CREATE_SERVICE, Action.UPDATE_CONFIG):
                names.update(references(step.params.config))
    return names


def missing(plan: Plan, env: Mapping[str, str] | None = None) -> list[str]:
    """Variables the plan references that `env` (default: os.environ) does not set, sorted."""
    env = os.environ if env is None else env
    return sorted(n for n in plan_references(plan) if n not in env)


def check_env(plan: Plan, env: Mapping[str, str] | None = None) -> None:
    """Raise ConfigError naming every missing variable (names only, never values)."""
    absent = missing(plan, env)
    if absent:
        raise ConfigError("the plan references environment variables that are not set: " + ", ".join(absent)
                          + " (set them in the environment of apply; they are never written to plans or logs)")


def resolve(value: Any, env: Mapping[str, str] | None = None) -> Any:
    """A copy of `value` with every `${env:NAME}` replaced by its value; ConfigError when one is unset."""
    env = os.environ if env is None else env
    if isinstance(value, str):
        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigError(f"environment variable {name} is not set")
            return env[name]
        return REFERENCE.sub(sub, value)
    if isinstance(value, dict):
        return {k: resolve(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, env) for v in value]
    return value
