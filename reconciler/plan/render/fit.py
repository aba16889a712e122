"""Fitting Markdown into a size limit: lists cut with `+N more`, sections kept while a budget lasts.

Lengths are counted in Unicode code points (Python's `len`), the unit GitHub's comment limit is
stated in; callers that need bytes (the job summary) convert themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# GitHub takes 65,536 characters per issue or pull-request comment body. COMMENT_MARGIN is kept free
# for what a posting step adds (a sticky comment's header marker, a workflow's "Found by this run"
# line), so the plan comment and the drift issue are each at most COMMENT_BUDGET characters.
COMMENT_LIMIT = 65_536
COMMENT_MARGIN = 1_536
COMMENT_BUDGET = COMMENT_LIMIT - COMMENT_MARGIN


def text_size(lines: Sequence[str]) -> int:
    """Characters of `lines` joined with newlines, plus the final newline."""
    return sum(len(line) + 1 for line in lines)


def fit_items(items: Sequence[str], width: int, sep: str = ", ") -> str:
    """`items` joined by `sep`, as many as fit in `width` characters, then `+N more` for the rest.

    A cut always shows (`+N more`); only that marker may exceed `width`, when even it does not fit.
    """
    if len(sep.join(items)) <= width:
        return sep.join(items)
    for keep in range(len(items) - 1, 0, -1):
        text = sep.join([*items[:keep], f"+{len(items) - keep} more"])
        if len(text) <= width:
            return text
    return f"+{len(items)} more"


def shorten(text: str, width: int = 40) -> str:
    """A value for a table cell: the last segment of a path or URL, cut to `width` with `…`."""
    if "/" in text.rstrip("/"):
        text = "…/" + text.rstrip("/").rsplit("/", 1)[1]
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass
class Budget:
    """Characters left for the rest of a document; `take` spends them only when everything fits."""

    left: int

    def fits(self, lines: Sequence[str]) -> bool:
        return text_size(lines) <= self.left

    def spend(self, lines: Sequence[str]) -> None:
        """Spend unconditionally (the caller checked with `fits`); `left` may go below zero, never unnoticed."""
        self.left -= text_size(lines)

    def take(self, lines: Sequence[str]) -> bool:
        if not self.fits(lines):
            return False
        self.left -= text_size(lines)
        return True
