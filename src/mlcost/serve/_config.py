"""serve.yaml: what ``mlcost serve`` runs, and how it batches, limits and shuts down.

Every section has defaults that fit a spot VM behind a Kubernetes Service; a
file names its tiers and what it changes. The shutdown timings must keep one
chain (docs/serve.md), checked here:

    drain_delay_s + request_timeout_s + flush_s  <  grace_period_s  <=  notice window

so a pod told to go (SIGTERM, or a spot notice) stops getting traffic, answers
what it accepted and exits before Kubernetes kills it, and before the provider
takes the machine (AWS gives 120 s, GCP and Azure 30 s).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlcost.core import (
    DEFAULT_MAX_BATCH_SIZE,
    DEFAULT_MAX_QUEUE_DELAY_MS,
    ServeError,
    file_beside,
    load_yaml_model,
)
from mlcost.train import CLOUDS, Cloud

NOTICE_WINDOW_S: dict[Cloud, float] = {"aws": 120.0, "gcp": 30.0, "azure": 30.0}


def notice_window_s(provider: str) -> float:
    """The seconds between a spot notice and the reclaim on ``provider``; the shortest
    window where the provider is not one of the clouds (a drain sized for it holds anywhere)."""
    windows = {str(cloud): seconds for cloud, seconds in NOTICE_WINDOW_S.items()}
    return windows.get(provider, min(windows.values()))


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Batching(_Part):
    max_batch_size: int = Field(default=DEFAULT_MAX_BATCH_SIZE, ge=1, le=1024)
    max_queue_delay_ms: float = Field(default=DEFAULT_MAX_QUEUE_DELAY_MS, ge=0, le=1000)
    # Texts that may wait in this tier's queue; past it a request gets 429 + Retry-After.
    queue_capacity: int = Field(default=256, ge=1)


class Breaker(_Part):
    failures: int = Field(default=5, ge=1)
    reset_s: float = Field(default=30.0, gt=0)


class Remote(_Part):
    url: str = Field(pattern=r"^https?://\S+$")
    timeout_ms: float = Field(default=2000.0, gt=0)
    retries: int = Field(default=1, ge=0, le=5)
    breaker: Breaker = Breaker()


class Tier(_Part):
    """A tier answers from a variant in the workspace, or from another mlcost serve."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=40)
    variant: str | None = None
    remote: Remote | None = None
    batching: Batching = Batching()
    # Intra-op threads; default: what the CPU quota allows (runtime.threads_allowed).
    threads: int | None = Field(default=None, ge=1, le=256)
    max_tokens: int = Field(default=512, ge=8, le=8192)
    # ONNX Runtime's intra-op threads spin between runs (its default, and how the profile is
    # measured, so the plan's latency model holds). Off, each run wakes its threads: batch 1
    # took 4.5 ms instead of 2.65 ms on a 2-vCPU EPYC, and p50/p99 under load rose 10-15 %.
    spin_threads: bool = True

    @model_validator(mode="after")
    def _one_source(self) -> Tier:
        if (self.variant is None) == (self.remote is None):
            raise ValueError("give exactly one of variant (a local variant) or remote (a URL)")
        return self


class Cascade(_Part):
    """When tier 1 is unsure (confidence below the threshold), tier 2 answers."""

    confidence: Literal["max_probability", "margin"] = "max_probability"
    threshold: float | None = Field(default=None, ge=0, le=1)
    # A file written by `mlcost cascade calibrate` (threshold, temperature, the rows it used).
    threshold_file: Path | None = None

    @model_validator(mode="after")
    def _one_threshold(self) -> Cascade:
        if self.threshold is not None and self.threshold_file is not None:
            raise ValueError("give threshold or threshold_file, not both")
        return self


class Limits(_Part):
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    max_texts: int = Field(default=64, ge=1, le=4096)
    max_text_chars: int = Field(default=10_000, ge=1)
    # A request's deadline: past it the answer is 504 and its texts are not run.
    request_timeout_s: float = Field(default=5.0, gt=0, le=600)
    # A client that takes longer than this to send its request is cut off.
    read_timeout_s: float = Field(default=10.0, gt=0, le=600)


class Shutdown(_Part):
    # Readiness fails at once; the server keeps serving this long so load balancers notice.
    drain_delay_s: float = Field(default=5.0, ge=0)
    # Writing the last metrics and logs after the last request.
    flush_s: float = Field(default=2.0, ge=0)
    # Kubernetes' terminationGracePeriodSeconds for this pod.
    grace_period_s: float = Field(default=25.0, gt=0)


