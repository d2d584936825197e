"""deploy/grafana/ticketstream.json: valid, laid out, and only about metrics the code exports.

Metric and label names come from the receiver's and the worker's own Prometheus registries, so a
renamed metric or label breaks this test rather than an empty panel on a dashboard.
"""

from __future__ import annotations

import json
import re
from itertools import combinations
from pathlib import Path
from typing import Any

import promql_parser
import pytest
from prometheus_client import CollectorRegistry

from receiver.metrics import receiver_metrics
from streams.metrics import WORKER_METRICS, worker_metrics

DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana" / "ticketstream.json"
# Labels Prometheus adds to every scraped series.
TARGET_LABELS = {"instance", "job", "namespace", "pod"}
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
}


def exported(registry: CollectorRegistry) -> dict[str, set[str]]:
    """Series name -> label names, for every metric of the registry."""
    series: dict[str, set[str]] = {}
    # The registry's collectors know their label names even before a labelled child exists
    # (collect() yields no sample for those); prometheus_client keeps them in this mapping.
    for collector in registry._collector_to_names:
        labels = set(getattr(collector, "_labelnames", ()))
        for family in collector.collect():
            for suffix in SUFFIXES[family.type]:
                extra = {"le"} if suffix == "_bucket" else set()
                series[family.name + suffix] = labels | extra
    return series


METRICS = {
    **exported(receiver_metrics(lambda: 0.0).registry),
    **exported(worker_metrics().registry),
}
DOC: dict[str, Any] = json.loads(DASHBOARD.read_text())


def panels() -> list[dict[str, Any]]:
    """Every panel, rows included."""
    return list(DOC["panels"])


def targets() -> list[tuple[str, dict[str, Any]]]:
    """(panel title, target) for every query."""
    return [(p["title"], t) for p in panels() for t in p.get("targets", [])]


def test_dashboard_is_a_grafana_dashboard() -> None:
    assert DOC["uid"] == "ticketstream"
    assert DOC["title"]
    assert isinstance(DOC["schemaVersion"], int)
    [variable] = DOC["templating"]["list"]
    assert (variable["name"], variable["type"], variable["query"]) == (
        "datasource",
        "datasource",
        "prometheus",
    )
    ids = [p["id"] for p in panels()]
    assert len(ids) == len(set(ids))
    for panel in panels():
        if panel["type"] == "row":
            continue
        assert panel["type"] in {"timeseries", "stat"}, panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["description"], panel["title"]
        assert panel["targets"], panel["title"]
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


def test_panels_fit_the_grid_without_overlapping() -> None:
    boxes = [(p["title"], p["gridPos"]) for p in panels()]
    for title, box in boxes:
        assert box["x"] >= 0, title
        assert box["w"] > 0, title
        assert box["x"] + box["w"] <= 24, title
    for (a, p), (b, q) in combinations(boxes, 2):
        apart = (
            p["x"] + p["w"] <= q["x"]
            or q["x"] + q["w"] <= p["x"]
            or p["y"] + p["h"] <= q["y"]
            or q["y"] + q["h"] <= p["y"]
        )
        assert apart, f"{a!r} overlaps {b!r}"


def parse(expr: str) -> promql_parser.Expr:
    """The query's syntax tree; Grafana's interval variables stand in as 5m."""
    return promql_parser.parse(re.sub(r"\$__(rate_)?interval\b", "5m", expr))


def selectors(expr: str) -> list[promql_parser.VectorSelector]:
    """Every series selector of the query."""
    found: list[promql_parser.VectorSelector] = []
    promql_parser.walk(
        parse(expr),
        lambda node: found.append(node) if isinstance(node, promql_parser.VectorSelector) else None,
    )
    return found


def name_of(selector: promql_parser.VectorSelector) -> str:
    """The metric a selector picks (by name: this dashboard never uses {__name__=...})."""
    assert selector.name, f"select series by metric name: {selector}"
    return selector.name


def grouping(expr: str) -> set[str]:
    """Labels named in the query's `by (...)` / `without (...)` clauses."""
    labels: set[str] = set()

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            labels.update(node.modifier.labels)

    promql_parser.walk(parse(expr), visit)
    return labels


@pytest.mark.parametrize(("title", "target"), targets(), ids=lambda v: str(v)[:40])
def test_queries_parse_and_use_exported_metrics_and_labels(
    title: str, target: dict[str, Any]
) -> None:
    expr = target["expr"]
    found = selectors(expr)  # raises on a syntax error
    used = [name_of(s) for s in found]
    assert used, f"{title}: no series in {expr}"
    unknown = [name for name in used if name not in METRICS]
    assert not unknown, f"{title}: {unknown} not exported by receiver/ or streams/metrics.py"
    for selector in found:
        labels = METRICS[name_of(selector)] | TARGET_LABELS
        for matcher in selector.matchers.matchers:
            assert matcher.name in labels, f"{title}: no label {matcher.name!r} on {selector}"
    labels = set().union(*(METRICS[name] for name in used)) | TARGET_LABELS
    grouped = grouping(expr)
    assert grouped <= labels, f"{title}: grouping by {grouped - labels}"
    for label in re.findall(r"\{\{\s*([a-z_]+)\s*\}\}", target.get("legendFormat", "")):
        assert label in (grouped or labels), f"{title}: legend {{{{{label}}}}} is not kept"


def test_every_metric_has_a_panel() -> None:
    used = {name_of(s) for _, t in targets() for s in selectors(t["expr"])}
    receiver = {
        "ticketstream_webhook_requests_total",
        "ticketstream_produce_latency_seconds_bucket",
        "ticketstream_webhook_in_flight",
        "ticketstream_producer_queue_depth",
    }
    assert receiver <= used
    for name in WORKER_METRICS:
        family = name.removesuffix("_total")
        assert any(u == name or u.startswith(family + "_") for u in used), name
