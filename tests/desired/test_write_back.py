"""In-place edits of group files: only the edited values change, every other byte stays."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from reconciler.desired.write_back import DELETE, Edit, edit_text, scalar_text, write_file
from reconciler.errors import ConfigError

COMMENTED = """\
# yaml-language-server: $schema=../schemas/servicegroup.schema.json
# A group with comments everywhere.

apiVersion: eas-gitops/v1   # always this
kind: ServiceGroup          # always this
metadata:                   # the group
  name: shop                # endpoint /api/predict/shop
  region: cn-shanghai       # one region

spec:
  # the traffic split
  traffic_mode: customized  # weights
  services:
    # the primary
    - name: shop_blue       # the old version
      weight: 100           # most traffic
      replicas: 2           # two of them
      resources: {cpu: 1, memory: 1000}   # small
      model:
        path: "oss://b/blue.pmml"         # quoted on purpose
        processor: pmml     # built in
      labels:
        team: search        # who to call
        tier: 'gold'        # single-quoted
      config:
        metadata:
          rpc:
            keepalive: 5000 # milliseconds

    # the canary
    - name: shop_green      # the new version
      weight: 20            # a little traffic
      replicas: 1
      resources: {cpu: 1, memory: 1000}
      model: {path: "oss://b/green.pmml", processor: pmml}
