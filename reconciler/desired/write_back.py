"""Edit a group file in place: change, add or delete single values, every other byte kept.

`drift --write` and `apply --write-back` record live values in the files. A full ruamel dump
would re-flow the file (indentation, quoting, blank lines, some comments), so instead the file is
composed with ruamel (every node carries its start and end offset in the text) and only the text
of the edited values is replaced: comments, key order, blank lines and layout outside those values
stay byte for byte.

Edits (`Edit(loc, value)`, `loc` a key path as pydantic reports it, `DELETE` to remove a key):
- an existing value is replaced where it stands; a scalar keeps its quoting style (plain when the
  value reads back the same, else double-quoted); a new mapping or list is written in flow style
  (`{a: 1}`), which keeps the edit to the value itself;
- a missing key is added as the last entry of its block mapping, at that mapping's indentation
  (in a flow mapping, or when its parents are missing too, the nearest existing mapping is
  rewritten in flow style);
- a deleted key loses its line(s); the last key of a block mapping leaves `{}`.
A key that shares its line with a list dash (`- name: x`) cannot be deleted this way: ConfigError.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.desired.positions import Loc, dotted
from reconciler.errors import ConfigError


class _Delete:
    def __repr__(self) -> str:
        return "DELETE"


DELETE: Any = _Delete()


@dataclass(frozen=True)
class Edit:
    loc: Loc
    value: Any  # plain data, or DELETE


def _safe_load(text: str) -> Any:
    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError:
        return object()  # reads back as something else: not safe


def _printable(c: str) -> bool:
    """Written as is inside double quotes: YAML's printable set (YAML 1.2, 5.1) without the line breaks
    YAML folds (NEL, LS, PS); json.dumps already escapes tab, newline and carriage return."""
    o = ord(c)
    return (0x20 <= o <= 0x7E or 0xA0 <= o <= 0xD7FF or 0xE000 <= o <= 0xFFFD or o >= 0x10000) \
        and o not in (0x2028, 0x2029)


def _double_quoted(value: str) -> str:
    return "".join(c if _printable(c) else f"\\u{ord(c):04x}" for c in json.dumps(value, ensure_ascii=False))


def scalar_text(value: Any, style: str | None = None) -> str:
    """One scalar as YAML text; strings plain when they read back the same, else quoted."""
    if not isinstance(value, str):
        return json.dumps(value)  # null, true/false, numbers: the same in YAML
    if style == "'" and "\n" not in value and all(_printable(c) for c in value):
        return "'" + value.replace("'", "''") + "'"
    # plain only where it reads back the same in block and in flow context (no flow indicators)
    plain_ok = (value and value == value.strip() and "\n" not in value and " #" not in value
                and not any(c in value for c in ",[]{}"))
    if style != '"' and plain_ok and _safe_load(f"k: {value}\n") == {"k": value}:
        return value
    return _double_quoted(value)


def flow_text(value: Any) -> str:
    """A mapping or list in flow style with plain scalars where safe: `{team: a, n: 2}`."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar_text(str(k))}: {flow_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow_text(v) for v in value) + "]"
    return scalar_text(value)


def _child(node: Node, part: str | int) -> tuple[Node | None, Node | None]:
    """(key node, value node) of `part` under `node`; (None, None) when absent."""
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == str(part):
                return key, value
    elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return None, node.value[part]
    return None, None


def _last_end(node: Node) -> int:
    """Offset just past the last character of `node`'s content (for a block collection, of its last leaf)."""
    while isinstance(node, MappingNode | SequenceNode) and node.value and not node.flow_style:
        last = node.value[-1]
        node = last[1] if isinstance(last, tuple) else last
    return int(node.end_mark.index)


def _line_end(text: str, index: int) -> int:
    """Offset just past the newline of the line holding `index` (the text's end on the last line)."""
    end = text.find("\n", index)
    return len(text) if end < 0 else end + 1


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _replace(text: str, key: Node | None, node: Node, value: Any) -> tuple[int, int, str]:
    if isinstance(node, ScalarNode) and not isinstance(value, dict | list):
        start, end = node.start_mark.index, node.end_mark.index
        rendered = scalar_text(value, node.style if node.style in ("'", '"') else None)
        if node.style in ("|", ">"):  # a block scalar spans whole lines: the new value stays on the key's line
            start = text.index(":", key.end_mark.index) + 1 if key is not None else start
            return start, end, f" {rendered}\n"
        return start, end, rendered
    rendered = flow_text(value) if isinstance(value, dict | list) else scalar_text(value)
    if getattr(node, "flow_style", False) or isinstance(node, ScalarNode):
        return node.start_mark.index, node.end_mark.index, rendered
    if key is None:  # a block collection as a list item: keep the dash, write the value after it
        return node.start_mark.index, _last_end(node), rendered
    colon = text.index(":", key.end_mark.index)  # a block collection: the new value goes after `key:`
    return colon + 1, _last_end(node), f" {rendered}"


