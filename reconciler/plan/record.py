"""The declared-keys record: what eas-gitops declared on a service last time, kept on the service.

A key the file no longer declares is removed live only when the record says eas-gitops declared
it. A platform default (EAS adds keys to the live config) or a label someone else set is never in
the record, so it is never removed.

Where it lives: reserved labels, `eas-gitops/declared` (the first piece) and, when the text is
longer than one piece, `eas-gitops/declared-1`, `-2`, ... The EAS documentation gives no limit
on label values; we assume the common Alibaba Cloud tag limit and cut the text into pieces of at
most `RecordLimits.piece_chars` (128) characters, at most `RecordLimits.max_pieces` (16) pieces,
so 2,048 characters in all (about 150 keys of usual length).

Text (version 1): `1;<pieces>;<label keys>;<config paths>`
- label keys: comma-separated;
- config paths: a trie, `metadata(cpu,memory,rpc(keepalive)),processor`; a leaf marked `!`
  held a `${env:NAME}` secret reference (its live value is never shown);
- every key is percent-encoded (`quote(key, safe="/:@")`), so `, ( ) ; ! %` inside keys cannot
  break the syntax.
`name`, `metadata.name`, `metadata.group`, `metadata.instance` and `metadata.workspace_id` are
never recorded: eas-gitops always declares them and never removes them.

Past the limit the record is `1;*` (overflow): nothing is removed from that service and the plan
warns. A record that cannot be read (a piece missing, edited by hand) also removes nothing, with
the same warning, and the plan rewrites it. A service without any record (created before the
record existed) removes nothing and gets its record with its next label or config write.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any
from urllib.parse import quote, unquote

from reconciler.desired.eas_config import Path, value_at
from reconciler.desired.model import RESERVED_LABEL_PREFIX
from reconciler.errors import ConfigError

RECORD_LABEL = "eas-gitops/declared"
FORMAT = "1"
OVERFLOW = f"{FORMAT};*"
NEVER_RECORDED: frozenset[Path] = frozenset({
    ("name",), ("metadata", "name"), ("metadata", "group"), ("metadata", "instance"), ("metadata", "workspace_id"),
})
_PIECE = re.compile(re.escape(RECORD_LABEL) + r"-([1-9][0-9]*)")


@dataclass(frozen=True)
class RecordLimits:
    """How the record is cut into label values (EAS documents no limit: our choice)."""

    piece_chars: int = 128
    max_pieces: int = 16

    def __post_init__(self) -> None:
        if self.piece_chars < 16 or self.max_pieces < 1:  # the first piece must hold the `1;<pieces>;` header
            raise ConfigError("RecordLimits: piece_chars must be >= 16 and max_pieces >= 1")


DEFAULT_LIMITS = RecordLimits()


@dataclass(frozen=True)
class Declared:
    """The keys one service declares: label keys, config leaf paths, and which of those hold secrets."""

    labels: frozenset[str]
    config: frozenset[Path]
    secret: frozenset[Path] = frozenset()


class RecordState(StrEnum):
    ABSENT = "absent"  # created before the record existed
    OK = "ok"
    OVERFLOW = "overflow"  # too many keys to record
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class Recorded:
    state: RecordState
    declared: Declared | None = None


def is_record_label(key: str) -> bool:
    return key == RECORD_LABEL or _PIECE.fullmatch(key) is not None


@lru_cache(maxsize=4096)  # the same few keys on every service of a fleet
def _q(key: str) -> str:
    return quote(key, safe="/:@")


@lru_cache(maxsize=4096)
def _unq(text: str) -> str:
    return unquote(text)


def _trie(paths: Iterable[Path], secret: frozenset[Path], prefix: Path = ()) -> str:
    children: dict[str, list[Path]] = {}
    for p in paths:
        children.setdefault(p[0], []).append(p[1:])
    items = []
    for key in sorted(children):
        here = (*prefix, key)
        deeper = [rest for rest in children[key] if rest]
        mark = "!" if here in secret else ""
        items.append(_q(key) + mark + (f"({_trie(deeper, secret, here)})" if deeper else ""))
    return ",".join(items)


def _text(declared: Declared, pieces: int) -> str:
    labels = ",".join(_q(k) for k in sorted(declared.labels))
    config = _trie(sorted(declared.config - NEVER_RECORDED), declared.secret)
    return f"{FORMAT};{pieces};{labels};{config}"


def encode(declared: Declared, limits: RecordLimits = DEFAULT_LIMITS) -> dict[str, str]:
    """The record labels for `declared` (first piece under RECORD_LABEL); `{RECORD_LABEL: OVERFLOW}` past the limit."""
    return dict(_encode(declared, limits))


@lru_cache(maxsize=1024)  # services of a fleet share a few shapes; callers get a copy
def _encode(declared: Declared, limits: RecordLimits) -> dict[str, str]:
    for pieces in range(1, limits.max_pieces + 1):
        text = _text(declared, pieces)
        if len(text) <= pieces * limits.piece_chars:
            # exactly `pieces` non-empty pieces: with one piece fewer, the text did not fit
            cut = [text[i:i + limits.piece_chars] for i in range(0, len(text), limits.piece_chars)]
            return {(RECORD_LABEL if i == 0 else f"{RECORD_LABEL}-{i}"): part for i, part in enumerate(cut)}
    return {RECORD_LABEL: OVERFLOW}


def _parse_trie(text: str) -> tuple[set[Path], set[Path]]:
    """(leaf paths, secret leaf paths) of a trie text; ValueError when malformed."""
    paths: set[Path] = set()
    secret: set[Path] = set()
    stack: list[Path] = [()]
    token = ""
    last: Path | None = None  # the key just read, until `(`, `,` or `)` says whether it is a leaf

    def close_key(is_leaf: bool) -> None:
        nonlocal token, last
        if token:
            mark = token.endswith("!")
            last = (*stack[-1], _unq(token[:-1] if mark else token))
            if mark:
                secret.add(last)
            if is_leaf:
                paths.add(last)
            token = ""

    for ch in text:
        if ch == "(":
            close_key(False)
            if last is None:
                raise ValueError("( without a key")
            stack.append(last)
            last = None
        elif ch in ",)":
            if token:
                close_key(True)
            last = None
            if ch == ")":
                if len(stack) == 1:
                    raise ValueError("unbalanced )")
                stack.pop()
        else:
            token += ch
    if token:
        close_key(True)
    if len(stack) != 1:
        raise ValueError("unbalanced (")
    return paths, secret


def decode(labels: Mapping[str, str]) -> Recorded:
    """The record found in a service's labels."""
    first = labels.get(RECORD_LABEL)
    if first is None:
        return Recorded(RecordState.ABSENT)
    if first == OVERFLOW:
        return Recorded(RecordState.OVERFLOW)
    if first.startswith(f"{FORMAT};1;"):  # one piece: the common case, parsed once per distinct text
        return _decode_text(first)
    try:
        version, count, _ = first.split(";", 2)
        pieces = int(count)
        if version != FORMAT or pieces < 1:
            raise ValueError("unknown record format")
        text = "".join([first, *(labels[f"{RECORD_LABEL}-{i}"] for i in range(1, pieces))])
    except (ValueError, KeyError):
        return Recorded(RecordState.UNREADABLE)
    return _decode_text(text)


