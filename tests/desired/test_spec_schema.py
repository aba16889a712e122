"""The committed JSON Schema is current, and the schema and the models agree on examples and the corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from desired.helpers import CORPUS, EXAMPLES, SCHEMA_PATH
from reconciler.desired.loader import load_paths, parse_file
from reconciler.desired.schema import DRAFT, schema_text, servicegroup_schema
from reconciler.errors import SpecError

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))
MODELINE = "# yaml-language-server: $schema=../../schemas/servicegroup.schema.json"


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def data_of(path: Path) -> Any:
    parsed = parse_file(path)
    assert parsed.data is not None and not parsed.problems
    return parsed.data


def test_committed_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "schemas/servicegroup.schema.json is stale: run `eas-gitops schema --out schemas`"
    )


def test_schema_header() -> None:
    schema = servicegroup_schema()
    assert schema["$schema"] == DRAFT
    assert schema["title"] and schema["description"]
    assert schema["properties"]["apiVersion"]["const"] == "eas-gitops/v1"
    assert schema["additionalProperties"] is False


def test_there_are_five_examples_with_the_modeline() -> None:
    assert len(EXAMPLE_FILES) >= 5
    for path in EXAMPLE_FILES:
        assert path.read_text(encoding="utf-8").splitlines()[0] == MODELINE, path.name


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.name for p in EXAMPLE_FILES])
def test_example_passes_both_validators(path: Path, validator: Draft202012Validator) -> None:
    errors = [e.message for e in validator.iter_errors(data_of(path))]
    assert errors == []
    assert len(load_paths([path])) == 1


def schema_cases() -> list[Path]:
    """Corpus files that parse to one mapping (the schema sees data, not YAML syntax)."""
    cases = []
    for path in sorted(CORPUS.glob("*.yaml")):
        parsed = parse_file(path)
        if parsed.data is not None and not parsed.problems:
            cases.append(path)
    return cases


SCHEMA_CASES = schema_cases()


def test_enough_corpus_files_are_checked_against_the_schema() -> None:
    rejected = [p for p in SCHEMA_CASES if "# schema: reject" in p.read_text(encoding="utf-8")]
    assert len(rejected) >= 25


@pytest.mark.parametrize("path", SCHEMA_CASES, ids=[p.name for p in SCHEMA_CASES])
def test_schema_verdict_on_corpus_is_declared(path: Path, validator: Draft202012Validator) -> None:
    """Files marked `# schema: reject` fail the schema; the rest hold rules only `validate` knows."""
    marked = "# schema: reject" in path.read_text(encoding="utf-8")
    assert validator.is_valid(data_of(path)) is not marked
    with pytest.raises(SpecError):
        load_paths([path])
