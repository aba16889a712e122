"""Load desired-state files: find them, parse them with positions, validate, check, and report every problem at once.

`load_paths` takes files and directories. Directories are walked recursively in sorted order for
`*.yaml` / `*.yml`; other files are skipped with a note, and hidden entries (`.git`, `.github`,
`.venv`, ...) are skipped silently, so `validate` in a repository root sees only group files.
A file named explicitly is always read when it is YAML.

Each file is parsed with ruamel.yaml in round-trip mode (positions kept) and must hold exactly one
`ServiceGroup` mapping. Problems from every file and every stage (syntax, duplicate keys, model
errors, group rules, cross-file duplicates) are collected and raised together as one `SpecError`.
A file that is not a ServiceGroup at all (wrong or missing apiVersion/kind) reports only that, not
a flood of unknown keys.

Notes about skipped files matter most when something fails (a group saved as `.yml.txt` explains a
"not found"), so they travel on the raised error too, as PEP 678 exception notes: `notes_of(err)`.
A path that does not exist is a problem (exit 1), never a silent skip.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.errors import ConfigError, EasGitopsError, Problem, SpecError
from reconciler.spec.checks import check_group, check_unique
from reconciler.spec.desired import DesiredState, LoadedGroup
from reconciler.spec.diagnose import problems_from
from reconciler.spec.model import API_VERSION, DEFAULT_NAME_PATTERN, KIND, ServiceGroup
from reconciler.spec.positions import Positions

__all__ = ["DEFAULT_NAME_PATTERN", "YAML_SUFFIXES", "load_paths", "notes_of", "parse_file"]

YAML_SUFFIXES = (".yaml", ".yml")
_NOT_A_GROUP_HINT = "every *.yaml file under the given paths must be one eas-gitops ServiceGroup"


def _discover(paths: Sequence[Path]) -> tuple[list[Path], list[str], list[Problem]]:
    files: list[Path] = []
    notes: list[str] = []
    problems: list[Problem] = []
    for root in paths:
        if root.is_dir():
            for entry in sorted(root.rglob("*")):
                if any(part.startswith(".") for part in entry.relative_to(root).parts) or not entry.is_file():
                    continue
                if entry.suffix in YAML_SUFFIXES:
                    files.append(entry)
                else:
                    notes.append(f"{entry}: ignored (not *.yaml or *.yml)")
        elif root.is_file():
            if root.suffix in YAML_SUFFIXES:
                files.append(root)
            else:
                notes.append(f"{root}: ignored (not *.yaml or *.yml)")
        else:
            problems.append(Problem(str(root), 0, 0, "no such file or directory",
                                    "give an existing *.yaml file or a directory that holds group files"))
    unique = list(dict.fromkeys(files))  # a file named twice is read once
    return unique, notes, problems


def _syntax_problem(file: str, exc: MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    text = str(exc.problem or exc.context or "invalid YAML")
    if "'\\t'" in text or "\t" in text:
        hint = "indent with spaces, not tabs"
    elif "mapping values are not allowed" in text:
        hint = "check the indentation of this line, or quote a value that contains ': '"
    else:
        hint = "check indentation, quotes and brackets around here"
    return Problem(file, line, col, f"YAML syntax error: {text}", hint)


def _duplicate_keys(file: str, node: Node, seen_nodes: set[int] | None = None) -> list[Problem]:
    """Keys repeated in one mapping (ruamel keeps the first value; the file is ambiguous either way)."""
    seen_nodes = set() if seen_nodes is None else seen_nodes
    if id(node) in seen_nodes:  # an alias points at a node already checked
        return []
    seen_nodes.add(id(node))
    problems: list[Problem] = []
    if isinstance(node, MappingNode):
        first: dict[Any, int] = {}
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                if key.value in first:
                    problems.append(Problem(
                        file, key.start_mark.line + 1, key.start_mark.column + 1,
                        f"duplicate key '{key.value}' (first at line {first[key.value]})",
                        "a key may appear once per mapping: remove or rename one"))
                else:
                    first[key.value] = key.start_mark.line + 1
            problems += _duplicate_keys(file, value, seen_nodes)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            problems += _duplicate_keys(file, item, seen_nodes)
    return problems


def parse_file(path: Path) -> tuple[Any, list[Problem]]:
    """The round-trip document of a one-document YAML file (None when unusable), and its problems."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(file, 0, 0, f"cannot read the file: {exc}", "save it as UTF-8 text")]
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = True  # reported below with positions, so one run shows every problem
    try:
        nodes = [n for n in yaml.compose_all(text) if n is not None]
        docs = list(yaml.load_all(text))
    except MarkedYAMLError as exc:
        return None, [_syntax_problem(file, exc)]
    except YAMLError as exc:  # unmarked: rare, no position
        return None, [Problem(file, 1, 1, f"YAML error: {exc}", "check the file is valid YAML")]
    if len(nodes) > 1:
        mark = nodes[1].start_mark
        return None, [Problem(file, mark.line + 1, mark.column + 1,
                              f"the file holds {len(nodes)} YAML documents; expected one ServiceGroup",
                              "split it: one group per file, no '---' between groups")]
    problems = _duplicate_keys(file, nodes[0]) if nodes else []
    data = docs[0] if docs else None
    if data is None:
        return None, [Problem(file, 1, 1, "the file is empty: expected one ServiceGroup document",
                              "start from examples/groups/pmml.yaml")]
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a single value ({type(data).__name__})"
        return None, [Problem(file, 1, 1, f"the top level is {kind}: expected a mapping with apiVersion, kind, "
                                          "metadata and spec", "one ServiceGroup per file, not a list of groups")]
    return data, problems


