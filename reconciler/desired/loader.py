"""Load desired-state files: find them, parse them with positions, validate, check, and report every problem at once.

`load_paths` takes files and directories. Directories are walked recursively in sorted order for
`*.yaml` / `*.yml`; other files are skipped with a note, and hidden entries (`.git`, `.github`,
`.venv`, ...) are skipped silently, so `validate` in a repository root sees only group files.
A file named explicitly is always read when it is YAML.

Each file is read by `reading.read_text` (regular files only, never blocking, at most
`EAS_GITOPS_MAX_FILE_BYTES`), parsed once by `compose.compose` (plain data and the position of every
key and value, under the depth and value limits of `limits.Limits`), and must hold exactly one
`ServiceGroup` mapping. Problems from every file and every stage (syntax, duplicate keys, model
errors, group rules, cross-file duplicates) are collected and raised together as one `SpecError`.
A file that is not a ServiceGroup at all (wrong or missing apiVersion/kind) reports only that, not
a flood of unknown keys.

Notes about skipped files matter most when something fails (a group saved as `.yml.txt` explains a
"not found"), so they travel on the raised error too, as PEP 678 exception notes: `notes_of(err)`.
A path that does not exist is a problem (exit 1), never a silent skip.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from reconciler.desired.checks import check_group, check_unique
from reconciler.desired.compose import Fatal, PosTree, compose
from reconciler.desired.diagnose import problems_from
from reconciler.desired.limits import DEFAULT_NAME_PATTERN, Limits
from reconciler.desired.model import API_VERSION, KIND, ServiceGroup, reference_problems
from reconciler.desired.positions import Positions
from reconciler.desired.reading import read_text
from reconciler.desired.state import DesiredState, LoadedGroup
from reconciler.errors import ConfigError, EasGitopsError, Problem, SpecError

__all__ = ["DEFAULT_NAME_PATTERN", "YAML_SUFFIXES", "Parsed", "load_paths", "notes_of", "parse_file"]

YAML_SUFFIXES = (".yaml", ".yml")
FREEZE_FROM_FILES = 100  # loads this big freeze what they made (see _collector_paused)
_NOT_A_GROUP_HINT = "every *.yaml file under the given paths must be one eas-gitops ServiceGroup"


def _discover(paths: Sequence[Path]) -> tuple[list[Path], list[str], list[Problem]]:
    files: list[Path] = []
    notes: list[str] = []
    problems: list[Problem] = []
    for root in paths:
        if root.is_dir():
            for entry in sorted(root.rglob("*")):
                if any(part.startswith(".") for part in entry.relative_to(root).parts) or entry.is_dir():
                    continue
                if entry.suffix in YAML_SUFFIXES:
                    files.append(entry)  # a pipe or device named *.yaml is reported by the reader
                elif entry.is_file():
                    notes.append(f"{entry}: ignored (not *.yaml or *.yml)")
        elif root.is_file() and root.suffix not in YAML_SUFFIXES:
            notes.append(f"{root}: ignored (not *.yaml or *.yml)")
        elif root.exists():
            files.append(root)  # a YAML file, or a pipe, device or socket: the reader says which
        else:
            problems.append(Problem(str(root), 0, 0, "no such file or directory",
                                    "give an existing *.yaml file or a directory that holds group files"))
    unique = list(dict.fromkeys(files))  # a file named twice is read once
    return unique, notes, problems


def _syntax_problem(file: str, text: str, exc: MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    message = str(exc.problem or exc.context or "invalid YAML")
    lines = text.splitlines() if mark is not None else []
    at = lines[line - 1][col - 1: col] if line <= len(lines) else ""
    if at == "\t" or "'\\t'" in message:  # the C and the pure parser word this differently
        message, hint = "found a tab character, which cannot start any token", "indent with spaces, not tabs"
    elif "mapping values are not allowed" in message:
        hint = "check the indentation of this line, or quote a value that contains ': '"
    else:
        hint = "check indentation, quotes and brackets around here"
    return Problem(file, line, col, f"YAML syntax error: {message}", hint)


@dataclass(frozen=True)
class Parsed:
    """One file read: its plain data (None when unusable), where each value sits, and its problems."""

    data: Any
    positions: PosTree
    problems: list[Problem]


def parse_file(path: Path, limits: Limits | None = None) -> Parsed:
    """Read and parse one file (one pass, under `limits`); problems say what keeps it from being a group."""
    file, limits = str(path), limits or Limits()
    text, problems = read_text(path, limits.max_file_bytes)
    if text is None:
        return Parsed(None, None, problems)
    try:
        doc = compose(file, text, limits)
    except Fatal as stop:
        return Parsed(None, None, stop.problems)
    except MarkedYAMLError as exc:
        return Parsed(None, None, [_syntax_problem(file, text, exc)])
    except YAMLError as exc:  # unmarked: rare, no position
        return Parsed(None, None, [Problem(file, 1, 1, f"YAML error: {exc}", "check the file is valid YAML")])
    problems = doc.problems + [Problem(file, line, col, message, hint) for value, line, col in doc.references
                               for message, hint in reference_problems(value)]
    if doc.root is None:
        problems.append(Problem(file, 1, 1, "the file is empty: expected one ServiceGroup document",
                                "start from examples/groups/pmml.yaml"))
    elif not isinstance(doc.root, dict):
        kind = "a list" if isinstance(doc.root, list) else f"a single value ({type(doc.root).__name__})"
        problems.append(Problem(file, 1, 1, f"the top level is {kind}: expected a mapping with apiVersion, kind, "
                                            "metadata and spec", "one ServiceGroup per file, not a list of groups"))
    usable = doc.usable and isinstance(doc.root, dict) and len(problems) == len(doc.problems)
    return Parsed(doc.root if usable else None, doc.root_pos, problems)


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


def _load_group(path: Path, parsed: Parsed) -> tuple[LoadedGroup | None, list[Problem]]:
    pos, data = Positions(str(path), parsed.positions), parsed.data
    header = _header_problems(pos, data)
    if header:
        return None, header
    try:
        group = ServiceGroup.model_validate(data)
    except ValidationError as exc:
        return None, problems_from(exc, pos)
    return LoadedGroup(group, path, pos), []


def load_paths(paths: Sequence[Path], *, name_pattern: str = DEFAULT_NAME_PATTERN,
               limits: Limits | None = None) -> DesiredState:
    """Every ServiceGroup under `paths`, validated and checked; raises SpecError listing all problems.

    `limits` defaults to `Limits.from_env()` (the EAS_GITOPS_MAX_* settings).
    """
    limits = Limits.from_env() if limits is None else limits
    try:
        pattern = re.compile(name_pattern)
    except re.error as exc:
        raise ConfigError(f"the name pattern {name_pattern!r} is not a valid regular expression: {exc} "
                          f"(the EAS default is {DEFAULT_NAME_PATTERN})") from exc
    files, notes, problems = _discover(paths)
    with _collector_paused(len(files) >= FREEZE_FROM_FILES):
        return _load(paths, files, notes, problems, pattern, limits)


@contextmanager
def _collector_paused(big: bool) -> Iterator[None]:
    """Python's cyclic garbage collector off while loading: it would walk the growing documents again and again
    (a third of the load time at 1,000 files). Loading makes no reference cycles, and the limits bound its memory.

    After a big load (`FREEZE_FROM_FILES` files or more) what exists is frozen (`gc.freeze`): the desired state
    lives as long as the command, and the collector would otherwise walk all of it once more at its next full
    pass and at exit (0.5 s at 1,000 files). Frozen objects are still freed by reference counting; only garbage
    cycles that already exist are kept, which is why small loads (tests, a few files) do not freeze."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if big:
            gc.freeze()
        if was_enabled:
            gc.enable()


def _load(paths: Sequence[Path], files: list[Path], notes: list[str], problems: list[Problem],
          pattern: re.Pattern[str], limits: Limits) -> DesiredState:
    if not files and not problems:
        shown = ", ".join(str(p) for p in paths)
        raise _with_notes(ConfigError(f"no *.yaml or *.yml files found in {shown}: "
                                      "name group files *.yaml or *.yml"), notes)
    groups: list[LoadedGroup] = []
    for path in files:
        parsed = parse_file(path, limits)
        problems += parsed.problems
        if parsed.data is None:
            continue
        loaded, found = _load_group(path, parsed)
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
