"""One YAML text to plain data and the position of every key and value, in one pass and under `Limits`.

ruamel.yaml turns the text into parser events (its C parser, from ruamel.yaml.clib, when installed;
its pure-Python parser otherwise: same events, same marks, about 20 times slower). This module builds
the document from those events itself, without recursion, because the rules here are not YAML's
defaults:

- Values are JSON's: mappings, lists, strings, integers, floats, booleans and null, resolved by the
  YAML 1.2 core schema. A date is not a type here: `2024-01-01` stays the text as written.
- Explicit tags may only restate those types (`!!str`, `!!int`, `!!float`, `!!bool`, `!!null`,
  `!!map`, `!!seq`, `!`). Any other (`!!binary`, `!!timestamp`, `!!set`, `!!python/...`, `!local`)
  is a problem at the tagged value: it would change what the value is.
- Nesting deeper than `max_depth`, or more than `max_values` values (every alias counts as all the
  values it repeats, so an alias bomb is stopped after about `max_values` events, never expanded),
  ends the file with one problem there. A second document in the file does too.
- An alias must refer to a finished anchor: a structure that contains itself is a problem.
- A key repeated in one mapping is a problem; the first value is kept so the rest still validates.
  Merge keys (`<<: *base`) copy the keys the mapping does not set itself; merged keys have no
  position of their own (problems inside them point at the mapping that merges them).
- Strings holding `${` are returned with their positions, for the secret-reference rule.

The position tree mirrors the data: a mapping is `{key: (key_mark, value_mark, child)}`, a list is
`[(mark, child)]`, anything else None. A mark is the parser's own (0-based `line` and `column`):
keeping it costs nothing, building a tuple of numbers for every value would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml import events as ev
from ruamel.yaml.error import YAMLError

from reconciler.desired.limits import Limits
from reconciler.errors import Problem, SpecError

try:  # the C parser is an optional speed-up; the pure parser gives the same events
    from ruamel.yaml.cyaml import CParser as _CParser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the platform's wheels
    _CParser = None

PosTree = dict[Any, tuple[Any, Any, Any]] | list[tuple[Any, Any]] | None
_CORE = "tag:yaml.org,2002:"
_INT = re.compile(r"[-+]?(?:0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*)")
_FLOAT = re.compile(r"[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?)"
                    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
_WORDS: dict[str, Any] = {w: None for w in ("", "~", "null", "Null", "NULL")}
_WORDS |= {w: True for w in ("true", "True", "TRUE")} | {w: False for w in ("false", "False", "FALSE")}
_NUMBER_START = frozenset("-+.0123456789")
_MERGE = object()  # a plain `<<` key
_DROP = object()  # a key that cannot be one (a list or mapping): its pair is left out
_TAGGED: dict[str, type | tuple[type, ...]] = {"int": int, "float": (int, float), "bool": bool, "null": type(None)}


class Fatal(SpecError):
    """The rest of the file cannot be read: carries the one problem that says why (the loader reports it)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__([problem])


def events(text: str, pure: bool = False) -> Iterator[Any]:
    """The parser events of `text` (ruamel's C parser when available, unless `pure`)."""
    if _CParser is None or pure:
        return iter(YAML(typ="safe", pure=True).parse(text))
    return iter(_CParser(text).get_event, None)  # the C parser answers None after the stream's end


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_CORE) if tag.startswith(_CORE) else tag


def _number(text: str, want: str) -> int | float:
    """`text` as an int or float (ValueError when it is not one, or has too many digits for Python)."""
    if text.isdigit():  # the common case, e.g. `replicas: 2`
        return int(text) if want == "int" else float(text)
    plain = text.replace("_", "")
    if want == "int":
        sign, digits = (-1, plain[1:]) if plain[:1] == "-" else (1, plain.lstrip("+"))
        base = {"0b": 2, "0o": 8, "0x": 16}.get(digits[:2], 10)
        return sign * int(digits[2:] if base != 10 else digits, base)
    lowered = plain.lower()
    if lowered.endswith((".inf", ".nan")):
        return float(lowered.replace(".", ""))
    return float(plain)


@dataclass(slots=True)
class _Frame:
    """A list or mapping being built."""

    is_map: bool
    data: Any  # dict or list
    pos: Any  # dict or list, as in PosTree
    mark: Any  # where it starts
    start: int  # values counted before it began
    anchor: str | None
    key: Any = None  # the mapping key waiting for its value
    key_mark: Any = None
    waiting: bool = False
    merges: list[dict[Any, Any]] | None = None


