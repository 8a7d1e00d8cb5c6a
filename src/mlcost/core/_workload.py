"""The workload a plan must serve or train: traffic and SLO, or a training job.

Users write it as ``workload.yaml`` (mlcost.plan.load_workload reads it) or,
for a training job, a YAML file with a top-level ``training:`` section
(mlcost.plan.load_training_workload). Every part is a frozen pydantic model
that refuses unknown keys. Units are in the field names. Sizes in KB are
1,000 bytes, as providers bill transfer.

Checks that involve more than one key raise ``ValueError("key: what; do")``:
the message starts with the key they blame, so a loader can point at its line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)

from mlcost.core._plan import PLATFORMS, Platform
from mlcost.core._values import Pricing

Provider = Literal["aws", "gcp", "azure"]
DailyShape = Literal["flat", "business-hours", "consumer"]
DAILY_SHAPES: tuple[DailyShape, ...] = ("flat", "business-hours", "consumer")
Scaling = Literal["fixed", "autoscaled"]
CommitmentTerm = Literal["1y", "3y"]
Balancing = Literal["random", "round-robin", "least-outstanding"]
FrontDoor = Literal["function-url", "http-api", "rest-api"]
CreditMode = Literal["unlimited", "standard"]

HOURS_PER_DAY = 24
DAYS_PER_WEEK = 7
BYTES_PER_KB = 1000
DEFAULT_ACCURACY_DROP_POINTS = 1.0
# Weekend traffic of a business-hours service, as a share of a weekday's, when
# the workload gives no weekly pattern: offices are mostly closed.
BUSINESS_HOURS_WEEKEND_FACTOR = 0.25


def _not_bool(value: object) -> object:
    """Refuse YAML's true/false (and yes/no) where a number is meant; pydantic would take 1/0."""
    if isinstance(value, bool):
        raise ValueError(f"got {str(value).lower()}; give a number")
    return value


Number = Annotated[float, BeforeValidator(_not_bool)]
NonNegative = Annotated[float, BeforeValidator(_not_bool), Field(ge=0)]
Count = Annotated[int, BeforeValidator(_not_bool), Field(ge=0)]
Name = Annotated[str, Field(min_length=1, pattern=r"^\S+$")]


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def _weights(values: tuple[float, ...], *, count: int, what: str) -> tuple[float, ...]:
    if len(values) != count:
        raise ValueError(f"got {len(values)} weights; give exactly {count}, {what}")
    if sum(values) <= 0:
        raise ValueError(f"every weight is 0; give at least one above 0, {what}")
    return values


