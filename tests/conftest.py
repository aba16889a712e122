"""Hypothesis profiles for the whole suite, chosen before any test module is imported.

- `ci` (when the environment has CI=true, as CI services set it): bounded examples, derandomized so a
  run is reproducible and cannot flake on a rare example; the property tests stay within their time.
- `dev` (the default): random examples, as many as `ci`, so a local run explores new ones every time.
- `thorough`: 10 times more, to search harder on purpose (HYPOTHESIS_PROFILE=thorough).

HYPOTHESIS_PROFILE names a profile explicitly. Property tests that run a whole apply per example take a
fraction of `max_examples` (see tests/apply/test_properties.py).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

EXAMPLES = 100
_QUIET = [HealthCheck.too_slow]
settings.register_profile("ci", max_examples=EXAMPLES, derandomize=True, deadline=None,
                          suppress_health_check=_QUIET, print_blob=True)
settings.register_profile("dev", max_examples=EXAMPLES, deadline=None, suppress_health_check=_QUIET)
settings.register_profile("thorough", max_examples=10 * EXAMPLES, deadline=None, suppress_health_check=_QUIET)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev"))
