"""The overview table of a pull-request comment: one row per group that changes (or warns).

Columns: group | change | traffic mode | shares % now → final | versions | steps.

- shares: every member, `name 80.0 → 100.0` (one number when the share stays).
- versions: what makes a new version, visible without opening anything: a new member with its
  code (`new name …/lr_v3.pmml`), a removed member (`removed name`), the code a member moves to (`name
  model_path …/lr_v3.pmml → …/lr_v4.pmml`, `containers …/app:1.2 → …/app:1.3`), and for any other
  config change the keys that change (`name new version: metadata.rpc.keepalive`). Values are
  shortened to their last path segment. The plan does not carry EAS version numbers (those are
  assigned by EAS when the version is made), so the code is what identifies a version here.

Each cell is a list of items; `row` cuts the lists to a width with `+N more`, so a row always
names its group and fits the width the caller can afford.
"""

from __future__ import annotations

from typing import Any

from reconciler.plan.model import Change, ChangeOp, GroupPlan
from reconciler.plan.render.common import member_pairs, pct, value
from reconciler.plan.render.fit import fit_items, shorten

# Config keys whose values identify the code of a version, shown with their values (in this order).
CODE_FIELDS = ("config.model_path", "config.processor", "config.containers")
HEADER = ["| group | change | traffic mode | shares % now → final | versions | steps |", "|---|---|---|---|---|---:|"]
ITEM_SEP = "<br>"


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _arrow(before: str, after: str) -> str:
    return before if before == after else f"{before} → {after}"


def share_items(group: GroupPlan) -> list[str]:
    out = []
    for name, now, end in member_pairs(group):
        out.append(f"`{cell(name)}` " + _arrow(pct(now.share) if now else "0.0", pct(end.share) if end else "0.0"))
    return out


def _code(v: Any) -> str:
    """A code value in a few characters: images of a container list, else the shortened value."""
    if isinstance(v, list) and all(isinstance(c, dict) for c in v):
        return "+".join(shorten(str(c.get("image", "?"))) for c in v)
    return shorten(value(v))


def _created_code(c: Change) -> str:
    parts = str(c.after).split(", ")
    code = [p.rsplit(" ", 1)[-1] for p in parts if p.startswith("image ") or "://" in p]
    return " ".join(shorten(p) for p in code)


def _member_versions(service: str, changes: list[Change]) -> list[str]:
    code = [c for f in CODE_FIELDS for c in changes if c.field == f]
    other = [c.field.removeprefix("config.") for c in changes if c.field.startswith("config.") and c not in code]
    items = [f"`{cell(service)}` {c.field.removeprefix('config.')} {cell(_code(c.before))} → {cell(_code(c.after))}"
             if c.op is ChangeOp.MODIFY else f"`{cell(service)}` {c.op.value}{c.field.removeprefix('config.')}"
             for c in code]
    if other:
        items.append(f"`{cell(service)}` new version: {', '.join(other)}")
    return items


def version_items(group: GroupPlan) -> list[str]:
    out: list[str] = []
    by_service: dict[str, list[Change]] = {}
    for c in group.changes:
        if c.service is None:
            continue
        if c.field == "service":
            code = _created_code(c) if c.op is ChangeOp.ADD else ""
            word = "new" if c.op is ChangeOp.ADD else "removed"
            out.append(f"{word} `{cell(c.service)}`" + (f" {cell(code)}" if code else ""))
        else:
            by_service.setdefault(c.service, []).append(c)
    for service, changes in by_service.items():
        out += _member_versions(service, changes)
    return out


def mode_text(group: GroupPlan) -> str:
    before = group.mode_before.value if group.mode_before else "(new)"
    after = group.mode_after.value if group.mode_after else "(gone)"
    return _arrow(before, after)


def row(group: GroupPlan, width: int) -> str:
    """The group's row in at most about `width` characters (the fixed cells are never cut)."""
    fixed = f"| `{cell(group.region)}/{cell(group.name)}` | {group.status.value} | {mode_text(group)} |  |  " \
            f"| {len(group.steps)} |"
    shares, versions = share_items(group), version_items(group)
    room = max(width - len(fixed), 0)
    need_v = len(ITEM_SEP.join(versions))
    width_v = min(need_v, room)  # the versions first: what a reviewer must not miss
    width_s = max(room - width_v, 0)
    return (f"| `{cell(group.region)}/{cell(group.name)}` | {group.status.value} | {mode_text(group)} "
            f"| {fit_items(shares, width_s, ITEM_SEP) or '–'} | {fit_items(versions, width_v, ITEM_SEP) or '–'} "
            f"| {len(group.steps)} |")
