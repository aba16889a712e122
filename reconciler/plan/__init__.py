"""Planning: diff desired against live state, order the steps, simulate every share, check safety.

Pure: no I/O. `build_plan` is the entry point; the `Plan` it returns is a frozen value that the
renderers (`reconciler.plan.render`) and the executor only read.
"""

from reconciler.defaults import DEFAULT_MAX_SHIFT
from reconciler.plan.build import build_plan, ensure_fresh
from reconciler.plan.diff import analyze, diff
from reconciler.plan.model import (
    FORMAT_VERSION,
    Action,
    Change,
    ChangeOp,
    GroupPlan,
    GroupStatus,
    Plan,
    PlanWarning,
    Step,
    load_plan,
    plan_json_schema,
)

__all__ = [
    "DEFAULT_MAX_SHIFT",
    "FORMAT_VERSION",
    "Action",
    "Change",
    "ChangeOp",
    "GroupPlan",
    "GroupStatus",
    "Plan",
    "PlanWarning",
    "Step",
    "analyze",
    "build_plan",
    "diff",
    "ensure_fresh",
    "load_plan",
    "plan_json_schema",
]