class WeeklyPattern(_Part):
    """How busy each day of the week is, relative to the others.

    Either ``weekday`` and ``weekend`` multipliers (default 1.0 each: every day
    alike) or ``day_weights``, seven weights from Monday to Sunday. In YAML a
    plain list of seven numbers means ``day_weights``. Only the ratios count:
    ``factors`` rescales them to average 1.0 over the week.
    """

    weekday: NonNegative = 1.0
    weekend: NonNegative = 1.0
    day_weights: tuple[NonNegative, ...] | None = None

    @model_validator(mode="before")
    @classmethod
    def _list_means_day_weights(cls, data: Any) -> Any:
        return {"day_weights": data} if isinstance(data, list | tuple) else data

    @field_validator("day_weights")
    @classmethod
    def _seven(cls, value: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if value is None:
            return None
        return _weights(value, count=DAYS_PER_WEEK, what="Monday to Sunday")

    @model_validator(mode="after")
    def _one_form(self) -> WeeklyPattern:
        if self.day_weights is not None and self.model_fields_set & {"weekday", "weekend"}:
            raise ValueError(
                "day_weights: weekday/weekend are given too; give either the two multipliers or seven day weights"
            )
        if self.day_weights is None and self.weekday + self.weekend <= 0:
            raise ValueError("weekday: weekday and weekend are both 0; give one above 0")
        return self

    def factors(self) -> tuple[float, ...]:
        """Returns seven day factors, Monday first, averaging 1.0 over the week."""
        raw = self.day_weights or (self.weekday,) * 5 + (self.weekend,) * 2
        mean = sum(raw) / DAYS_PER_WEEK
        return tuple(value / mean for value in raw)


class Traffic(_Part):
    """The requests to serve: how many, when in the day and week, and how big.

    ``requests_per_day`` is the average over a week (a busy Monday has more,
    a quiet Sunday fewer). The daily shape is one of three forms:

    - ``daily_shape``: a built-in, ``flat`` (the default: the literal reading
      of "N requests a day"; almost no real service is flat, so name one),
      ``business-hours`` (most traffic 09:00-18:00, quiet weekends unless
      ``weekly`` says otherwise) or ``consumer`` (peak at 09:00, trough at 02:00);
    - ``hourly_weights``: 24 relative request rates at 00:00, 01:00, ... 23:00;
    - ``trace``: a CSV of per-minute counts (``minute,count`` or
      ``timestamp,count``), which carries its own daily and weekly pattern; with
      ``requests_per_day`` too, the trace is rescaled to that daily average.

    ``weekly`` defaults to every day alike (weekends at 25 % of a weekday for
    ``business-hours``). Payload sizes default to 1,000 bytes in and 200 bytes
    out, a short JSON text request and a label with scores; ``payload_in_kb``
    and ``payload_out_kb`` may be given instead of the byte counts.
    """

    requests_per_day: Annotated[float, BeforeValidator(_not_bool), Field(gt=0)] | None = None
    daily_shape: DailyShape = "flat"
    hourly_weights: tuple[NonNegative, ...] | None = None
    trace: Path | None = None
    weekly: WeeklyPattern | None = None
    payload_in_bytes: Count = 1000
    payload_out_bytes: Count = 200

    @model_validator(mode="before")
    @classmethod
    def _kilobytes_to_bytes(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for direction in ("in", "out"):
            kb_key, bytes_key = f"payload_{direction}_kb", f"payload_{direction}_bytes"
            if kb_key not in data:
                continue
            kb = data.pop(kb_key)
            if bytes_key in data:
                raise ValueError(f"{kb_key}: {bytes_key} is given too; give one of them")
            if isinstance(kb, bool) or not isinstance(kb, int | float) or not kb >= 0:
                raise ValueError(
                    f"{kb_key}: got {kb!r}; give a size in KB >= 0 (1 KB = 1,000 bytes)"
                )
            data[bytes_key] = round(kb * BYTES_PER_KB)
        return data

    @field_validator("hourly_weights")
    @classmethod
    def _twenty_four(cls, value: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if value is None:
            return None
        return _weights(
            value, count=HOURS_PER_DAY, what="the request rate at 00:00, 01:00, ... 23:00"
        )

    @model_validator(mode="after")
    def _one_daily_shape(self) -> Traffic:
        given = self.model_fields_set
        if self.trace is not None:
            for key in ("daily_shape", "hourly_weights", "weekly"):
                if key in given:
                    raise ValueError(
                        f"{key}: a trace carries its own daily and weekly pattern; remove {key} or the trace"
                    )
        elif self.requests_per_day is None:
            raise ValueError(
                "requests_per_day: missing; give the average requests per day (e.g. 1000000) or a trace CSV"
            )
        if "daily_shape" in given and self.hourly_weights is not None:
            raise ValueError(
                "hourly_weights: daily_shape is given too; give a built-in shape or 24 weights, not both"
            )
        return self

    def weekly_factors(self) -> tuple[float, ...]:
        """Returns seven day factors, Monday first, averaging 1.0 (all 1.0 for a trace)."""
        if self.weekly is not None:
            return self.weekly.factors()
        if (
            self.daily_shape == "business-hours"
            and self.hourly_weights is None
            and self.trace is None
        ):
            return WeeklyPattern(weekend=BUSINESS_HOURS_WEEKEND_FACTOR).factors()
        return WeeklyPattern().factors()


class Slo(_Part):
    """What every plan must meet: a latency percentile and an accuracy floor.

    ``latency_percentile`` defaults to 99 (p99); YAML may write ``p99`` or
    ``p99.9``. The accuracy floor is either absolute (``accuracy_floor: 0.85``)
    or ``max_accuracy_drop_points`` percentage points below the baseline
    model's measured accuracy; with neither, 1.0 point below the baseline.
    """

    latency_ms: Annotated[float, BeforeValidator(_not_bool), Field(gt=0, le=600_000)]
    latency_percentile: Annotated[float, Field(ge=50, lt=100)] = 99.0
    accuracy_floor: Annotated[float, BeforeValidator(_not_bool), Field(gt=0)] | None = None
    max_accuracy_drop_points: Annotated[NonNegative, Field(le=100)] | None = None

    @field_validator("latency_percentile", mode="before")
    @classmethod
    def _percentile(cls, value: Any) -> Any:
        _not_bool(value)
        if isinstance(value, str) and value.lower().startswith("p"):
            try:
                number = float(value[1:])
            except ValueError:
                raise ValueError(f"got {value!r}; give a percentile like p99 or p99.9") from None
            if not 50 <= number < 100:
                raise ValueError(f"got {value!r}; give a percentile from p50 to below p100")
            return number
        return value

    @field_validator("accuracy_floor")
    @classmethod
    def _fraction(cls, value: float | None) -> float | None:
        if value is not None and value > 1:
            raise ValueError(f"got {value:g}; give a fraction of 1 (0.85 means 85 % accurate)")
        return value

    @model_validator(mode="after")
    def _one_floor(self) -> Slo:
        if self.accuracy_floor is not None and self.max_accuracy_drop_points is not None:
            raise ValueError(
                "max_accuracy_drop_points: accuracy_floor is given too; give an absolute floor or a drop below the baseline"
            )
        return self

    @property
    def allowed_drop_points(self) -> float | None:
        """Points a variant may fall below the baseline; None for an absolute floor."""
        if self.accuracy_floor is not None:
            return None
        points = self.max_accuracy_drop_points
        return DEFAULT_ACCURACY_DROP_POINTS if points is None else points

    def accuracy_floor_for(self, baseline_accuracy: float) -> float:
        """Returns the lowest accuracy (a fraction) a variant may have, given the baseline's."""
        if self.accuracy_floor is not None:
            return self.accuracy_floor
        points = self.max_accuracy_drop_points
        drop = DEFAULT_ACCURACY_DROP_POINTS if points is None else points
        return baseline_accuracy - drop / 100


class Constraints(_Part):
    """Where and how a plan may run the service.

    Defaults: any of the three providers, any region, any accelerator or none
    (``accelerators: [cpu]`` allows CPU-only machines, ``[cpu, T4]`` adds T4
    GPUs; names as in the catalog, matched case-insensitively); at least 2
    replicas, so one machine failing leaves the service up; no spot capacity
    (``max_spot_share`` is the most of the fleet that may be spot, 0 to 1:
    interruptions are a risk the user opts into). ``availability_target``
    (e.g. 0.999) asks the planner for enough replicas to reach it.
    ``commitments`` lists the terms (``1y``, ``3y``) of savings plans or
    committed-use discounts the plan may use; by default none, since a
    commitment binds the user for its whole term.
    """

    providers: tuple[Provider, ...] = ("aws", "gcp", "azure")
    regions: tuple[Name, ...] = ()
    accelerators: tuple[Name, ...] = ()
    min_replicas: Annotated[int, BeforeValidator(_not_bool), Field(ge=1, le=10_000)] = 2
    availability_target: Annotated[float, BeforeValidator(_not_bool), Field(gt=0)] | None = None
    max_spot_share: Annotated[float, BeforeValidator(_not_bool), Field(ge=0, le=1)] = 0.0
    commitments: tuple[CommitmentTerm, ...] = ()

    @field_validator("providers")
    @classmethod
    def _some_provider(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("the list is empty; allow at least one of aws, gcp, azure")
        return tuple(dict.fromkeys(value))

    @field_validator("accelerators")
    @classmethod
    def _cpu_lower_case(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys("cpu" if name.lower() == "cpu" else name for name in value))

    @field_validator("availability_target")
    @classmethod
    def _below_one(cls, value: float | None) -> float | None:
        if value is not None and value >= 1:
            hint = " (99.9 % is 0.999)" if value > 1 else ""
            raise ValueError(f"got {value:g}; give a fraction below 1{hint}")
        return value


class PlatformSettings(_Part):
    """How the service may be run around its machines, and what is already paid for.

    - ``allowed``: the platforms to weigh, any of ``kubernetes`` (EKS, GKE,
      AKS: control plane, load balancer, a system node pool for the add-ons,
      then the serving pool), ``vm-group`` (an autoscaling group of VMs behind a
      load balancer: ASG, MIG, VMSS) and ``serverless`` (Lambda, Cloud Run);
      default all three.
    - ``cluster``: ``new`` (the default: the control-plane fee and the system
      pool are this service's) or ``existing`` (a cluster already runs: they
      are shown as shared, not charged).
    - ``nat_gateways``: NAT gateways for private subnets (0, the default:
      nodes in public subnets with one public IPv4 each).
    - ``front_door``: what fronts a function: ``function-url`` (the default,
      no charge beyond the function's), ``http-api`` or ``rest-api`` (API
      Gateway, per million requests).
    - ``free_tier``: count the providers' monthly free allowances (serverless
      requests and GB-seconds, GKE's cluster credit, the first 100 GB of
      egress); off by default, since they are per account and usually spent
      elsewhere.
    - ``load_balancing``: how requests reach replicas: ``random`` (kube-proxy's
      default, and the latency model's: one queue per replica),
      ``round-robin`` (a queue per replica, arrivals dealt in turn) or
      ``least-outstanding`` (one shared queue).
    - ``credit_mode``: the credit specification of burstable machines (T3,
      T3a, T4g): ``unlimited`` (AWS's default for them, spot included: full
      speed, CPU above the baseline billed as surplus credits) or ``standard``
      (held to the baseline once the credits run out: those minutes count
      against the SLO).
    """

    allowed: tuple[Platform, ...] = PLATFORMS
    cluster: Literal["new", "existing"] = "new"
    nat_gateways: Annotated[int, BeforeValidator(_not_bool), Field(ge=0, le=16)] = 0
    front_door: FrontDoor = "function-url"
    free_tier: StrictBool = False
    load_balancing: Balancing = "random"
    credit_mode: CreditMode = "unlimited"

    @field_validator("allowed")
    @classmethod
    def _some_platform(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError(f"the list is empty; allow at least one of {', '.join(PLATFORMS)}")
        return tuple(dict.fromkeys(value))


# The batching `mlcost serve` applies per tier unless serve.yaml says otherwise.
DEFAULT_MAX_BATCH_SIZE = 16
DEFAULT_MAX_QUEUE_DELAY_MS = 5.0


class ServingSettings(_Part):
    """How each replica batches requests: what the plan's latency model assumes and serve.yaml runs.

    ``mlcost serve`` gathers up to ``max_batch_size`` requests per batch and
    lets a lone request wait at most ``max_queue_delay_ms`` for company
    (defaults 16 and 5 ms, the server's). ``max_batch_size: 1`` is one
    inference per request, the M/G/c model without batching.
    """

    max_batch_size: Annotated[int, BeforeValidator(_not_bool), Field(ge=1, le=1024)] = (
        DEFAULT_MAX_BATCH_SIZE
    )
    max_queue_delay_ms: Annotated[float, BeforeValidator(_not_bool), Field(ge=0, le=1000)] = (
        DEFAULT_MAX_QUEUE_DELAY_MS
    )


class DataLocation(_Part):
    """Where the requests' data lives, so moving it to another region or provider is costed."""

    provider: Provider
    region: Name


class CurrentSetup(_Part):
    """What serves the traffic today: the first bar of the savings waterfall.

    ``count`` is machines running, the average for an autoscaled fleet (a fixed
    fleet needs a whole number). ``pricing`` defaults to on-demand and
    ``scaling`` to fixed; ``usd_per_hour`` is what one machine really costs,
    where that is not the catalog's price (a negotiated rate).
    """

    provider: Provider
    region: Name
    instance_type: Name
    count: Annotated[float, BeforeValidator(_not_bool), Field(gt=0)]
    pricing: Pricing = "on-demand"
    scaling: Scaling = "fixed"
    platform: Literal["kubernetes", "vm-group"] = "kubernetes"
    usd_per_hour: Annotated[float, BeforeValidator(_not_bool), Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _whole_fixed_fleet(self) -> CurrentSetup:
        if self.scaling == "fixed" and not self.count.is_integer():
            raise ValueError(
                f"count: got {self.count:g} machines in a fixed fleet; give a whole number, or scaling: autoscaled for an average"
            )
        return self


class Workload(_Part):
    """What the user must serve: traffic, SLO, constraints, today's setup, over a horizon.

    ``horizon_days`` (default 30, about a month) is how long the
    plan simulates. ``data_location`` is optional: without it no inter-region
    transfer is costed. ``current`` is optional: without it the waterfall has
    no baseline of the user's own. ``serving`` is how replicas batch
    (``ServingSettings``).
    """

    traffic: Traffic
    slo: Slo
    constraints: Constraints = Constraints()
    data_location: DataLocation | None = None
    current: CurrentSetup | None = None
    platform: PlatformSettings = PlatformSettings()
    serving: ServingSettings = ServingSettings()
    horizon_days: Annotated[int, BeforeValidator(_not_bool), Field(ge=1, le=366)] = 30
    name: Annotated[str, Field(min_length=1)] | None = None


# What a lost spot node takes to come back when the workload does not say: the spot
# request filled, the machine booted, the container image pulled (a few minutes on AWS).
DEFAULT_REPLACEMENT_DELAY_S = 180.0
Positive = Annotated[float, BeforeValidator(_not_bool), Field(gt=0)]


class TrainingJobSpec(_Part):
    """A training job as the user describes it: where it runs, how much work, its checkpoints.

    The work is exactly one of ``work_gpu_hours`` (GPU-hours of compute: the wall time
    is that divided by nodes x GPUs per node, the GPUs taken from the catalog offer, 1
    for a CPU-only node) or ``work_hours`` (wall hours on all ``nodes`` with nothing
    interrupting). ``checkpoint_write_s`` is one checkpoint write, ``restore_s`` loading
    the last one and restarting, ``replacement_delay_s`` (default 180 s) the wait for a
    new spot node. ``interruptions_per_node_hour`` defaults to the catalog's Spot
    Instance Advisor bucket for the instance; ``checkpoint_interval_min`` forces an
    interval (default: what the train engine's auto policy would use); without
    ``deadline_hours`` there is no deadline.
    """

    provider: Provider
    region: Name
    instance_type: Name
    nodes: Annotated[int, BeforeValidator(_not_bool), Field(ge=1, le=10_000)] = 1
    work_gpu_hours: Positive | None = None
    work_hours: Positive | None = None
    checkpoint_write_s: Positive
    restore_s: NonNegative
    replacement_delay_s: NonNegative = DEFAULT_REPLACEMENT_DELAY_S
    interruptions_per_node_hour: NonNegative | None = None
    deadline_hours: Positive | None = None
    checkpoint_interval_min: Positive | None = None

    @model_validator(mode="after")
    def _one_work_form(self) -> TrainingJobSpec:
        if self.work_gpu_hours is not None and self.work_hours is not None:
            raise ValueError(
                "work_hours: work_gpu_hours is given too; give GPU-hours of compute or wall hours on all nodes, not both"
            )
        if self.work_gpu_hours is None and self.work_hours is None:
            raise ValueError(
                "work_gpu_hours: missing; give the GPU-hours of compute (e.g. work_gpu_hours: 40) or the wall hours on all nodes (work_hours: 20)"
            )
        return self


class TrainingWorkload(_Part):
    """A training job to plan: a file whose top level is ``training:`` and an optional ``name``."""

    training: TrainingJobSpec
    name: Annotated[str, Field(min_length=1)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_serving_sections(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in Workload.model_fields:
                if key in data and key not in cls.model_fields:
                    raise ValueError(
                        f"{key}: a serving section in a training workload; put the serving workload in its own file"
                    )
        return data
