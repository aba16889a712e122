"""Drift as text, JSON, markdown or GitHub workflow annotations (pure: strings in, strings out).

Each item is placed in its group file: `Located(item, file, line, col)`, the line of the field
(or of the nearest key the file has: a field the file leaves at its default points at its
member). JSON (format_version 1) is for machines and the CI outputs:

    {"format_version": 1, "drift": true, "summary": {"by_hand": 1, "platform": 0, ...},
     "items": [{"region", "group", "service", "field", "class", "live", "file", "action",
                "next_apply": "keeps" | "reverts" | "creates" | "leaves", "counted", "path", "line", "col"}]}

Only items with `shown` are rendered (an ignored field is silent).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.plan.drift import DriftClass, DriftItem, summary
from reconciler.plan.render.fit import COMMENT_BUDGET

FORMAT_VERSION = 1
CLASS_WORDS = {
    DriftClass.BY_HAND: "changed by hand",
    DriftClass.PLATFORM: "moved by the platform (not drift)",
    DriftClass.UNMANAGED: "unmanaged member added to the group",
    DriftClass.MISSING: "managed service missing",
    DriftClass.PENDING: "file ahead of live, apply carries it out (not drift)",
}
MARKS = {DriftClass.BY_HAND: "~", DriftClass.PLATFORM: "i", DriftClass.UNMANAGED: "+",
         DriftClass.MISSING: "-", DriftClass.PENDING: ">"}


@dataclass(frozen=True)
class Located:
    item: DriftItem
    file: str
    line: int
    col: int


def next_apply(item: DriftItem) -> str:
    """What the next apply does about it: keeps the live value, reverts it, creates the member, leaves it."""
    if item.cls is DriftClass.BY_HAND:
        return "keeps" if item.kept_live else "reverts"
    if item.cls is DriftClass.MISSING:
        return "creates"
    if item.cls is DriftClass.PENDING:
        return "applies"
    return "leaves"


def _what(item: DriftItem) -> str:
    return f"{item.service} {item.field}" if item.service else item.field


def _values(item: DriftItem) -> str:
    if item.field == "service":
        return ""
    return f": file {json.dumps(item.file, default=str)}, live {json.dumps(item.live, default=str)}"


def message(item: DriftItem) -> str:
    """One line: what, the values, the class, and what apply does."""
    write = "leaves the file (it may be ahead)" if item.file_may_be_ahead else "records it"
    tail = {"keeps": f"policy {item.action.value}: apply keeps the live value, `drift --write` {write}",
            "reverts": f"policy {item.action.value}: the next apply sets the file's value"
                       + ("" if item.known or item.action.value == "revert" else
                          " (EAS keeps no record of it: name it under report to keep it)"),
            "creates": "the next apply creates it again", "applies": "", "leaves": ""}[next_apply(item)]
    return f"{_what(item)}{_values(item)} ({CLASS_WORDS[item.cls]}{'; ' + tail if tail else ''})"


def _shown(located: Sequence[Located]) -> list[Located]:
    return [loc for loc in located if loc.item.shown]


def _total_line(items: Sequence[DriftItem]) -> str:
    counts = summary(items)
    drifted = sum(1 for i in items if i.counted)
    groups = len({(i.region, i.group) for i in items if i.counted})
    if not drifted:
        return "No drift." + (f" ({counts['platform']} platform, {counts['pending']} pending)"
                              if counts["platform"] or counts["pending"] else "") + "\n"
    parts = ", ".join(f"{counts[c.value]} {c.value}" for c in DriftClass if counts[c.value])
    return f"Drift: {drifted} item(s) in {groups} group(s) ({parts}).\n"


def render_text(located: Sequence[Located]) -> str:
    out: list[str] = []
    current = None
    for loc in _shown(located):
        key = (loc.item.region, loc.item.group)
        if key != current:
            out.append(f"{loc.item.region}/{loc.item.group} ({loc.file}):")
            current = key
        out.append(f"  {MARKS[loc.item.cls]} {message(loc.item)}  [line {loc.line}]")
    return "\n".join(out) + ("\n" if out else "") + _total_line([loc.item for loc in located])


def render_json(located: Sequence[Located]) -> str:
    items = [loc.item for loc in located]
    doc: dict[str, Any] = {
        "format_version": FORMAT_VERSION, "drift": any(i.counted for i in items), "summary": summary(items),
        "items": [{"region": loc.item.region, "group": loc.item.group, "service": loc.item.service,
                   "field": loc.item.field, "class": loc.item.cls.value, "live": loc.item.live,
                   "file": loc.item.file, "action": loc.item.action.value, "next_apply": next_apply(loc.item),
                   "counted": loc.item.counted, "path": loc.file, "line": loc.line, "col": loc.col}
                  for loc in _shown(located)],
    }
    return json.dumps(doc, indent=2, default=str) + "\n"


def _cell(value: Any) -> str:
    text = "" if value is None else json.dumps(value, default=str)
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`" if text else ""


def render_markdown(located: Sequence[Located], limit: int = COMMENT_BUDGET) -> str:
    """A table for an issue or a pull request; rows past `limit` characters are left out, with a note.

    The default leaves `COMMENT_MARGIN` of GitHub's 65,536 characters for what a workflow puts
    before the report (the drift workflow's "Found by this run" line), so nothing needs cutting.
    """
    shown = _shown(located)
    out = ["### eas-gitops drift", "", _total_line([loc.item for loc in located]).strip(), ""]
    if shown:
        out += ["| group | member | field | file | live | cause | next apply |", "|---|---|---|---|---|---|---|"]
        size = sum(len(line) + 1 for line in out)
        for n, loc in enumerate(shown):
            i = loc.item
            row = (f"| {i.region}/{i.group} | {i.service or ''} | `{i.field}` | {_cell(i.file)} | "
                   f"{_cell(i.live)} | {CLASS_WORDS[i.cls]} | {next_apply(i)} |")
            if size + len(row) + 1 > limit - 200:  # room for the note
                out += ["", f"{len(shown) - n} more item(s) left out to fit one comment: "
                            "`eas-gitops drift --format json` lists every one."]
                break
            out.append(row)
            size += len(row) + 1
    return "\n".join(out) + "\n"


def _escape(text: str) -> str:
    """GitHub workflow-command escaping of a message (and of property values)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def render_github(located: Sequence[Located]) -> str:
    """`::warning` for drift, `::notice` for the rest, each at the field's line of the group file."""
    out = []
    for loc in _shown(located):
        kind = "warning" if loc.item.counted else "notice"
        props = f"file={_escape(loc.file).replace(',', '%2C').replace(':', '%3A')},line={loc.line},col={loc.col}"
        out.append(f"::{kind} {props},title=drift::{_escape(message(loc.item))}")
    out.append(_total_line([loc.item for loc in located]).strip())
    return "\n".join(out) + "\n"
