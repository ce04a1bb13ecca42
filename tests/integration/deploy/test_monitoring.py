"""The monitoring files in deploy/ stay true to the code: every metric the Grafana dashboard
asks for is one the platform exports, every Quark service of compose.yaml is scraped, and
each process kind really serves /metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from core.metrics import REGISTRY

ROOT = Path(__file__).resolve().parents[3]
DASHBOARD = ROOT / "deploy" / "grafana" / "quark.json"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"


def exported() -> set[str]:
    names: set[str] = set()
    for metric in REGISTRY.collect():
        names.add(metric.name)
        for sample in metric.samples:
            names.add(sample.name)
    # Histograms' series exist once observed; their names follow from the family's.
    for metric in REGISTRY.collect():
        if metric.type == "histogram":
            names |= {f"{metric.name}_{s}" for s in ("bucket", "sum", "count")}
        if metric.type == "counter":
            names.add(f"{metric.name}_total")
    return names


def test_every_dashboard_metric_is_exported() -> None:
    board = json.loads(DASHBOARD.read_text())
    asked = {
        name
        for panel in board["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bquark_[a-z_]+", target["expr"])
    }
    assert asked, "the dashboard asks for nothing"
    missing = asked - exported()
    assert not missing, f"the dashboard asks for metrics nobody exports: {missing}"
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])


def test_every_quark_service_is_scraped() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    quark = {
        name
        for name, svc in compose["services"].items()
        if svc.get("image") == "quark:latest" and name != "migrate"
    }
    config = yaml.safe_load(PROMETHEUS.read_text())
    scraped: set[str] = set()
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            scraped |= {t.split(":")[0] for t in static["targets"]}
        for dns in job.get("dns_sd_configs", []):
            scraped |= set(dns["names"])
    assert quark <= scraped, f"not scraped: {quark - scraped}"
    env = compose["x-quark"]["environment"]
    assert env["QUARK_METRICS_PORT"] == "9100"
    workers = next(j for j in config["scrape_configs"] if j["job_name"] == "quark-workers")
    assert all(t.endswith(":9100") for t in workers["static_configs"][0]["targets"])
