"""A Cloud Run option as the service YAML ``gcloud run services replace`` takes, checked offline.

The service is the same ``mlcost serve`` image as everywhere else, serving one request
per instance (concurrency 1, a batch cap of 1: what the plan's serverless model
priced), with the option's vCPUs and memory, CPU allocated only during requests
(request-based billing, as priced) and zero instances when idle: the plan counted the
cold starts of instances that go away, not idle ones kept warm.

No offline schema for Cloud Run's YAML exists, so ``check_cloud_run`` holds it to a
strict model written from Cloud Run's documented fields and limits
(https://cloud.google.com/run/docs/reference/yaml/v1, .../configuring/services/memory-limits,
.../configuring/services/cpu, .../configuring/concurrency, .../configuring/request-timeout):
an unknown field, an unknown ``run.googleapis.com/`` or ``autoscaling.knative.dev/``
annotation, or a size Cloud Run refuses is a finding.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlcost.core import DeployError, Plan, PlanOption
from mlcost.deploy._kubernetes import BAKED_HOME_PATH, SERVE_PORT, Rendered
from mlcost.deploy._lambda import TIMEOUT_S
from mlcost.deploy._option import resource_name


def cloud_run_option(plan: Plan) -> PlanOption:
    """The plan's Cloud Run option: the winner if it is one, else the best weighed (the
    platforms, then the runners-up: a plan keeps only the best serverless option of all)."""
    for option in (plan.winner, *plan.platforms, *plan.runners_up):
        if option.platform == "serverless" and option.offer.provider == "gcp":
            return option
    raise DeployError(
        "the plan weighed no Cloud Run option; allow gcp in constraints.providers and "
        "serverless in platform.allowed, and plan again"
    )


def render_cloud_run(plan: Plan, *, image: str) -> Rendered:
    """The Cloud Run service (one object) that runs the plan's Cloud Run option, and its notes."""
    option = cloud_run_option(plan)
    spec = option.replica
    if spec is None:
        raise DeployError(
            "plan.json predates mlcost deploy (its options carry no pod spec); run mlcost plan again"
        )
    offer = option.offer
    most = max(1, option.replicas_max)
    args = [
        "--home", BAKED_HOME_PATH, "serve", "--variant", option.variant,
        "--host", "0.0.0.0", "--port", str(SERVE_PORT), "--max-batch-size", "1",
    ]  # fmt: skip
    probe = {"httpGet": {"path": "/readyz", "port": SERVE_PORT}}
    service = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {
            "name": resource_name(plan.workload),
            "labels": {"cloud.googleapis.com/location": offer.region},
            "annotations": {"run.googleapis.com/ingress": "all"},
        },
        "spec": {
            "template": {
                "metadata": {
                    "annotations": {
                        "autoscaling.knative.dev/minScale": "0",
                        "autoscaling.knative.dev/maxScale": str(most),
                        "run.googleapis.com/cpu-throttling": "true",
                        "run.googleapis.com/startup-cpu-boost": "true",
                        "run.googleapis.com/execution-environment": "gen2",
                    }
                },
                "spec": {
                    "containerConcurrency": 1,
                    "timeoutSeconds": TIMEOUT_S,
                    "containers": [
                        {
                            "image": image,
                            "args": args,
                            "ports": [{"name": "http1", "containerPort": SERVE_PORT}],
                            "resources": {
                                "limits": {
                                    "cpu": f"{offer.vcpus:g}",
                                    "memory": f"{int(spec.memory_mib)}Mi",
                                }
                            },
                            "startupProbe": {**probe, "periodSeconds": 2, "failureThreshold": 90},
                            "livenessProbe": {
                                "httpGet": {"path": "/livez", "port": SERVE_PORT},
                                "periodSeconds": 10,
                                "failureThreshold": 3,
                            },
                        }
                    ],
                },
            },
            "traffic": [{"percent": 100, "latestRevision": True}],
        },
    }
    notes = (
        f"rendering {option.label} (${option.monthly_usd:,.2f}/month as planned)",
        f"{offer.vcpus:g} vCPU, {int(spec.memory_mib)} MiB, CPU only during requests "
        f"(request-based billing), 0-{most} instances (the busiest minute's, as simulated)",
        "one request per instance: concurrency 1, the server's batch cap 1 with no queue delay",
        "public: grant roles/run.invoker to allUsers for an open door like the plan's, or keep "
        "IAM auth in front",
        "checked against a model of Cloud Run's documented fields (no offline schema exists)",
    )
    return Rendered((service,), notes)


def check_cloud_run(service: dict[str, Any]) -> list[str]:
    """One line per finding in a Cloud Run service (empty: it keeps Cloud Run's documented
    fields and limits)."""
    try:
        _Service.model_validate(service)
    except ValidationError as exc:
        return [
            f"{'.'.join(str(p) for p in error['loc']) or '(top)'}: {error['msg']}"
            for error in exc.errors()
        ]
    return []


def require_cloud_run(service: dict[str, Any]) -> None:
    """Raise DeployError naming the first findings when the service breaks Cloud Run's rules."""
    problems = check_cloud_run(service)
    if problems:
        raise DeployError("Cloud Run service: " + "; ".join(problems[:3]))


# ---- the model of Cloud Run's service YAML (v1 Admin API) ----

