"""Durations as the files write them: `300ms`, `4s`, `10m`, `1h`, or a sum such as `1m30s`.

A duration always carries a unit: a bare number (`60`) is refused, because a reader cannot tell
seconds from minutes. Values are held as float seconds (what the clocks of the emulator and the
runner count in) and written back in the shortest canonical form (`90s` -> `1m30s`), so a model
round-trips through YAML or JSON unchanged. The text functions live in
`reconciler.analysis.duration_text` (no pydantic); this module adds the model type `Duration`.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from reconciler.analysis.duration_text import PATTERN, format_duration, parse_duration


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
