"""Canary evidence: gates, a pure judge over samples, and the providers that fetch the samples.

    gates.py         what the files declare (AnalysisSpec, metric gates, interval rule per target)
    durations.py     `300ms`, `4s`, `10m`: the Duration type the models use
    duration_text.py parse_duration / format_duration alone (no pydantic: for the CLI's option defaults)
    judge.py         samples + gates -> pass | fail | inconclusive, per check and per step (pure)
    provider.py      the protocol every provider implements: numbers per member per window
    cloudmonitor.py  CloudMonitor DescribeMetricList (acs_learn), on the cloud or the emulator
    prometheus.py    any Prometheus-compatible HTTP API, PromQL templates per metric
    sources.py       open_provider: the provider an AnalysisSpec names, for a target

Nothing here changes EAS: a provider only reads, the judge only computes. Import each name from its
module: the package itself imports nothing, so a command that needs only durations or gates
(`validate`) does not pay for the judge's models or the providers' HTTP clients.
"""
