"""Build a server from a ServeConfig and the workspace's variants, and run it until it drains.

Models load on the main thread before the port opens (so /readyz is never
green on a server that cannot answer); the port is bound here, so port 0
works and the log says which port it got. Logs are JSON lines on stderr,
one per event and per request (method, path, status, time; never the body).
"""

from __future__ import annotations

import json
import logging
import math
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import uvicorn

from mlcost.core import Profile, ServeError, Variant
from mlcost.runtime import threads_allowed
from mlcost.serve._app import Served, build_app
from mlcost.serve._batcher import Batcher
from mlcost.serve._calibrate import read_threshold
from mlcost.serve._cascade import Cascade, Threshold
from mlcost.serve._config import DEFAULT_THRESHOLD, ServeConfig, Tier
from mlcost.serve._lifecycle import DrainingServer, Lifecycle
from mlcost.serve._metrics import Metrics
from mlcost.serve._protocol import head_deadline_protocol
from mlcost.serve._tier import CircuitBreaker, LocalTier, RemoteTier

_log = logging.getLogger("mlcost.serve")


@dataclass(frozen=True, slots=True)
class MachinePrice:
    """What the machine costs an hour, and where that figure comes from."""

    usd_per_hour: float
    source: str


def serve(
    config: ServeConfig,
    *,
    variants: Mapping[str, Variant],
    profiles: Mapping[str, Profile],
    price: MachinePrice | None,
) -> int:
    """Load the tiers, serve until drained (lifecycle), return the exit code (0).

    Raises ServeError (one line, what to fix) for a tier whose variant is not in
    the workspace or cannot be loaded, or a port that cannot be bound.
    """
    _json_logs()
    local = [_local(tier, variants) for tier in config.tiers if tier.variant is not None]
    for tier in local:
        began = time.monotonic()
        try:
            tier.load()
        except (OSError, ValueError, RuntimeError) as exc:
            raise ServeError(
                f"tier {tier.name}: cannot load variant {tier.variant.name} from "
                f"{tier.variant.path}: {exc}; run mlcost compress again"
            ) from exc
        _log.info(
            "tier loaded",
            extra={
                "fields": {
                    "tier": tier.name,
                    "variant": tier.variant.name,
                    "threads": tier.threads,
                    "load_s": round(time.monotonic() - began, 2),
                }
            },
        )
    remote = _remote(config)
    metrics = Metrics(
        tiers=[t.name for t in config.tiers],
        local_tiers=[t.name for t in local],
        price_usd_per_hour=price.usd_per_hour if price else None,
    )
    batchers = [_batcher(config, tier, metrics) for tier in local]
    threshold = _threshold(config)
    metrics.threshold.set(threshold.value)
    cascade = Cascade(
        names=[t.name for t in config.tiers],
        labels=[t.labels for t in local] + ([remote.labels] if remote else []),
        batchers={b.tier: b for b in batchers},
        remote=remote,
        threshold=threshold,
        metrics=metrics,
    )
    lifecycle = Lifecycle(
        shutdown=config.shutdown,
        spot=config.spot,
        batchers=batchers,
        executors=[t.executor for t in local],
        metrics=metrics,
    )
    served = Served(
        cascade=cascade,
        limits=config.limits,
        lifecycle=lifecycle,
        models=_models(config, local, profiles, price),
        admin_token_env=config.admin_token_env,
    )
    app = build_app(served)
    listener = _bind(config.host, config.port)
    uconfig = uvicorn.Config(
        app,
        http=head_deadline_protocol(config.limits.read_timeout_s),
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=math.ceil(config.limits.request_timeout_s) + 1,
        limit_concurrency=_concurrency(config),
    )
    server = DrainingServer(uconfig, lifecycle)
    host, port = listener.getsockname()[:2]
    _log.info("listening", extra={"fields": {"url": f"http://{host}:{port}"}})
    if remote is not None:
        import httpx

        remote.client = httpx.AsyncClient()
    try:
        server.run(sockets=[listener])
    finally:
        for tier in local:
            tier.close()
    return 0


