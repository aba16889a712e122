"""Apply: carry out a Plan against EAS safely (executor, read-back, shared poller, rollback, journal)."""

from reconciler.apply.executor import ApplySettings, Executor
from reconciler.apply.journal import JOURNAL_DIR, Journal
from reconciler.apply.report import ApplyReport, Event, EventKind, GroupOutcome, GroupReport
from reconciler.apply.runtime import Link, RealTimer, Timer, VirtualTimer, connect_all, target_connector

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
