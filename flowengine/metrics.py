"""``/metrics``: per-node counters and queue depths in the Prometheus text format."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from flowengine.runtime import Runtime

COUNTERS = ("received", "sent", "errors", "dropped")


class RuntimeCollector(Collector):
    """Reads the runtime's snapshot at every scrape."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        labels = ["node", "type", "flow"]
        counters = {
            name: CounterMetricFamily(f"flowengine_node_messages_{name}", f"Messages {name} per node", labels=labels)
            for name in COUNTERS
        }
        depth = GaugeMetricFamily("flowengine_node_queue_depth", "Messages waiting in the node's input queue", labels=labels)
        up = GaugeMetricFamily("flowengine_node_running", "1 when the node runs, 0 when it is starting, failing or disabled", labels=labels)
        for node_id, entry in self.runtime.snapshot().items():
            values = [node_id, entry["type"], entry["flow"] or ""]
            for name in COUNTERS:
                counters[name].add_metric(values, entry.get("counters", {}).get(name, 0))
            if "queue" in entry:
                depth.add_metric(values, entry["queue"]["size"])
            up.add_metric(values, 1 if entry["state"] == "running" else 0)
        yield from counters.values()
        yield depth
        yield up
        yield GaugeMetricFamily("flowengine_event_subscribers", "Clients of /api/events", value=self.runtime.events.subscribers)


def render(runtime: Runtime) -> bytes:
    registry = CollectorRegistry()
    registry.register(RuntimeCollector(runtime))
    return generate_latest(registry)