@lru_cache(maxsize=1024)
def _decode_text(text: str) -> Recorded:
    try:
        _, _, label_text, config_text = text.split(";", 3)
        paths, secret = _parse_trie(config_text)
    except ValueError:
        return Recorded(RecordState.UNREADABLE)
    keys = frozenset(_unq(k) for k in label_text.split(",") if k)
    return Recorded(RecordState.OK, Declared(keys, frozenset(paths), frozenset(secret)))


def stale_pieces(live: Mapping[str, str], wanted: Mapping[str, str]) -> tuple[str, ...]:
    """Record pieces present live that the new record does not use (it got shorter): to delete."""
    return tuple(sorted(k for k in live if _PIECE.fullmatch(k) and k not in wanted))


def removed_labels(before: Declared, labels: Mapping[str, str], live: Mapping[str, str]) -> tuple[str, ...]:
    """Label keys declared last time, no longer declared, still present live (never a reserved key,
    even when a hand-edited record names one: ownership is not removed this way)."""
    gone = before.labels - set(labels)
    return tuple(sorted(k for k in gone if k in live and not k.startswith(RESERVED_LABEL_PREFIX)))


def covers(before: Declared, now: Declared, live: Any) -> bool:
    """True when the record `before` needs no rewrite for `now`: it names every key `now` declares (secrets
    alike) and the keys only it names are gone live (a key deleted by hand, then from the file), so it
    would remove nothing. `live` is the LiveService (labels and config)."""
    config = now.config - NEVER_RECORDED
    if not (now.labels <= before.labels and config <= before.config and now.secret == before.secret & config):
        return False
    extra_labels = before.labels - now.labels
    extra_paths = before.config - config
    return (not any(k in live.labels for k in extra_labels)
            and not any(value_at(live.config, p)[0] for p in extra_paths))


def deletable(key: str) -> bool:
    """DeleteServiceLabel names keys in a comma-separated list (items trimmed): a key with a comma or
    outer spaces cannot be named alone, and sending it could delete other labels."""
    return "," not in key and key == key.strip() and bool(key)


def removed_paths(before: Declared, declared: Iterable[Path], live: Mapping[str, Any]) -> tuple[Path, ...]:
    """Config leaf paths declared last time, no longer declared, still present live.

    A path that overlaps a declared one is not removed: when it was a leaf and now holds declared
    keys, or now sits under a declared leaf, the merged config overwrites it anyway.
    """
    leaves = set(declared)
    candidates = before.config - NEVER_RECORDED - leaves
    if not candidates:  # the common case: the file dropped nothing
        return ()
    covered = {p[:i] for p in leaves for i in range(1, len(p) + 1)}
    out = []
    for path in sorted(candidates):
        if path in covered or any(path[:i] in leaves for i in range(1, len(path))):
            continue
        if value_at(live, path)[0]:
            out.append(path)
    return tuple(out)
