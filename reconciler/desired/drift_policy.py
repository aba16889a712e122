"""A group's drift policy: `spec.drift` in the file, what to do with live values the file does not say.

Drift is a field of a managed member whose live value differs from the file because someone changed
it outside eas-gitops (the console, eascmd, an SDK script). Each such field gets one action:

- `report` (the default): `drift` lists it and exits 2; `plan` shows it as a warning and plans no
  step for it, so `apply` leaves the live value alone; `drift --write` writes it into the file.
- `revert`: `drift` lists it and exits 2; `plan` shows it as an ordinary change and `apply` sets
  the file's value again (what every field did before drift policies existed).
- `ignore`: neither `drift` nor `plan` shows it, and `apply` leaves it alone.

Field names (the vocabulary) are the ones the plan uses, so a policy reads like the plan's lines:
`replicas`, `weight`, `traffic` (grouping / standalone), `traffic_mode` (the group's),
`labels.<key>`, `config.<EAS config path>` (e.g. `config.metadata.rpc.keepalive`); the typed file
fields stand for the EAS paths they are written to: `resources[.<key>]`, `model[.<key>]`,
`containers`, `autoscaling[.<key>]` (so `resources.cpu` is `config.metadata.cpu`). A name matches
a field and everything under it (`labels` matches every label, `config.metadata` every metadata
key); the longest matching name decides. A name in two lists is an error.

The policy applies to fields of managed members. A managed member missing live is re-created by the
next apply, an unmanaged member added to the group is never touched: both are always reported.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

FIELD_PATTERN = re.compile(
    r"^(replicas|weight|traffic|traffic_mode|containers"
    r"|(labels|config|resources|model|autoscaling)(\.[^.\s][^\s]*)?)$")
VOCABULARY = ("replicas, weight, traffic, traffic_mode, labels[.<key>], config[.<path>], resources[.<key>], "
              "model[.<key>], containers, autoscaling[.<key>]")

_WORDS = ("replicas", "weight", "traffic", "traffic_mode", "containers", "labels", "config", "resources", "model",
          "autoscaling")


class DriftAction(StrEnum):
    IGNORE = "ignore"
    REPORT = "report"
    REVERT = "revert"


def _field_name(value: str) -> str:
    if FIELD_PATTERN.fullmatch(value) is None:
        close = difflib.get_close_matches(value.split(".")[0], _WORDS, n=1, cutoff=0.6)
        hint = (f"did you mean '{close[0]}'? " if close else "") + f"the names are {VOCABULARY}"
        raise PydanticCustomError("drift_field", "not a drift field name", {"hint": hint})
    return value


FieldName = Annotated[str, AfterValidator(_field_name), WithJsonSchema(
    {"type": "string", "pattern": FIELD_PATTERN.pattern, "description": f"A drift field name: {VOCABULARY}."})]


def matches(pattern: str, name: str) -> bool:
    """`labels` matches `labels.team`; `config.metadata` matches `config.metadata.cpu`, not `config.metadataX`."""
    return name == pattern or name.startswith(pattern + ".")


class DriftPolicy(BaseModel):
    """Which drifted fields to ignore, report (the default) or revert on the next apply."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    default: DriftAction = Field(default=DriftAction.REPORT,
                                 description="Action for a drifted field no list names: report, revert or ignore.")
    ignore: list[FieldName] = Field(default_factory=list,
                                    description="Fields whose live value may differ: never drift, never planned.")
    report: list[FieldName] = Field(default_factory=list,
                                    description="Fields drift reports and apply leaves alone (drift --write records).")
    revert: list[FieldName] = Field(default_factory=list,
                                    description="Fields the next apply sets back to the file's value.")

    @model_validator(mode="after")
    def _once(self) -> DriftPolicy:
        seen: dict[str, str] = {}
        for action in DriftAction:
            for name in getattr(self, action.value):
                if name in seen:
                    raise PydanticCustomError(
                        "conflict", "{name} is in both {first} and {second}",
                        {"name": name, "first": seen[name], "second": action.value, "at": action.value,
                         "hint": "name each field in one list: ignore, report or revert"})
                seen[name] = action.value
        return self

    def action(self, names: Iterable[str]) -> DriftAction:
        """The action for a field known by `names` (its plan name, and its file name when it has one)."""
        return self.choice(names)[0]

    def choice(self, names: Iterable[str]) -> tuple[DriftAction, bool]:
        """(action, named): `named` is False when no list names the field and `default` decided."""
        names = tuple(names)
        best: tuple[int, DriftAction] | None = None
        for action in DriftAction:
            for pattern in getattr(self, action.value):
                if any(matches(pattern, n) for n in names) and (best is None or len(pattern) > best[0]):
                    best = (len(pattern), action)
        return (best[1], True) if best else (self.default, False)
