"""The defaults of the engine's settings that the CLI shows as its options' defaults.

One definition each: the engine modules import them from here (`reconciler.plan.build`,
`reconciler.apply.executor`, `reconciler.apply.journal`, `reconciler.apply.lock`), and a command's
`--help` reads them here without importing the engine. This module imports nothing.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_MAX_SHIFT = 50  # percentage points a member's share may rise in one plan step
DEFAULT_PARALLEL = 8  # groups applied at once
DEFAULT_TIMEOUT = 900.0  # seconds: the longest wait for one apply step
JOURNAL_DIR = Path(".eas-gitops") / "journal"  # where an apply writes its journal
LOCK_TIMEOUT = 300.0  # seconds an apply waits for another apply's group lock (0: refuse at once)
LOCK_TTL = 120.0  # seconds a group lock lives unless renewed