def plain(value: Any) -> Any:
    """Plain Python data from a ruamel document: dicts, lists, str, int, float, bool, None."""
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, bool) or type(value).__name__ == "ScalarBoolean":
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, datetime.date):  # JSON has no dates: pass them through as ISO text
        return value.isoformat()
    return value


def _header_problems(pos: Positions, data: dict[str, Any]) -> list[Problem]:
    """apiVersion and kind first: a file that is not a ServiceGroup gets one clear message."""
    problems = []
    for key, want in (("apiVersion", API_VERSION), ("kind", KIND)):
        got = data.get(key)
        if key not in data:
            problems.append(Problem(pos.file, 1, 1, f"missing {key}: expected '{want}'", _NOT_A_GROUP_HINT))
        elif got != want:
            problems.append(pos.at_value((key,), f"{key} is {got!r}: expected '{want}'", _NOT_A_GROUP_HINT))
    return problems


def _load_group(path: Path, data: dict[str, Any]) -> tuple[LoadedGroup | None, list[Problem]]:
    pos = Positions(str(path), data)
    header = _header_problems(pos, data)
    if header:
        return None, header
    try:
        group = ServiceGroup.model_validate(plain(data))
    except ValidationError as exc:
        return None, problems_from(exc, pos)
    return LoadedGroup(group, path, pos), []


def load_paths(paths: Sequence[Path], *, name_pattern: str = DEFAULT_NAME_PATTERN) -> DesiredState:
    """Every ServiceGroup under `paths`, validated and checked; raises SpecError listing all problems."""
    try:
        pattern = re.compile(name_pattern)
    except re.error as exc:
        raise ConfigError(f"the name pattern {name_pattern!r} is not a valid regular expression: {exc} "
                          f"(the EAS default is {DEFAULT_NAME_PATTERN})") from exc
    files, notes, problems = _discover(paths)
    if not files and not problems:
        shown = ", ".join(str(p) for p in paths)
        raise _with_notes(ConfigError(f"no *.yaml or *.yml files found in {shown}: "
                                      "name group files *.yaml or *.yml"), notes)
    groups: list[LoadedGroup] = []
    for path in files:
        data, found = parse_file(path)
        problems += found
        if data is None:
            continue
        loaded, found = _load_group(path, data)
        problems += found
        if loaded is not None:
            groups.append(loaded)
            problems += check_group(loaded, pattern)
    problems += check_unique(groups)
    if problems:
        raise _with_notes(SpecError(problems), notes)
    return DesiredState(tuple(groups), tuple(notes))


def _with_notes(err: EasGitopsError, notes: list[str]) -> EasGitopsError:
    for note in notes:
        err.add_note(note)
    return err


def notes_of(err: BaseException) -> list[str]:
    """The notes about skipped files that `load_paths` attached to the error it raised."""
    return list(getattr(err, "__notes__", ()))
