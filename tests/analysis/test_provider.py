"""Windows and the baseline made of several members."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.analysis.judge import MemberSample
from reconciler.analysis.provider import Fetched, Window, check_samples, combine


def test_window_alignment_keeps_consecutive_windows_adjacent() -> None:
    assert Window(125.5, 250.2).aligned(60) == Window(120, 240)
    assert Window(240, 250).aligned(60) == Window(240, 240)  # no whole period yet
    assert Window(3.7, 9.2).aligned(1) == Window(3, 9)


@given(st.lists(st.floats(min_value=0, max_value=10_000), min_size=3, max_size=8), st.sampled_from([1, 15, 60]))
def test_aligned_windows_neither_overlap_nor_leave_gaps(times: list[float], period: int) -> None:
    edges = sorted(times)
    windows = [Window(a, b).aligned(period) for a, b in itertools.pairwise(edges)]
    for first, second in itertools.pairwise(windows):
        assert first.end == second.start


def test_combine_weights_by_requests() -> None:
    merged = combine([MemberSample(300, 1.0, 0.1), MemberSample(100, 5.0, 0.5), MemberSample()])
    assert merged.requests == 400
    assert merged.error_rate == pytest.approx(2.0) and merged.latency_avg == pytest.approx(0.2)
    assert combine([MemberSample(), MemberSample()]) == MemberSample()
    nan = combine([MemberSample(300, 1.0, 0.1), MemberSample(100, math.nan, 0.5)])
    assert nan.error_rate is not None and math.isnan(nan.error_rate) and nan.latency_avg == pytest.approx(0.2)
    assert combine([MemberSample(0, math.nan, math.nan)]).error_rate is not None  # NaN stays NaN, even idle


def test_check_samples_picks_canary_and_baseline() -> None:
    fetched = Fetched(Window(0, 60), {"grey": MemberSample(50, 2.0, 0.1), "a": MemberSample(100, 0.0, 0.1),
                                      "b": MemberSample(100, 1.0, 0.3)})
    samples = check_samples(fetched, "grey", ["a", "b"])
    assert samples.canary == MemberSample(50, 2.0, 0.1)
    assert samples.baseline == MemberSample(200, 0.5, pytest.approx(0.2))
    assert (samples.start, samples.end) == (0, 60)
    assert check_samples(fetched, "missing", ["a"]).canary == MemberSample()
