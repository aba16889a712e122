"""GitHub Actions: the job summary, step outputs and workflow-command annotations.

Pure functions return text; the two writers only append to the files GitHub names. Nothing here
prints: the CLI decides (annotations go to stdout, where the runner reads workflow commands).

- Job summary (`$GITHUB_STEP_SUMMARY`): GitHub takes at most 1 MiB (`SUMMARY_LIMIT`, 1,048,576
  bytes of UTF-8) per step and drops the whole summary past it. `append_summary` appends the full
  plan after what the step already wrote and cuts it, on a line boundary, so the file stays within
  the limit; a cut ends with a note pointing at the JSON plan. Open code fences and `<details>`
  are closed first so the note renders as text.
- Step outputs (`$GITHUB_OUTPUT`): `name=value` per line; a value with a line break is written as
  `name<<DELIMITER` ... `DELIMITER` with a delimiter that does not occur in the value.
  Plan: `changes` (true|false), `exitcode`, `groups`, `groups_changed`, `groups_to_delete`,
  `services_to_create`, `services_to_update`, `services_to_delete`, `steps`, `warnings`, `summary`
  (the plan's one-line headline). Apply: `changes`, `exitcode`, `groups`, `groups_done`,
  `groups_failed`, `groups_rolled_back` (a release aborted on evidence, its abort path carried out),
  `steps_done`.
- Annotations: `::error file=F,line=L,col=C,title=T::message` (and `::warning`); GitHub requires
  `%`, CR and LF escaped in the message, and additionally `:` and `,` in property values.
  File paths are made relative to `$GITHUB_WORKSPACE` when they lie inside it, so the annotation
  lands on the pull request's diff.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from reconciler.errors import Problem
from reconciler.plan.model import Plan
from reconciler.plan.render.common import headline
from reconciler.plan.render.markdown import render_markdown

ENV_ACTIONS = "GITHUB_ACTIONS"
ENV_SUMMARY = "GITHUB_STEP_SUMMARY"
ENV_OUTPUT = "GITHUB_OUTPUT"
ENV_WORKSPACE = "GITHUB_WORKSPACE"
SUMMARY_LIMIT = 1_048_576
TRUNCATED_NOTE = ("_The job summary stops here: GitHub keeps at most 1 MiB per step. The whole plan is in the "
                  "JSON plan (`plan --out`, kept as the run's artifact)._")
OutputValue = str | int | bool


def in_actions(env: Mapping[str, str]) -> bool:
    """True in a GitHub Actions job (the runner sets GITHUB_ACTIONS=true)."""
    return env.get(ENV_ACTIONS, "").lower() == "true"


# ---- annotations ------------------------------------------------------------------------------------------


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, message: str, *, file: str | None = None, line: int = 0, col: int = 0,
               title: str | None = None) -> str:
    """One workflow command, e.g. `::error file=a.yaml,line=3,col=5,title=eas-gitops::bad value`."""
    props = [f"file={escape_property(file)}"] if file else []
    if file and line:
        props += [f"line={line}", f"col={col or 1}"]
    if title:
        props.append(f"title={escape_property(title)}")
    return f"::{level}{' ' + ','.join(props) if props else ''}::{escape_data(message)}"


def relative_file(file: str, workspace: str | None) -> str:
    """`file` relative to the workspace when it lies inside it (GitHub matches annotations by repository path)."""
    if not workspace:
        return file
    try:
        return Path(file).resolve().relative_to(Path(workspace).resolve()).as_posix()
    except ValueError:
        return file


def problem_annotations(problems: Iterable[Problem], workspace: str | None = None) -> list[str]:
    """One `::error` per problem of the files, located at its line and column."""
    return [annotation("error", p.message + (f" ({p.hint})" if p.hint else ""),
                       file=relative_file(p.file, workspace), line=p.line, col=p.column,
                       title="eas-gitops validate") for p in problems]


def error_annotation(message: str) -> str:
    """An error that has no place in a file (EAS unreachable, an unsafe plan)."""
    return annotation("error", message, title="eas-gitops")


def plan_annotations(plan: Plan) -> list[str]:
    """One `::warning` per warning of the plan and of its groups, titled with the group."""
    warnings = [*plan.warnings, *(w for g in plan.groups for w in g.warnings)]
    return [annotation("warning", w.message, title=f"eas-gitops plan {w.region}/{w.group}") for w in warnings]


# ---- job summary ------------------------------------------------------------------------------------------


def _close_open_blocks(lines: list[str]) -> list[str]:
    """Closing lines for a code fence or `<details>` left open by a cut."""
    closing = ["```"] if sum(1 for line in lines if line.startswith("```")) % 2 else []
    open_details = sum(line.count("<details>") - line.count("</details>") for line in lines)
    return closing + ["</details>"] * max(open_details, 0)


def truncate_summary(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """`text` if it fits in `limit` UTF-8 bytes, else whole lines of it, closed blocks and the note."""
    if len(text.encode()) <= limit:
        return text
    tail = ["", "---", "", TRUNCATED_NOTE]
    reserve = len("\n".join(["```", *["</details>"] * 4, *tail, ""]).encode())  # closing lines + note
    kept: list[str] = []
    size = 0
    for line in text.split("\n"):
        size += len(line.encode()) + 1
        if size > limit - reserve:
            break
        kept.append(line)
    closing = _close_open_blocks(kept)
    while len("\n".join([*kept, *closing, *tail, ""]).encode()) > limit and kept:  # only with very deep nesting
        kept.pop()
        closing = _close_open_blocks(kept)
    return "\n".join([*kept, *closing, *tail]) + "\n"


def plan_summary(plan: Plan) -> str:
    """The full plan, for the job summary (no comment limit; `truncate_summary` guards the summary's)."""
    return render_markdown(plan, limit=None)


def append_summary(path: Path, text: str, limit: int = SUMMARY_LIMIT) -> None:
    """Append `text` to the step summary, cut so the whole file stays within `limit` bytes."""
    used = path.stat().st_size if path.exists() else 0
    room = limit - used
    if room < len(TRUNCATED_NOTE.encode()) + 64:
        return  # nothing useful fits after what the step already wrote
    with path.open("a", encoding="utf-8") as f:
        f.write(truncate_summary(text, room))


# ---- step outputs -----------------------------------------------------------------------------------------


def _text(value: OutputValue) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def output_text(values: Mapping[str, OutputValue], delimiter: str | None = None) -> str:
    """`name=value` lines; multi-line values as `name<<D`, the lines, `D` (D never occurs in the value)."""
    out: list[str] = []
    for name, raw in values.items():
        value = _text(raw)
        if "\n" not in value and "\r" not in value:
            out.append(f"{name}={value}")
            continue
        mark = delimiter or f"EAS_GITOPS_{uuid.uuid4().hex}"
        while mark in value:
            mark += "_"
        out += [f"{name}<<{mark}", value, mark]
    return "\n".join(out) + "\n"


def plan_outputs(plan: Plan | None, exitcode: int) -> dict[str, OutputValue]:
    """What a workflow step reads after `plan` (`plan` None: it failed before a plan existed)."""
    if plan is None:
        return {"changes": False, "exitcode": exitcode}
    s = plan.summary
    return {"changes": plan.has_changes, "exitcode": exitcode, "groups": s.groups,
            "groups_changed": s.groups_changed, "groups_to_delete": s.groups_to_delete,
            "services_to_create": s.services_to_create, "services_to_update": s.services_to_update,
            "services_to_delete": s.services_to_delete, "steps": s.steps, "warnings": s.warnings,
            "summary": headline(plan)}


def apply_outputs(groups: Sequence[tuple[str, int]], exitcode: int) -> dict[str, OutputValue]:
    """What a workflow step reads after `apply`: `groups` is (outcome, steps done) per group."""
    return {"changes": any(done for _, done in groups), "exitcode": exitcode, "groups": len(groups),
            "groups_done": sum(1 for outcome, _ in groups if outcome == "done"),
            "groups_failed": sum(1 for outcome, _ in groups if outcome not in ("done", "rolled_back")),
            "groups_rolled_back": sum(1 for outcome, _ in groups if outcome == "rolled_back"),
            "steps_done": sum(done for _, done in groups)}


def append_outputs(path: Path, values: Mapping[str, OutputValue]) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(output_text(values))


def target_file(env: Mapping[str, str], name: str) -> Path | None:
    """The file GitHub names in `env[name]`, when running under Actions and the variable is set."""
    value = env.get(name, "")
    return Path(value) if in_actions(env) and value else None


def workspace(env: Mapping[str, str] = os.environ) -> str | None:
    return env.get(ENV_WORKSPACE) or None
