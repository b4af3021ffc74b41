"""Prometheus metrics by the contract's names; every label takes few values."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_DURATION = Histogram(
    "http_server_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
WEBHOOKS = Counter(
    "neuronx_webhooks",
    "Inbound webhook requests, by outcome (accepted, duplicate, held or error code).",
    ["outcome"],
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "neuronx_queue_depth",
    "Jobs waiting to run (available and retrying), by queue.",
    ["queue"],
    registry=REGISTRY,
)
QUEUE_OLDEST_AGE = Gauge(
    "neuronx_queue_oldest_age_seconds",
    "Age of the oldest job due to run, by queue.",
    ["queue"],
    registry=REGISTRY,
)
JOBS = Counter(
    "neuronx_jobs",
    "Finished attempts, by queue and outcome (success, retry, dead).",
    ["queue", "outcome"],
    registry=REGISTRY,
)
DEAD_LETTERS = Gauge(
    "neuronx_dead_letters",
    "Dead letters kept for operators, by queue.",
    ["queue"],
    registry=REGISTRY,
)
LEADS = Counter(
    "neuronx_leads",
    "Leads through each stage (normalized, merged, scored, routed, unassigned).",
    ["stage"],
    registry=REGISTRY,
)
