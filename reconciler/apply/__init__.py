"""Apply: carry out a Plan against EAS safely (executor, read-back, shared poller, rollback, journal)."""

from reconciler.apply.executor import ApplySettings, Executor
from reconciler.apply.journal import Journal
from reconciler.apply.report import ApplyReport, Event, EventKind, GroupOutcome, GroupReport
from reconciler.apply.runtime import Link, VirtualTimer, connect_all, target_connector
from reconciler.clock import RealTimer, Timer
from reconciler.defaults import JOURNAL_DIR

__all__ = [
    "JOURNAL_DIR",
    "ApplyReport",
    "ApplySettings",
    "Event",
    "EventKind",
    "Executor",
    "GroupOutcome",
    "GroupReport",
    "Journal",
    "Link",
    "RealTimer",
    "Timer",
    "VirtualTimer",
    "connect_all",
    "target_connector",
]
