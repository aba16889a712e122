"""Durations as text: `300ms`, `4s`, `10m`, `1h`, or a sum such as `1m30s` (no pydantic here).

`parse_duration` reads one (a bare number is refused: a reader cannot tell seconds from minutes);
`format_duration` writes float seconds in the shortest canonical form (`90s` -> `1m30s`). The model
type `Duration` is built on these in `reconciler.analysis.durations`; the CLI's option defaults and
parsers use this module alone, so `--help` does not import pydantic.
"""

from __future__ import annotations

import re

UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
# One or more `<number><unit>` parts, largest unit first is not required ("30s1m" is accepted).
PATTERN = r"^(\d+(\.\d+)?(ms|h|m|s))+$"
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_WHOLE = re.compile(PATTERN)


def parse_duration(text: str) -> float:
    """Seconds in `text`; ValueError (with the accepted forms) when it is not a duration."""
    cleaned = text.strip()
    if not _WHOLE.match(cleaned):
        raise ValueError(f"{text!r} is not a duration: write a number with a unit, e.g. 300ms, 4s, 10m, 1h, 1m30s")
    return sum(float(number) * UNITS[unit] for number, unit in _PART.findall(cleaned))


def format_duration(seconds: float) -> str:
    """The canonical text of `seconds`: `1h`, `10m`, `1m30s`, `4s`, `300ms`, `0s`."""
    millis = round(seconds * 1000)
    if millis == 0:
        return "0s"
    parts: list[str] = []
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, millis = divmod(millis, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