class Spot(_Part):
    """Poll the cloud's metadata endpoint for a spot/preemption notice (none by default)."""

    cloud: Cloud | None = None
    metadata_url: str | None = None
    poll_interval_s: float = Field(default=5.0, gt=0)


class Machine(_Part):
    """What the machine costs, for mlcost_inference_cost_dollars_total: an explicit price, or
    an instance type priced from the catalog."""

    price_usd_per_hour: float | None = Field(default=None, ge=0)
    provider: str | None = None
    region: str | None = None
    instance_type: str | None = None
    pricing: Literal["on_demand", "spot"] = "on_demand"

    @model_validator(mode="after")
    def _one_price(self) -> Machine:
        named = (self.provider, self.region, self.instance_type)
        if self.price_usd_per_hour is None and None in named:
            raise ValueError(
                "give price_usd_per_hour, or provider, region and instance_type to price "
                "it from the catalog"
            )
        return self


class ServeConfig(_Part):
    """The whole serve.yaml."""

    tiers: tuple[Tier, ...]
    cascade: Cascade = Cascade()
    limits: Limits = Limits()
    shutdown: Shutdown = Shutdown()
    spot: Spot = Spot()
    machine: Machine | None = None
    # The environment variable holding the bearer token for /admin/*; unset: admin is off.
    admin_token_env: str = "MLCOST_ADMIN_TOKEN"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)

    @model_validator(mode="after")
    def _consistent(self) -> ServeConfig:
        if not 1 <= len(self.tiers) <= 2:
            raise ValueError(
                "tiers: give one tier, or two (a cheap one, then the one it escalates to)"
            )
        names = [tier.name for tier in self.tiers]
        if len(set(names)) != len(names):
            raise ValueError("tiers: two tiers share a name; name each tier once")
        if self.tiers[0].remote is not None:
            raise ValueError("tiers: tier 1 must be a local variant (the cheap one)")
        budget = self.shutdown.drain_delay_s + self.limits.request_timeout_s + self.shutdown.flush_s
        if budget >= self.shutdown.grace_period_s:
            raise ValueError(
                f"shutdown: drain_delay_s + limits.request_timeout_s + flush_s = {budget:g} s "
                f"must be below grace_period_s ({self.shutdown.grace_period_s:g} s); shorten "
                "them or raise grace_period_s (and the pod's terminationGracePeriodSeconds)"
            )
        cloud = self.spot.cloud
        if cloud is not None and self.shutdown.grace_period_s > NOTICE_WINDOW_S[cloud]:
            raise ValueError(
                f"shutdown: grace_period_s ({self.shutdown.grace_period_s:g} s) must fit in "
                f"{cloud}'s spot notice ({NOTICE_WINDOW_S[cloud]:g} s); lower it"
            )
        return self

    @property
    def threshold_needed(self) -> bool:
        return len(self.tiers) > 1


DEFAULT_THRESHOLD = 0.85  # a common default, until `mlcost cascade calibrate` gives a better one
assert set(NOTICE_WINDOW_S) == set(CLOUDS)


def single_variant_config(
    variant: str, host: str, port: int, *, max_batch_size: int | None = None
) -> ServeConfig:
    """``mlcost serve --variant NAME``: one tier, every default but the batch cap if given
    (a cap of 1 has no queue delay: one request per instance, as on Lambda)."""
    tier: dict[str, object] = {"name": "main", "variant": variant}
    if max_batch_size is not None:
        delay = 0.0 if max_batch_size == 1 else DEFAULT_MAX_QUEUE_DELAY_MS
        tier["batching"] = {"max_batch_size": max_batch_size, "max_queue_delay_ms": delay}
    return ServeConfig.model_validate({"tiers": [tier], "host": host, "port": port})


# What to add when a required key is missing.
_EXAMPLES = {
    "tiers": "tiers: [{name: student, variant: distilled-int8}]",
    "name": "name: student",
    "url": "url: http://teacher:8000",
}


def load_serve_config(path: Path) -> ServeConfig:
    """The validated serve.yaml; a relative threshold_file is taken from the file's folder.

    Raises ServeError with one line, ``FILE:LINE: field.path: what is wrong; what to do``.
    """
    root, config = load_yaml_model(
        path,
        ServeConfig,
        error=ServeError,
        example_file="examples/serve.yaml",
        examples=_EXAMPLES,
        what="the serve file",
    )
    file = config.cascade.threshold_file
    if file is None:
        return config
    resolved = file_beside(
        path,
        root,
        ("cascade", "threshold_file"),
        file,
        error=ServeError,
        fix="run mlcost cascade calibrate, or give the threshold as cascade.threshold",
    )
    cascade = config.cascade.model_copy(update={"threshold_file": resolved})
    return config.model_copy(update={"cascade": cascade})
