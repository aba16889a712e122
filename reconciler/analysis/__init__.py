"""Canary evidence: gates, a pure judge over samples, and the providers that fetch the samples.

    gates.py       what the files declare (AnalysisSpec, metric gates, interval rules per target)
    judge.py       samples + gates -> pass | fail | inconclusive, per check and per step (pure)
    provider.py    the protocol every provider implements: numbers per member per window
    cloudmonitor.py  CloudMonitor DescribeMetricList (acs_learn), on the cloud or the emulator
    prometheus.py  any Prometheus-compatible HTTP API, PromQL templates per metric

Nothing here changes EAS: a provider only reads, the judge only computes. The rollout runner that
ramps a canary on these verdicts builds on this package.
"""
