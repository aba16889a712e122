"""Source positions of a loaded YAML document, addressed by key path.

A path is what pydantic reports as an error `loc`: a tuple of mapping keys (str) and sequence
indices (int). Positions are 1-based (line, column), read from the position tree that
`reconciler.desired.compose` builds beside the data. When a path does not exist in the document
(a missing key, or a key merged in from an anchor with `<<`), the position of the deepest part
that does exist is returned, so every problem still points somewhere near its cause.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.desired.compose import PosTree
from reconciler.errors import Problem

Loc = Sequence[str | int]


@dataclass(frozen=True)
class Positions:
    """Where each key and value of one document sits in its file."""

    file: str
    root: PosTree  # None for an unreadable file: every position is then the file itself

    def _walk(self, loc: Loc) -> tuple[tuple[int, int], tuple[int, int], bool]:
        """(key position, value position) of the deepest node on `loc`, and whether all of `loc` exists."""
        key_pos = value_pos = (1, 1)  # the top of the file when nothing on `loc` exists
        node = self.root
        for part in loc:
            entry = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, dict) and entry is None and isinstance(part, str):
                # pydantic names a key that is not text by its text: None as 'None', 1 as '1'
                entry = next((v for k, v in node.items() if not isinstance(k, str) and str(k) == part), None)
            if entry is not None:
                key_mark, mark, node = entry
                key_pos, value_pos = (key_mark.line + 1, key_mark.column + 1), (mark.line + 1, mark.column + 1)
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                mark, node = node[part]
                key_pos = value_pos = (mark.line + 1, mark.column + 1)
            else:
                return key_pos, value_pos, False
        return key_pos, value_pos, True

    def key(self, loc: Loc) -> tuple[int, int]:
        """1-based position of the last key on `loc` (of a list item: its first token)."""
        return self._walk(loc)[0]

    def value(self, loc: Loc) -> tuple[int, int]:
        """1-based position of the value at `loc`."""
        return self._walk(loc)[1]

    def exists(self, loc: Loc) -> bool:
        """Whether every part of `loc` is written in the file (keys merged in with `<<` are not)."""
        return self._walk(loc)[2]

    def at_key(self, loc: Loc, message: str, hint: str = "") -> Problem:
        line, col = self.key(loc)
        return Problem(self.file, line, col, message, hint)

    def at_value(self, loc: Loc, message: str, hint: str = "") -> Problem:
        line, col = self.value(loc)
        return Problem(self.file, line, col, message, hint)


def dotted(loc: Loc) -> str:
    """`spec.services[1].weight` for ("spec", "services", 1, "weight")."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"