def _add(text: str, parent: Node, loc: Loc, value: Any) -> tuple[int, int, str]:
    """Add key `loc[-1]` to the mapping `parent` (block: a new last line; flow: rewritten)."""
    if not isinstance(parent, MappingNode):
        raise ConfigError(f"cannot add {dotted(loc)}: its parent is not a mapping")
    key = str(loc[-1])
    if parent.flow_style or not parent.value:
        raise _Rewrite
    first_key = parent.value[0][0]
    indent = first_key.start_mark.column
    at = _line_end(text, _last_end(parent) - 1)
    rendered = flow_text(value) if isinstance(value, dict | list) else scalar_text(value)
    prefix = "" if at == 0 or text[at - 1] == "\n" else "\n"
    return at, at, f"{prefix}{' ' * indent}{scalar_text(key)}: {rendered}\n"


class _Rewrite(Exception):
    """The parent mapping must be rewritten whole (flow style or empty)."""


def _delete(text: str, parent: Node, key: Node, node: Node, loc: Loc) -> tuple[int, int, str]:
    assert isinstance(parent, MappingNode)
    if parent.flow_style:
        raise _Rewrite
    start = _line_start(text, key.start_mark.index)
    if text[start:key.start_mark.index].strip():
        raise ConfigError(f"cannot delete {dotted(loc)}: it shares its line with a list dash; edit it by hand")
    if len(parent.value) == 1:
        raise _Rewrite
    return start, _line_end(text, max(_last_end(node) - 1, start)), ""


def _plain(node: Node) -> Any:
    if isinstance(node, MappingNode):
        return {k.value: _plain(v) for k, v in node.value}
    if isinstance(node, SequenceNode):
        return [_plain(v) for v in node.value]
    assert isinstance(node, ScalarNode)
    return _safe_load(f"k: {node.value}\n")["k"] if node.style is None else node.value


def _splice(text: str, root: Node, edit: Edit) -> tuple[int, int, str]:
    """(start, end, replacement) in `text` for one edit."""
    chain: list[tuple[Node | None, Node]] = [(None, root)]
    for part in edit.loc:
        key, child = _child(chain[-1][1], part)
        if child is None:
            break
        chain.append((key, child))
    found = len(chain) - 1 == len(edit.loc)
    if found:
        key, node = chain[-1]
        if edit.value is not DELETE:
            return _replace(text, key, node, edit.value)
        assert key is not None
        try:
            return _delete(text, chain[-2][1], key, node, edit.loc)
        except _Rewrite:
            return _rewrite(text, chain[:-1], edit)
    if edit.value is DELETE:
        return 0, 0, ""  # nothing to delete
    depth = len(chain) - 1
    value: Any = edit.value
    for part in reversed(edit.loc[depth + 1:]):
        value = {str(part): value}
    try:
        return _add(text, chain[-1][1], edit.loc[:depth + 1], value)
    except _Rewrite:
        return _rewrite(text, chain, Edit(edit.loc[:depth + 1], value))


def _rewrite(text: str, chain: list[tuple[Node | None, Node]], edit: Edit) -> tuple[int, int, str]:
    """Rewrite the mapping at the end of `chain` in flow style with the edit applied."""
    key, parent = chain[-1]
    data = _plain(parent)
    if edit.value is DELETE:
        data.pop(str(edit.loc[-1]), None)
    else:
        data[str(edit.loc[-1])] = edit.value
    return _replace(text, key, parent, data)


def edit_text(text: str, edits: Sequence[Edit], file: str = "<text>") -> str:
    """`text` with the edits made one after the other (each on the text the previous one left)."""
    for edit in edits:
        try:
            root = YAML(typ="rt").compose(text)
        except YAMLError as exc:
            raise ConfigError(f"{file}: cannot edit: the file is not valid YAML ({exc})") from exc
        if root is None:
            raise ConfigError(f"{file}: cannot edit an empty file")
        start, end, new = _splice(text, root, edit)
        text = text[:start] + new + text[end:]
    return text


def write_file(path: Path, edits: Sequence[Edit]) -> bool:
    """Make the edits in the file; True when its text changed."""
    if not edits:
        return False
    try:
        before = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    after = edit_text(before, edits, str(path))
    if after == before:
        return False
    try:
        path.write_text(after, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from exc
    return True
