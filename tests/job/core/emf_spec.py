"""The Embedded Metric Format specification as a check, to hold our documents against (no library here
validates EMF). Rules from
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
and the MetricDatum units of the CloudWatch API reference."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_METRICS = 100
MAX_VALUES = 100
MAX_DIMENSIONS = 30
UNITS = frozenset(
    [
        "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
        "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
        "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
        "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second",
        "Count/Second", "None",
    ]
)  # fmt: skip


def problems(doc: Mapping[str, Any]) -> list[str]:
    """What in an EMF document breaks the specification; empty when it holds."""
    found = []
    meta = doc.get("_aws")
    if not isinstance(meta, Mapping) or not isinstance(meta.get("Timestamp"), int):
        return ["_aws.Timestamp must be an integer of milliseconds"]
    directives = meta.get("CloudWatchMetrics")
    if not isinstance(directives, list) or not directives:
        return ["_aws.CloudWatchMetrics must be a non-empty list of directives"]
    for directive in directives:
        if not isinstance(directive.get("Namespace"), str) or not directive["Namespace"]:
            found.append("a directive needs a Namespace")
        metrics = directive.get("Metrics") or []
        if not 1 <= len(metrics) <= MAX_METRICS:
            found.append(f"{len(metrics)} metrics in one directive (1..{MAX_METRICS})")
        for dimension_set in directive.get("Dimensions") or []:
            if len(dimension_set) > MAX_DIMENSIONS:
                found.append(f"a dimension set of more than {MAX_DIMENSIONS} names")
            found += [
                f"dimension {n} is not a string member"
                for n in dimension_set
                if not isinstance(doc.get(n), str)
            ]
        for metric in metrics:
            name, unit = metric.get("Name"), metric.get("Unit", "None")
            if unit not in UNITS:
                found.append(f"{name}: unit {unit!r} is not one CloudWatch knows")
            value = doc.get(name)
            values = value if isinstance(value, list) else [value]
            numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
            if not 1 <= len(values) <= MAX_VALUES or not numeric:
                found.append(f"{name}: needs 1..{MAX_VALUES} numeric values, got {value!r}")
    return found