def _local(tier: Tier, variants: Mapping[str, Variant]) -> LocalTier:
    assert tier.variant is not None
    variant = variants.get(tier.variant)
    if variant is None:
        known = ", ".join(sorted(variants)) or "none yet (run mlcost compress)"
        raise ServeError(
            f"tier {tier.name}: no variant {tier.variant!r} in the workspace; known: {known}"
        )
    session = {**(variant.recipe.get("session") or {}), "spinning": tier.spin_threads}
    variant = replace(variant, recipe={**variant.recipe, "session": session})
    return LocalTier(tier.name, variant, tier.threads or threads_allowed(), tier.max_tokens)


def _remote(config: ServeConfig) -> RemoteTier | None:
    for tier in config.tiers:
        if tier.remote is not None:
            r = tier.remote
            return RemoteTier(
                tier.name,
                r.url,
                r.timeout_ms / 1000.0,
                r.retries,
                CircuitBreaker(r.breaker.failures, r.breaker.reset_s),
            )
    return None


def _batcher(config: ServeConfig, tier: LocalTier, metrics: Metrics) -> Batcher:
    settings = next(t for t in config.tiers if t.name == tier.name).batching
    return Batcher(
        tier=tier.name,
        run=tier.run,
        max_batch_size=settings.max_batch_size,
        max_queue_delay_s=settings.max_queue_delay_ms / 1000.0,
        capacity=settings.queue_capacity,
        on_batch=metrics.batch_done,
    )


def _threshold(config: ServeConfig) -> Threshold:
    cascade = config.cascade
    if cascade.threshold_file is not None:
        return read_threshold(cascade.threshold_file)
    if cascade.threshold is not None:
        return Threshold(cascade.threshold, cascade.confidence, 1.0, "serve.yaml")
    if config.threshold_needed:
        _log.warning(
            "no calibrated threshold: using the common default",
            extra={"fields": {"threshold": DEFAULT_THRESHOLD, "fix": "mlcost cascade calibrate"}},
        )
    return Threshold(DEFAULT_THRESHOLD, cascade.confidence, 1.0, "default (uncalibrated)")


def _models(
    config: ServeConfig,
    local: list[LocalTier],
    profiles: Mapping[str, Profile],
    price: MachinePrice | None,
) -> list[dict[str, Any]]:
    """What GET /v1/models shows per tier."""
    by_name = {t.name: t for t in local}
    rows: list[dict[str, Any]] = []
    for index, tier in enumerate(config.tiers):
        row: dict[str, Any] = {"tier": index + 1, "name": tier.name}
        if tier.remote is not None:
            row["remote"] = tier.remote.url
        else:
            variant = by_name[tier.name].variant
            profile = profiles.get(variant.name)
            row |= {
                "variant": variant.name,
                "format": variant.format,
                "precision": variant.precision,
                "method": variant.method,
                "recipe_key": variant.recipe.get("key"),
                "threads": by_name[tier.name].threads,
                "batching": tier.batching.model_dump(),
                "labels": list(by_name[tier.name].labels),
                "profile": _profile_summary(profile),
                "machine_price": (
                    {"usd_per_hour": price.usd_per_hour, "source": price.source} if price else None
                ),
            }
        rows.append(row)
    return rows


def _profile_summary(profile: Profile | None) -> dict[str, Any] | None:
    if profile is None:
        return None
    return {
        "basis": profile.basis,
        "cpu": profile.hardware.cpu_model,
        "threads": profile.threads,
        "latency_ms_p50": profile.latency_ms_p50,
        "latency_ms_p99": profile.latency_ms_p99,
        "throughput_per_s": profile.throughput_per_s,
        "accuracy": profile.accuracy,
    }


def _concurrency(config: ServeConfig) -> int:
    """Connections + tasks uvicorn allows before answering 503: enough for every queued text
    to have its own request, and some room for probes and scrapes."""
    return sum(t.batching.queue_capacity for t in config.tiers) + 64


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise ServeError(
            f"cannot listen on {host}:{port}: {exc.strerror}; choose another --port or stop what uses it"
        ) from exc
    listener.listen(2048)
    listener.set_inheritable(True)
    return listener


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line |= getattr(record, "fields", {})
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def _json_logs() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonLines())
    for name in ("mlcost.serve", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False
