"""Durations as the files write them: `300ms`, `4s`, `10m`, `1h`, or a sum such as `1m30s`.

A duration always carries a unit: a bare number (`60`) is refused, because a reader cannot tell
seconds from minutes. Values are held as float seconds (what the clocks of the emulator and the
runner count in) and written back in the shortest canonical form (`90s` -> `1m30s`), so a model
round-trips through YAML or JSON unchanged.
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

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


def _coerce(value: object) -> float:
    """Pydantic's entry point: only strings are durations (numbers and booleans are refused).

    Round trips go through JSON mode (`model_dump(mode="json")`), which writes the string form.
    """
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration: write a number with a unit, e.g. 4s or 10m")
    seconds = parse_duration(value)
    if not math.isfinite(seconds):
        raise ValueError("a duration must be finite")
    return seconds


Duration = Annotated[
    float,
    BeforeValidator(_coerce),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": PATTERN,
                    "description": "A duration with a unit: 300ms, 4s, 10m, 1h, 1m30s."}),
]
"""Float seconds in Python; a string with a unit in files, JSON and the JSON Schema."""
