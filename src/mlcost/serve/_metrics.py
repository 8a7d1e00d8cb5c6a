"""The server's Prometheus metrics, and what each prediction costs.

Names follow Prometheus' conventions (base units, ``_total`` on counters,
labels of low cardinality: ``tier``, ``outcome``). Cost is a counter:
``mlcost_inference_cost_dollars_total{tier}`` grows by the machine's price for
every second that passes, split between the local tiers by their share of the
busy time in that second (all of it to tier 1 when both idle), so the machine's
whole bill, idle time included, lands on the tiers that use it, and

    1000 * sum(rate(mlcost_inference_cost_dollars_total[5m]))
         / sum(rate(mlcost_predictions_total[5m]))

is the cost of 1,000 predictions. A remote tier's cost is counted by that
server's own metrics.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

from mlcost.serve._batcher import BatchDone

_LATENCY_S = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
_BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
_CONFIDENCE = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 1.0)


@dataclass
class Metrics:
    """Every metric of one server, in its own registry (tests run several servers at once)."""

    tiers: Sequence[str]
    local_tiers: Sequence[str]
    price_usd_per_hour: float | None
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # the _created series only double what a scrape shows
        r = self.registry
        self.requests = Counter(
            "mlcost_requests", "HTTP predict requests by outcome", ["outcome"], registry=r
        )
        self.predictions = Counter(
            "mlcost_predictions", "Texts answered, by the tier that answered", ["tier"], registry=r
        )
        self.escalations = Counter(
            "mlcost_escalations",
            "Texts tier 1 was unsure of, by what happened (answered by tier 2, or tier 2 "
            "unavailable and tier 1's answer returned)",
            ["outcome"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "mlcost_request_duration_seconds",
            "Predict request latency, arrival to answer",
            buckets=_LATENCY_S,
            registry=r,
        )
        self.queue_wait = Histogram(
            "mlcost_queue_wait_seconds",
            "Time a text waited in its tier's queue",
            ["tier"],
            buckets=_LATENCY_S,
            registry=r,
        )
        self.batch_size = Histogram(
            "mlcost_batch_size",
            "Texts per inference batch",
            ["tier"],
            buckets=_BATCH_SIZES,
            registry=r,
        )
        self.batch_seconds = Histogram(
            "mlcost_batch_duration_seconds",
            "Inference time of one batch (tokenizing included)",
            ["tier"],
            buckets=_LATENCY_S,
            registry=r,
        )
        self.confidence = Histogram(
            "mlcost_confidence",
            "Tier 1's confidence in each text it answered or escalated",
            buckets=_CONFIDENCE,
            registry=r,
        )
        self.in_flight = Gauge(
            "mlcost_in_flight_requests", "Predict requests in progress", registry=r
        )
        self.queue_depth = Gauge(
            "mlcost_queue_depth", "Texts waiting in a tier's queue", ["tier"], registry=r
        )
        self.threshold = Gauge(
            "mlcost_cascade_threshold", "The active cascade threshold (confidence)", registry=r
        )
        self.busy = Counter(
            "mlcost_tier_busy_seconds",
            "Seconds a tier's inference thread was busy",
            ["tier"],
            registry=r,
        )
        self.cost = Counter(
            "mlcost_inference_cost_dollars",
            "The machine's cost so far, split between local tiers by busy share",
            ["tier"],
            registry=r,
        )
        self.price = Gauge(
            "mlcost_machine_price_dollars_per_hour",
            "The hourly price the cost counter uses (serve.yaml machine)",
            registry=r,
        )
        self.ready = Gauge("mlcost_ready", "1 while /readyz answers 200", registry=r)
        self.circuit_open = Gauge(
            "mlcost_remote_circuit_open",
            "1 while a remote tier's circuit is open",
            ["tier"],
            registry=r,
        )
        for tier in self.tiers:
            self.predictions.labels(tier)
        for tier in self.local_tiers:
            self.cost.labels(tier)
            self.busy.labels(tier)
        for outcome in ("answered", "degraded"):
            self.escalations.labels(outcome)
        if self.price_usd_per_hour is not None:
            self.price.set(self.price_usd_per_hour)
        self._busy_since_tick = {tier: 0.0 for tier in self.local_tiers}
        self._last_tick = time.monotonic()

    def batch_done(self, done: BatchDone) -> None:
        self.batch_size.labels(done.tier).observe(done.size)
        self.batch_seconds.labels(done.tier).observe(done.run_s)
        for wait in done.queue_waits_s:
            self.queue_wait.labels(done.tier).observe(wait)
        self.busy.labels(done.tier).inc(done.run_s)
        self._busy_since_tick[done.tier] = self._busy_since_tick.get(done.tier, 0.0) + done.run_s

    def tick(self) -> None:
        """Add the machine's cost since the last tick, split by busy share (module docstring)."""
        now = time.monotonic()
        elapsed, self._last_tick = now - self._last_tick, now
        if self.price_usd_per_hour is None or not self.local_tiers:
            return
        dollars = self.price_usd_per_hour * elapsed / 3600.0
        busy = sum(self._busy_since_tick.values())
        for tier in self.local_tiers:
            share = (
                self._busy_since_tick[tier] / busy
                if busy > 0
                else float(tier == self.local_tiers[0])
            )
            self.cost.labels(tier).inc(dollars * share)
        self._busy_since_tick = dict.fromkeys(self.local_tiers, 0.0)
