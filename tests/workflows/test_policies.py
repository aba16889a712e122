"""The RAM policies in README.md cover every EAS operation the code calls, and the plan role only reads.

The operations come from the code itself: every `client.<method>(` call outside the client and the
emulator, named as the client names the API operation (`release_service` -> `ReleaseService`). A
new call in the planner or the executor that the policies do not grant fails here.
"""

from __future__ import annotations

import json
import re

import pytest

from .helpers import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
CLIENT = (ROOT / "reconciler" / "eas" / "client.py").read_text(encoding="utf-8")
NOT_EAS = {"get", "aclose", "get_credential", "describe_metric_list_async"}  # HTTP, credentials, CloudMonitor
READ = re.compile(r"(List|Describe)\w+")


def _policy(role: str) -> dict[str, object]:
    match = re.search(rf"<!-- ram-policy: {role} -->\n```json\n(.*?)\n```", README, re.S)
    assert match, f"README.md has no policy for the {role} role"
    policy: dict[str, object] = json.loads(match.group(1))
    return policy


def _actions(role: str) -> set[str]:
    statements = _policy(role)["Statement"]
    assert isinstance(statements, list)
    return {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}


def _operations() -> set[str]:
    """The EAS operations the code calls (client method names in CamelCase)."""
    called: set[str] = set()
    for path in (ROOT / "reconciler").rglob("*.py"):
        if {"eas", "emulator"} & set(path.relative_to(ROOT / "reconciler").parts[:1]):
            continue
        called |= set(re.findall(r"\bclient\.([a-z_]+)\(", path.read_text(encoding="utf-8"))) - NOT_EAS
    operations = {"".join(part.capitalize() for part in name.split("_")) for name in called}
    for operation in operations:
        assert f'"{operation}"' in CLIENT, f"the client has no operation {operation}"
    return operations


def test_the_code_calls_reads_and_writes() -> None:
    operations = _operations()
    assert {"ListServices", "ReleaseService", "UpdateServiceLabel"} <= operations


@pytest.mark.parametrize("role", ["plan", "apply"])
def test_policies_are_ram_documents(role: str) -> None:
    policy = _policy(role)
    assert policy["Version"] == "1"
    statements = policy["Statement"]
    assert isinstance(statements, list)
    for statement in statements:
        assert statement["Effect"] == "Allow"
        resources = [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
        assert all(r == "*" or r.startswith("acs:eas:") for r in resources)
    assert "cms:DescribeMetricList" in _actions(role)  # a rollout's checks read CloudMonitor


def test_plan_role_grants_every_read_and_nothing_else() -> None:
    actions = _actions("plan")
    reads = {f"eas:{op}" for op in _operations() if READ.fullmatch(op)}
    assert reads <= actions
    assert all(READ.fullmatch(a.split(":", 1)[1]) for a in actions), "the plan role must not write"


def test_apply_role_grants_every_operation_the_code_calls() -> None:
    missing = {f"eas:{op}" for op in _operations()} - _actions("apply")
    assert not missing, f"README.md's apply policy lacks {sorted(missing)}"
