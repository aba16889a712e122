"""The JSON Schema of a ServiceGroup file, generated from the models (schemas/servicegroup.schema.json).

The models are the source of truth; the committed schema file is their output and a test fails
when it is stale (`eas-gitops schema --out schemas` regenerates it). The schema carries every
rule JSON Schema can say: types, ranges, enums, unknown keys, one-of choices (replicas |
autoscaling, model | containers, dedicated | public), weights against the traffic mode, reserved
label keys. It cannot say: names against the configurable pattern, autoscaling min <= max, black
holes, duplicates across files, typed keys repeated in `config`; `validate` checks those.
"""

from __future__ import annotations

import json
from typing import Any

SCHEMA_FILE = "servicegroup.schema.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def servicegroup_schema() -> dict[str, Any]:
    """The schema as a dict: pydantic's output by alias, with the draft, title and description."""
    from reconciler.desired.model import ServiceGroup  # here: `SCHEMA_FILE` alone (validate --help) loads no model

    generated = ServiceGroup.model_json_schema(by_alias=True, mode="validation")
    head: dict[str, Any] = {
        "$schema": DRAFT,
        "title": "eas-gitops ServiceGroup",
        "description": (
            "One PAI-EAS service group per file: its member services, their traffic state, weights, "
            "replicas, resources (billing, GPU type) and code. Generated from reconciler/desired/model.py."
        ),
    }
    generated.pop("title", None)
    generated.pop("description", None)
    return {**head, **generated}


def schema_text() -> str:
    """The schema file's exact text (stable: same models, same bytes)."""
    return json.dumps(servicegroup_schema(), indent=2, ensure_ascii=False) + "\n"