class Composer:
    """Builds one document from events; `problems` collects what is wrong with it."""

    def __init__(self, file: str, limits: Limits) -> None:
        self.file = file
        self.limits = limits
        self.problems: list[Problem] = []
        self.usable = True  # False once a value could not be built as written (tag, number, key)
        self.references: list[tuple[str, int, int]] = []  # strings holding `${`, where they are
        self.count = 0
        self.documents = 0
        self.root: Any = None
        self.root_pos: PosTree = None
        self._stack: list[_Frame] = []
        self._anchors: dict[str, tuple[Any, PosTree, int]] = {}
        self._open: set[str] = set()
        self._handlers: dict[type, Any] = {  # one dict lookup per event, no isinstance chain
            ev.ScalarEvent: self._on_scalar, ev.MappingStartEvent: self._start, ev.SequenceStartEvent: self._start,
            ev.MappingEndEvent: self._end, ev.SequenceEndEvent: self._end, ev.AliasEvent: self._alias,
            ev.DocumentStartEvent: self._document,
        }

    def problem(self, mark: Any, message: str, hint: str, *, fatal: bool = False) -> None:
        found = Problem(self.file, mark.line + 1, mark.column + 1, message, hint)
        if fatal:
            raise Fatal(found)
        self.problems.append(found)
        self.usable = False

    def _count(self, n: int, mark: Any, alias: bool) -> None:
        self.count += n
        if self.count > self.limits.max_values:
            what = "aliases repeat values so often that the file would expand to" if alias else "the file holds"
            self.problem(mark, f"{what} more than {self.limits.max_values} values",
                         f"an alias bomb or a generated file? the limit is {Limits.variable('max_values')}", fatal=True)

    def run(self, stream: Iterator[Any]) -> None:
        """Feed every event. A plain word or number inside a mapping (most of any file) takes the inlined path:
        it does what `_on_scalar` and `_add` do for it, without the calls."""
        handlers, stack, scalar, limit = self._handlers, self._stack, ev.ScalarEvent, self.limits.max_values
        for event in stream:
            kind = type(event)
            if kind is scalar and stack and event.tag is None and event.anchor is None and event.implicit[0]:
                top, text = stack[-1], event.value
                if top.is_map and text not in _WORDS and text != "<<" and "${" not in text:
                    mark = event.start_mark
                    self.count += 1
                    if self.count > limit:
                        self._count(0, mark, False)
                    if not top.waiting:
                        top.key, top.key_mark, top.waiting = text, mark, True
                        continue
                    top.waiting = False
                    value = self._resolve(text, mark) if text[:1] in _NUMBER_START else text
                    if top.key in top.data or top.key is _MERGE or top.key is _DROP:
                        self._value(top, value, None, mark)
                    else:
                        top.data[top.key] = value
                        top.pos[top.key] = (top.key_mark, mark, None)
                    continue
            handler = handlers.get(kind)
            if handler is not None:
                handler(event)

    def _document(self, event: Any) -> None:
        self.documents += 1
        if self.documents > 1:
            self.problem(event.start_mark, "the file holds more than one YAML document; expected one ServiceGroup",
                         "split it: one group per file, no '---' between groups", fatal=True)

    def _on_scalar(self, event: Any) -> None:
        mark = event.start_mark
        self._count(1, mark, False)
        text = event.value
        if event.tag is not None or not event.implicit[0]:
            value = self._scalar(event, mark)
        elif text == "<<":
            value = _MERGE
        else:
            value = self._resolve(text, mark)
        if event.anchor is not None:
            self._anchors[event.anchor] = (value, None, 1)
        self._add(value, None, mark)

    def _scalar(self, event: Any, mark: Any) -> Any:
        """A quoted or tagged scalar."""
        text, tag = event.value, event.tag
        if tag in (None, "!", _CORE + "str"):
            return self._text(text, mark)
        want = tag.removeprefix(_CORE)
        if not (tag.startswith(_CORE) and want in _TAGGED):
            self._bad_tag(tag, mark)
            return text
        value: Any = self._resolve(text, mark)
        if isinstance(value, _TAGGED[want]) and not (want in ("int", "float") and isinstance(value, bool)):
            return float(value) if want == "float" else value  # type: ignore[arg-type]  # int or float here
        self.problem(mark, f"{text!r} is tagged !!{want} but is not one",
                     f"write a plain {want} without the tag, or remove the tag")
        return text

    def _text(self, text: str, mark: Any) -> str:
        if "${" in text:
            self.references.append((text, mark.line + 1, mark.column + 1))
        return text

    def _bad_tag(self, tag: str, mark: Any) -> None:
        self.problem(mark, f"the YAML tag {_short_tag(tag)} is not allowed: it changes what the value is",
                     "values are plain text, numbers, true/false, null, lists and mappings; remove the tag "
                     "(quote the value to keep it as text)")

    def _resolve(self, text: str, mark: Any) -> Any:
        """A plain scalar by the YAML 1.2 core schema: null, true/false, an int, a float, or the text itself."""
        if text in _WORDS:
            return _WORDS[text]
        kind = "" if text[:1] not in _NUMBER_START else (
            "int" if _INT.fullmatch(text) else "float" if _FLOAT.fullmatch(text) else "")
        if not kind:
            return self._text(text, mark)
        try:
            return _number(text, kind)
        except ValueError:
            self.problem(mark, f"a number with {len(text)} characters cannot be read",
                         "no setting takes a number this long: write a realistic value")
            return text

    def _start(self, event: Any) -> None:
        mark = event.start_mark
        self._count(1, mark, False)
        if len(self._stack) >= self.limits.max_depth:
            self.problem(mark, f"lists and mappings are nested more than {self.limits.max_depth} levels deep",
                         f"a group file needs a few levels; the limit is {Limits.variable('max_depth')}", fatal=True)
        is_map = type(event) is ev.MappingStartEvent
        if event.tag not in (None, "!", _CORE + ("map" if is_map else "seq")):
            self._bad_tag(event.tag, mark)
        if event.anchor is not None:
            self._open.add(event.anchor)
        data: Any = {} if is_map else []
        pos: Any = {} if is_map else []
        self._stack.append(_Frame(is_map, data, pos, mark, self.count - 1, event.anchor))

    def _end(self, event: Any) -> None:
        frame = self._stack.pop()
        for merged in frame.merges or ():  # explicit keys win; of several merged mappings, the first wins
            for key, value in merged.items():
                frame.data.setdefault(key, value)
        if frame.anchor is not None:
            self._open.discard(frame.anchor)
            self._anchors[frame.anchor] = (frame.data, frame.pos, self.count - frame.start)
        self._add(frame.data, frame.pos, frame.mark)

    def _alias(self, event: Any) -> None:
        name, mark = event.anchor, event.start_mark
        if name not in self._anchors:
            why = "contains this alias (a structure cannot contain itself)" if name in self._open else "is not defined"
            self.problem(mark, f"alias *{name}: the anchor &{name} {why}",
                         "define &name on a value before *name refers to it", fatal=True)
        value, pos, size = self._anchors[name]
        self._count(size, mark, True)
        self._add(value, pos, mark)

    def _add(self, value: Any, pos: PosTree, mark: Any) -> None:
        if not self._stack:
            self.root, self.root_pos = ("<<" if value is _MERGE else value), pos
            return
        top = self._stack[-1]
        if not top.is_map:
            top.data.append("<<" if value is _MERGE else value)  # a plain `<<` merges only as a key
            top.pos.append((mark, pos))
        elif top.waiting:
            top.waiting = False
            self._value(top, "<<" if value is _MERGE else value, pos, mark)
        else:
            if isinstance(value, dict | list):
                self.problem(mark, "a mapping key must be a plain value, not a list or mapping",
                             "write keys as plain words, e.g. name: value")
                value = _DROP
            top.key, top.key_mark, top.waiting = value, mark, True

    def _value(self, top: _Frame, value: Any, pos: PosTree, mark: Any) -> None:
        key = top.key
        if key is _MERGE:
            merged = value if isinstance(value, list) else [value]
            if not all(isinstance(m, dict) for m in merged):
                self.problem(mark, "'<<' merges a mapping (or a list of mappings) into this one",
                             "write <<: *anchor where &anchor is on a mapping")
                return
            top.merges = (top.merges or []) + merged
        elif key is _DROP:
            return
        elif key in top.data:
            first = top.pos[key][0].line + 1 if key in top.pos else top.mark.line + 1
            self.problems.append(Problem(self.file, top.key_mark.line + 1, top.key_mark.column + 1,
                                         f"duplicate key '{key}' (first at line {first})",
                                         "a key may appear once per mapping: remove or rename one"))
        else:
            top.data[key] = value
            top.pos[key] = (top.key_mark, mark, pos)


def compose(file: str, text: str, limits: Limits) -> Composer:
    """Feed every event of `text`; raises `Fatal` (a limit, a second document) or ruamel's YAMLError (syntax).

    The C parser reads YAML 1.1, which refuses a few things YAML 1.2 allows, such as a `:` inside a plain
    scalar in a flow mapping (`{path: oss://bucket/m.pmml}`). A file it refuses is read again by the
    pure parser (YAML 1.2); only when that refuses it too is the C parser's error reported.
    """
    composer = Composer(file, limits)
    try:
        composer.run(events(text))
    except YAMLError as first:
        if _CParser is None:
            raise
        composer = Composer(file, limits)
        try:
            composer.run(events(text, pure=True))
        except YAMLError:
            raise first from None
    return composer