# trailing comment
"""


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    """(removed line, added line) pairs of a line diff; anything else (added or removed alone) fails."""
    removed, added = [], []
    for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0):
        if line.startswith("-") and not line.startswith("---"):
            removed.append(line[1:])
        elif line.startswith("+") and not line.startswith("+++"):
            added.append(line[1:])
    assert len(removed) == len(added), (removed, added)
    return list(zip(removed, added, strict=True))


def test_two_values_change_and_every_other_byte_stays() -> None:
    services = ("spec", "services")
    after = edit_text(COMMENTED, [Edit((*services, 0, "replicas"), 3),
                                  Edit((*services, 0, "config", "metadata", "rpc", "keepalive"), 9000)])
    assert changed_lines(COMMENTED, after) == [
        ("      replicas: 2           # two of them", "      replicas: 3           # two of them"),
        ("            keepalive: 5000 # milliseconds", "            keepalive: 9000 # milliseconds"),
    ]
    assert len(after) == len(COMMENTED)  # same widths: the comments did not move either


def test_quoting_styles_are_kept_and_flow_values_edited_inside() -> None:
    services = ("spec", "services")
    after = edit_text(COMMENTED, [Edit((*services, 0, "model", "path"), "oss://b/blue2.pmml"),
                                  Edit((*services, 0, "labels", "tier"), "it's"),
                                  Edit((*services, 1, "model", "path"), "oss://b/green2.pmml"),
                                  Edit((*services, 1, "resources", "cpu"), 2)])
    assert changed_lines(COMMENTED, after) == [
        ('        path: "oss://b/blue.pmml"         # quoted on purpose',
         '        path: "oss://b/blue2.pmml"         # quoted on purpose'),
        ("        tier: 'gold'        # single-quoted", "        tier: 'it''s'        # single-quoted"),
        ("      resources: {cpu: 1, memory: 1000}", "      resources: {cpu: 2, memory: 1000}"),
        ('      model: {path: "oss://b/green.pmml", processor: pmml}',
         '      model: {path: "oss://b/green2.pmml", processor: pmml}'),
    ]
    data = YAML(typ="safe").load(after)
    assert data["spec"]["services"][0]["labels"]["tier"] == "it's"


def test_a_missing_key_is_added_at_its_mappings_indentation() -> None:
    after = edit_text(COMMENTED, [Edit(("spec", "services", 0, "traffic"), "standalone")])
    diff = [line for line in difflib.ndiff(COMMENTED.splitlines(), after.splitlines()) if line[:1] in "+-"]
    assert diff == ["+       traffic: standalone"]
    assert YAML(typ="safe").load(after)["spec"]["services"][0]["traffic"] == "standalone"


def test_a_missing_parent_is_added_in_flow_style() -> None:
    after = edit_text(COMMENTED, [Edit(("spec", "services", 1, "labels", "team"), "search")])
    diff = [line for line in difflib.ndiff(COMMENTED.splitlines(), after.splitlines()) if line[:1] in "+-"]
    assert diff == ["+       labels: {team: search}"]


def test_deleting_keys_removes_their_lines_and_the_last_one_leaves_an_empty_mapping() -> None:
    labels = ("spec", "services", 0, "labels")
    one = edit_text(COMMENTED, [Edit((*labels, "tier"), DELETE)])
    assert [line for line in difflib.ndiff(COMMENTED.splitlines(), one.splitlines()) if line[:1] in "+-"] == [
        "-         tier: 'gold'        # single-quoted"]
    both = edit_text(one, [Edit((*labels, "team"), DELETE)])
    assert YAML(typ="safe").load(both)["spec"]["services"][0]["labels"] == {}
    assert edit_text(COMMENTED, [Edit((*labels, "absent"), DELETE)]) == COMMENTED


def test_a_block_collection_is_replaced_by_a_flow_value() -> None:
    rpc = ("spec", "services", 0, "config", "metadata", "rpc")
    after = edit_text(COMMENTED, [Edit(rpc, {"keepalive": 1, "x": "a b"})])
    data = YAML(typ="safe").load(after)
    assert data["spec"]["services"][0]["config"]["metadata"]["rpc"] == {"keepalive": 1, "x": "a b"}
    assert "# the canary" in after and "# trailing comment" in after


def test_a_key_on_a_dash_line_cannot_be_deleted() -> None:
    with pytest.raises(ConfigError, match="list dash"):
        edit_text(COMMENTED, [Edit(("spec", "services", 0, "name"), DELETE)])


@pytest.mark.parametrize("value", ["plain", "a: b", "x # y", "yes", "123", "", " padded", "multi\nline", "ünï"])
def test_scalars_read_back_as_written(value: str) -> None:
    assert YAML(typ="safe").load(f"k: {scalar_text(value)}\n") == {"k": value}


def test_write_file_reports_whether_the_text_changed(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(COMMENTED)
    assert not write_file(path, [Edit(("spec", "services", 0, "replicas"), 2)])
    assert write_file(path, [Edit(("spec", "services", 0, "replicas"), 5)])
    assert "replicas: 5           # two of them" in path.read_text()


def _scalar_leaves(node: object, loc: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    if isinstance(node, dict):
        return [leaf for k, v in node.items() for leaf in _scalar_leaves(v, (*loc, k))]
    if isinstance(node, list):
        return [leaf for i, v in enumerate(node) for leaf in _scalar_leaves(v, (*loc, i))]
    return [loc]


LEAVES = [loc for loc in _scalar_leaves(YAML(typ="safe").load(COMMENTED)) if loc[-1] != "name"]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(LEAVES), st.one_of(st.integers(-10**6, 10**6), st.text(max_size=12), st.booleans()))
def test_any_scalar_edit_changes_that_value_and_one_line_only(loc: tuple[str | int, ...], value: object) -> None:
    after = edit_text(COMMENTED, [Edit(loc, value)])
    want = YAML(typ="safe").load(COMMENTED)
    node = want
    for part in loc[:-1]:
        node = node[part]
    node[loc[-1]] = value
    assert YAML(typ="safe").load(after) == want
    assert len(changed_lines(COMMENTED, after)) <= 1  # the value's own line, nothing else


def test_a_block_scalar_becomes_a_one_line_value_and_the_next_comment_stays() -> None:
    text = "a:\n  script: |\n    cd /app\n    ./run\n  # after\n  port: 1\n"
    assert edit_text(text, [Edit(("a", "script"), "x y")]) == "a:\n  script: x y\n  # after\n  port: 1\n"
    listed = "a:\n  - {x: 1}\n  - b: 2\n    c: 3\n"
    assert edit_text(listed, [Edit(("a", 1), {"z": 1})]) == "a:\n  - {x: 1}\n  - {z: 1}\n"
