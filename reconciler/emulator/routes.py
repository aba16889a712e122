"""The management API's path table: method + path template -> operation name, as the EAS API documents them.

Matching works on the raw (percent-encoded) path so that an encoded `/` inside a name stays inside
its segment; each captured segment is then percent-decoded. Anything not in the table is answered
with `InvalidApi.NotFound` by the app.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

_SERVICE = "/api/v2/services/{ClusterId}/{ServiceName}"
_GROUP = "/api/v2/groups/{ClusterId}/{GroupName}"

# (operation, method, path template); the operation is also the expected x-acs-action.
TABLE: tuple[tuple[str, str, str], ...] = (
    ("CreateService", "POST", "/api/v2/services"),
    ("ListServices", "GET", "/api/v2/services"),
    ("DescribeService", "GET", _SERVICE),
    ("UpdateService", "PUT", _SERVICE),
    ("DeleteService", "DELETE", _SERVICE),
    ("UpdateServiceVersion", "PUT", _SERVICE + "/version"),
    ("ReleaseService", "PUT", _SERVICE + "/release"),
    ("StartService", "PUT", _SERVICE + "/start"),
    ("StopService", "PUT", _SERVICE + "/stop"),
    ("RestartService", "PUT", _SERVICE + "/restart"),
    ("ListServiceInstances", "GET", _SERVICE + "/instances"),
    ("CreateServiceAutoScaler", "POST", _SERVICE + "/autoscaler"),
    ("DescribeServiceAutoScaler", "GET", _SERVICE + "/autoscaler"),
    ("UpdateServiceAutoScaler", "PUT", _SERVICE + "/autoscaler"),
    ("DeleteServiceAutoScaler", "DELETE", _SERVICE + "/autoscaler"),
    ("UpdateServiceLabel", "PUT", _SERVICE + "/label"),
    ("DeleteServiceLabel", "DELETE", _SERVICE + "/label"),
    ("ListServiceVersions", "GET", _SERVICE + "/versions"),
    ("DescribeServiceEvent", "GET", _SERVICE + "/events"),
    ("UpdateServiceSafetyLock", "PUT", _SERVICE + "/lock"),
    ("ListGroups", "GET", "/api/v2/groups"),
    ("CreateGroup", "POST", "/api/v2/groups"),
    ("DescribeGroup", "GET", _GROUP),
    ("UpdateGroup", "PUT", _GROUP),
    ("DeleteGroup", "DELETE", _GROUP),
    ("DescribeGroupEndpoints", "GET", _GROUP + "/endpoints"),
)


@dataclass(frozen=True)
class Match:
    operation: str
    params: dict[str, str]  # decoded path parameters


def _compile(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return re.compile(f"^{pattern}/?$")


_COMPILED = tuple((op, method, _compile(template)) for op, method, template in TABLE)


def match(method: str, raw_path: str) -> Match | None:
    for operation, op_method, pattern in _COMPILED:
        found = pattern.match(raw_path)
        if found and op_method == method.upper():
            return Match(operation, {k: unquote(v) for k, v in found.groupdict().items()})
    return None