_KNOWN_ANNOTATIONS = {
    "service": {
        "run.googleapis.com/ingress": {"all", "internal", "internal-and-cloud-load-balancing"},
        "run.googleapis.com/launch-stage": {"ALPHA", "BETA", "GA"},
        "run.googleapis.com/description": None,
        "run.googleapis.com/invoker-iam-disabled": {"true", "false"},
        "run.googleapis.com/minScale": None,
        "run.googleapis.com/maxScale": None,
    },
    "revision": {
        "autoscaling.knative.dev/minScale": None,
        "autoscaling.knative.dev/maxScale": None,
        "run.googleapis.com/cpu-throttling": {"true", "false"},
        "run.googleapis.com/startup-cpu-boost": {"true", "false"},
        "run.googleapis.com/execution-environment": {"gen1", "gen2"},
        "run.googleapis.com/sessionAffinity": {"true", "false"},
        "run.googleapis.com/vpc-access-connector": None,
        "run.googleapis.com/vpc-access-egress": {"all-traffic", "private-ranges-only"},
    },
}
_OWNED_PREFIXES = ("run.googleapis.com/", "autoscaling.knative.dev/")
_SCALE = re.compile(r"^\d+$")
# A whole number of vCPUs Cloud Run offers, or a fraction below one ("500m", "0.5").
_CPU = re.compile(r"^(1|2|4|6|8|[1-9]\d{0,2}m|0\.\d+)$")
_MEMORY = re.compile(r"^(\d+)(Mi|Gi)$")
# More memory than this needs at least so many vCPUs (the documented table), up to 32 GiB.
_MIN_CPUS_ABOVE_GIB = ((24, 8.0), (16, 6.0), (8, 4.0), (4, 2.0))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_annotations(annotations: dict[str, str], where: str) -> None:
    known = _KNOWN_ANNOTATIONS[where]
    for key, value in annotations.items():
        if key.startswith(_OWNED_PREFIXES):
            if key not in known:
                raise ValueError(f"unknown {where} annotation {key!r}")
            allowed = known[key]
            if allowed is not None and value not in allowed:
                raise ValueError(f"{key}: {value!r} is not one of {sorted(allowed)}")
            if key.endswith("Scale") and not _SCALE.match(value):
                raise ValueError(f"{key}: {value!r} is not a whole number")


class _Metadata(_Strict):
    name: str = Field(pattern=r"^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$")
    namespace: str | None = None
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}

    @model_validator(mode="after")
    def _annotations(self) -> _Metadata:
        _check_annotations(self.annotations, "service")
        return self


class _RevisionMetadata(_Strict):
    name: str | None = None
    annotations: dict[str, str] = {}

    @model_validator(mode="after")
    def _annotations(self) -> _RevisionMetadata:
        _check_annotations(self.annotations, "revision")
        low = int(self.annotations.get("autoscaling.knative.dev/minScale", "0"))
        high = self.annotations.get("autoscaling.knative.dev/maxScale")
        if high is not None and int(high) < max(low, 1):
            raise ValueError(f"maxScale {high} is below minScale {low} (or below 1)")
        return self


class _HttpGet(_Strict):
    path: str = Field(pattern=r"^/")
    port: int = Field(ge=1, le=65535)


class _Probe(_Strict):
    httpGet: _HttpGet
    initialDelaySeconds: int = Field(default=0, ge=0, le=240)
    periodSeconds: int = Field(default=10, ge=1, le=240)
    timeoutSeconds: int = Field(default=1, ge=1, le=240)
    failureThreshold: int = Field(default=3, ge=1)


class _Port(_Strict):
    name: Literal["http1", "h2c"] = "http1"
    containerPort: int = Field(ge=1, le=65535)


class _Limits(_Strict):
    cpu: str = Field(pattern=_CPU.pattern)
    memory: str

    @model_validator(mode="after")
    def _fits(self) -> _Limits:
        found = _MEMORY.match(self.memory)
        if found is None:
            raise ValueError(f"memory {self.memory!r} is not a size in Mi or Gi")
        mib = int(found.group(1)) * (1024 if found.group(2) == "Gi" else 1)
        if not 512 <= mib <= 32 * 1024:
            raise ValueError(f"memory {self.memory} is outside 512Mi-32Gi (gen2)")
        cpus = float(self.cpu[:-1]) / 1000 if self.cpu.endswith("m") else float(self.cpu)
        for gib, least in _MIN_CPUS_ABOVE_GIB:
            if mib > gib * 1024 and cpus < least:
                raise ValueError(f"memory {self.memory} needs at least {least:g} vCPUs")
        return self


class _Resources(_Strict):
    limits: _Limits


class _Env(_Strict):
    name: str
    value: str


class _Container(_Strict):
    image: str = Field(min_length=1)
    name: str | None = None
    command: list[str] | None = None
    args: list[str] = Field(default=[], max_length=1000)
    env: list[_Env] = []
    ports: list[_Port] = Field(default=[], max_length=1)
    resources: _Resources
    startupProbe: _Probe | None = None
    livenessProbe: _Probe | None = None


class _RevisionSpec(_Strict):
    containerConcurrency: int = Field(ge=1, le=1000)
    timeoutSeconds: int = Field(ge=1, le=3600)
    serviceAccountName: str | None = None
    containers: list[_Container] = Field(min_length=1, max_length=10)


class _Template(_Strict):
    metadata: _RevisionMetadata = _RevisionMetadata()
    spec: _RevisionSpec


class _Traffic(_Strict):
    percent: int = Field(ge=0, le=100)
    latestRevision: bool | None = None
    revisionName: str | None = None


class _ServiceSpec(_Strict):
    template: _Template
    traffic: list[_Traffic] = []


class _Service(_Strict):
    apiVersion: Literal["serving.knative.dev/v1"]
    kind: Literal["Service"]
    metadata: _Metadata
    spec: _ServiceSpec
