"""Source positions of a loaded YAML document, addressed by key path.

A path is what pydantic reports as an error `loc`: a tuple of mapping keys (str) and sequence
indices (int). Positions are 1-based (line, column). When a path does not exist in the document
(a missing key, or a key merged in from an anchor with `<<`), the position of the deepest part
that does exist is returned, so every problem still points somewhere near its cause.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from reconciler.errors import Problem

Loc = Sequence[str | int]


def _pair(position: Any) -> tuple[int, int]:
    return int(position[0]), int(position[1])


@dataclass(frozen=True)
class Positions:
    """Where each key and value of one document sits in its file."""

    file: str
    root: Any  # the ruamel round-trip document (CommentedMap), or None for an unreadable file

    def _walk(self, loc: Loc) -> tuple[tuple[int, int], tuple[int, int]]:
        """(key position, value position) of the deepest node on `loc`; 0-based, as ruamel stores them."""
        key_pos: tuple[int, int] = (0, 0)
        value_pos: tuple[int, int] = (0, 0)
        node = self.root
        for part in loc:
            if isinstance(node, CommentedMap) and part in node:
                try:
                    key_pos, value_pos = _pair(node.lc.key(part)), _pair(node.lc.value(part))
                except KeyError:  # a key merged in with `<<: *anchor` has no position of its own here
                    break
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
                key_pos = value_pos = _pair(node.lc.item(part))
            else:
                break
            node = node[part]
        return key_pos, value_pos

    def key(self, loc: Loc) -> tuple[int, int]:
        """1-based position of the last key on `loc` (of a list item: its first token)."""
        line, col = self._walk(loc)[0]
        return line + 1, col + 1

    def value(self, loc: Loc) -> tuple[int, int]:
        """1-based position of the value at `loc`."""
        line, col = self._walk(loc)[1]
        return line + 1, col + 1

    def exists(self, loc: Loc) -> bool:
        node = self.root
        for part in loc:
            in_map = isinstance(node, CommentedMap) and part in node
            if not (in_map or (isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node))):
                return False
            node = node[part]
        return True

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
