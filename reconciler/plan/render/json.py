"""Plan as JSON: the canonical form (`plan --out`, bots, policy checks).

`render_json(plan)` is `plan.model_dump_json(indent=2)` plus a final newline; every list in the
Plan is built in a deterministic order, so the same inputs give the same bytes. Secrets stay
references (`${env:NAME}`), never values. `reconciler.plan.model.load_plan` reads it back.
"""

from __future__ import annotations

from reconciler.plan.model import Plan


def render_json(plan: Plan) -> str:
    return plan.model_dump_json(indent=2) + "\n"
