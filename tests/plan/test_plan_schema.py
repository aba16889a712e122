"""schemas/plan.schema.json is generated from the Plan model; every golden plan validates against it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from reconciler.errors import PlanError
from reconciler.plan import load_plan, plan_json_schema

from .harness import UPDATE, cases

SCHEMA_FILE = Path(__file__).parents[2] / "schemas" / "plan.schema.json"


def _generated() -> str:
    return json.dumps(plan_json_schema(), indent=2, sort_keys=True) + "\n"


def test_schema_file_is_current() -> None:
    if UPDATE:
        SCHEMA_FILE.write_text(_generated())
    assert SCHEMA_FILE.read_text() == _generated(), "schemas/plan.schema.json is stale: UPDATE_GOLDEN=1 regenerates it"


@pytest.mark.parametrize("case", [c for c in cases() if (c / "plan.json").exists()], ids=lambda p: p.name)
def test_golden_plans_validate_against_schema(case: Path) -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads((case / "plan.json").read_text()), schema)


def test_schema_rejects_unknown_action() -> None:
    doc = json.loads((Path(__file__).parent / "golden" / "delete_member" / "plan.json").read_text())
    doc["groups"][0]["steps"][0]["action"] = "teleport"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, json.loads(SCHEMA_FILE.read_text()))


def test_load_plan_refuses_other_format_version_and_garbage() -> None:
    text = (Path(__file__).parent / "golden" / "delete_member" / "plan.json").read_text()
    doc = json.loads(text)
    assert load_plan(text).summary.steps == 2
    doc["format_version"] = 2
    with pytest.raises(PlanError, match="format_version 2"):
        load_plan(json.dumps(doc))
    with pytest.raises(PlanError, match="not JSON"):
        load_plan("{not json")
    doc["format_version"] = 1
    doc["groups"][0]["steps"][0]["params"]["action"] = "delete_service"  # params no longer match the action
    with pytest.raises(PlanError, match="malformed"):
        load_plan(json.dumps(doc))
