"""Prometheus metrics every worker exports. Names follow `quark_<subsystem>_<what>_<unit>`.

Position and lag gauges exist for every stream processor (projections), as in Synapse: a
stuck projection shows as a flat position and a growing lag.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

COMMANDS_TOTAL = Counter(
    "quark_commands_total",
    "Commands handled, by outcome",
    ["context", "command", "outcome"],
    registry=REGISTRY,
)
COMMAND_SECONDS = Histogram(
    "quark_command_seconds",
    "Time to load, decide and append one command",
    ["context", "command"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
    registry=REGISTRY,
)
PROJECTION_POSITION = Gauge(
    "quark_projection_position",
    "Last stream sequence applied",
    ["projection", "stream"],
    registry=REGISTRY,
)
PROJECTION_LAG = Gauge(
    "quark_projection_lag_messages",
    "Messages not yet applied",
    ["projection", "stream"],
    registry=REGISTRY,
)
PROJECTION_EVENTS_TOTAL = Counter(
    "quark_projection_events_total", "Events applied", ["projection"], registry=REGISTRY
)
PROJECTION_DEAD_LETTERS_TOTAL = Counter(
    "quark_projection_dead_letters_total",
    "Events sent to the dead-letter stream",
    ["projection"],
    registry=REGISTRY,
)
HTTP_REQUESTS_TOTAL = Counter(
    "quark_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=REGISTRY
)
HTTP_SECONDS = Histogram(
    "quark_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5),
    registry=REGISTRY,
)

IN_FLIGHT = Gauge(
    "quark_in_flight",
    "Requests or commands being worked on",
    ["worker", "kind"],
    registry=REGISTRY,
)
SHED_TOTAL = Counter(
    "quark_shed_total",
    "Requests or commands refused with 503 because too many were in flight",
    ["worker", "kind"],
    registry=REGISTRY,
)

WEBSOCKETS_OPEN = Gauge(
    "quark_websockets_open",
    "Live channel sockets open on this edge (authenticated or not yet)",
    registry=REGISTRY,
)
WEBSOCKET_CLOSES_TOTAL = Counter(
    "quark_websocket_closes_total",
    "Live channel sockets closed by the server, by close code (docs/websocket.md)",
    ["code"],
    registry=REGISTRY,
)


UPLOADS_TOTAL = Counter(
    "quark_uploads_total",
    "Media uploads received by this edge, by kind (image, video…) once accepted",
    ["kind"],
    registry=REGISTRY,
)
UPLOAD_BYTES_TOTAL = Counter(
    "quark_upload_bytes_total",
    "Bytes of accepted media uploads",
    registry=REGISTRY,
)
PUSHES_TOTAL = Counter(
    "quark_pushes_total",
    "Notifications the push sender handled, by outcome (pushed, online, no_device, expired, "
    "failed, retried)",
    ["outcome"],
    registry=REGISTRY,
)
MODULE_INSTANCES = Gauge(
    "quark_module_instances",
    "Instances of each module the hub finds (discovery), by kind",
    ["module", "kind"],
    registry=REGISTRY,
)
MODULE_STATE = Gauge(
    "quark_module_up",
    "1 when the hub finds a module up, 0.5 degraded, 0 down",
    ["module"],
    registry=REGISTRY,
)


def render() -> bytes:
    return generate_latest(REGISTRY)
