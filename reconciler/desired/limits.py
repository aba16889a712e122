"""Limits on what a desired-state file may be: how big, how deep, how many values, and every number's range.

A group file is a few kilobytes; a hostile or broken one must be refused quickly, in linear time,
before anything reaches EAS. EAS documents none of these numbers, so they are choices:

Reading (settings: environment variables, read once per load; `Limits()` gives the defaults):

    EAS_GITOPS_MAX_FILE_BYTES   1048576  a file larger than 1 MiB is refused before it is parsed
    EAS_GITOPS_MAX_DEPTH        64       lists and mappings nested deeper than 64 levels
    EAS_GITOPS_MAX_VALUES       100000   values in one file, counting every alias as the values it repeats
                                          (an alias "billion laughs" bomb stops here, after ~N events)

Numbers (upper bounds in the model, so they are in the JSON Schema too and the editor agrees with
`validate`; change them here): each is far above any real service and well inside what EAS stores.

    replicas, autoscaling min/max   1000     instances of one service
    cpu                             1024     cores per instance (finite: no .inf, no .nan)
    memory                          4194304  MB per instance (4 TiB)
    gpu                             64       GPUs per instance
    gpu_memory                      2048     GB of GPU memory per instance
    spot_price_limit                100000   hourly bid (finite)
    autoscaling threshold           10**9    metric value per instance (finite)
    label key / value               1-128 / 0-1024 characters, no control character (EAS documents no
                                     label limits; labels travel in a URL query, where an unbounded one
                                     fails mid-apply, and 128 / 1024 hold any real key and value)
    any integer under `config`      -2**63 .. 2**63-1 (EAS reads JSON into 64-bit integers)
    any float under `config`        finite (JSON has no infinity or NaN)

A saved plan holds EAS configs, not the typed fields: `config_faults` checks them with the same rules
(the numbers above at the paths the typed fields own, CONFIG_BOUNDS, and every other number finite and
64-bit), so an edited plan cannot send what `validate` would refuse.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields

from reconciler.errors import ConfigError

# EAS documents no name rule; this conservative default is a setting of the loader (see checks).
DEFAULT_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
MAX_REPLICAS = 1000
MAX_CPU = 1024
MAX_MEMORY_MB = 4 * 1024 * 1024
MAX_GPU = 64
MAX_GPU_MEMORY_GB = 2048
MAX_SPOT_PRICE = 100_000
MAX_THRESHOLD = 10**9
MAX_LABEL_KEY = 128
MAX_LABEL_VALUE = 1024
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

ENV_PREFIX = "EAS_GITOPS_"

ConfigLoc = tuple[str | int, ...]

# The EAS config paths the typed fields own, with the typed field's upper bound (all are >= 0).
CONFIG_BOUNDS: dict[tuple[str, ...], int] = {
    ("metadata", "instance"): MAX_REPLICAS,
    ("metadata", "cpu"): MAX_CPU,
    ("metadata", "memory"): MAX_MEMORY_MB,
    ("metadata", "gpu"): MAX_GPU,
    ("metadata", "gpu_memory"): MAX_GPU_MEMORY_GB,
    ("autoscaler", "min"): MAX_REPLICAS,
    ("autoscaler", "max"): MAX_REPLICAS,
}


def number_faults(value: object, loc: ConfigLoc = ()) -> Iterator[tuple[ConfigLoc, str, str]]:
    """(where, what, hint) for each number EAS cannot read from JSON: infinity, NaN, integers beyond 64 bits."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from number_faults(item, (*loc, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from number_faults(item, (*loc, i))
    elif isinstance(value, float) and not math.isfinite(value):
        yield loc, f"is {value}: JSON, which EAS reads, has no infinity or NaN", "write a finite number"
    elif isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX:
        yield loc, f"is {value:.3g}: beyond a 64-bit integer", \
            f"EAS reads whole numbers as 64-bit integers: {INT64_MIN} to {INT64_MAX}"


def config_faults(config: Mapping[str, object]) -> list[str]:
    """One line per number of an EAS config that the desired state could not hold (see CONFIG_BOUNDS)."""
    out = [f"{_dotted(loc)} {what}" for loc, what, _ in number_faults(dict(config))]
    for path, bound in CONFIG_BOUNDS.items():
        value: object = config
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) \
                and not 0 <= value <= bound:
            out.append(f"{'.'.join(path)} is {value:.6g}: outside 0..{bound}")
    return out


def _dotted(loc: ConfigLoc) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "(config)"


@dataclass(frozen=True)
class Limits:
    """How much one file may hold; see the module docstring for the defaults and their variables."""

    max_file_bytes: int = 1024 * 1024
    max_depth: int = 64
    max_values: int = 100_000

    @staticmethod
    def variable(name: str) -> str:
        """The environment variable of a limit: max_depth -> EAS_GITOPS_MAX_DEPTH."""
        return ENV_PREFIX + name.upper()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Limits:
        """The defaults, overridden by the EAS_GITOPS_MAX_* variables that are set (ConfigError when one is bad)."""
        env = os.environ if env is None else env
        values: dict[str, int] = {}
        for f in fields(cls):
            raw = env.get(cls.variable(f.name))
            if raw is None or raw.strip() == "":
                continue
            try:
                number = int(raw)
            except ValueError:
                number = 0
            if number < 1:
                raise ConfigError(f"{cls.variable(f.name)}={raw!r} is not a positive whole number "
                                  f"(the default is {f.default})")
            values[f.name] = number
        return cls(**values)
