"""The latency of a replica that serves dynamic batches, as ``mlcost serve`` does.

``mlcost serve`` queues requests per tier and runs them in batches: its
worker waits for the first request, then gathers until ``max_batch_size``
wait or the first has waited ``max_queue_delay_s``, runs the batch, and
while it runs the next one gathers (``serve/_batcher.py``). Once the server
is busy the batch size follows the load, so one replica takes far more
requests than at batch 1, and a lone request pays the queue delay.

``BatchService`` is that replica: the batch-1 service time (its jitter, a
shift plus exponentials, ``ServiceTime``), the mean time of a batch of b
(``batch_s``, from the profile's ``throughput_by_batch``: the time of b
rows is b / throughput(b), linear between the measured sizes, the largest
size's time per row beyond it), the cap and the delay. A batch of b takes
``batch_s[b]`` plus the batch-1 jitter around its mean (additive: the
stalls that make a tail do not grow with the batch).

No closed form fits this queue (a bulk-service queue whose service time
depends on the batch size, with a gathering delay), so its response time is
simulated: ``simulate_batching`` runs the batcher's own rule, request by
request, for Poisson arrivals. The latency model then tabulates, once per
``BatchService``, the response times at utilisations rho = lambda /
capacity on a grid up to 0.97 (capacity: the full batch's rate,
``max_batch_size / batch_s[max]``), all rates in one vectorised run with
common random numbers (the same gaps scaled by each rate, the same jitter
draws), so the percentile grows smoothly with the rate and a percentile or
a share over the SLO at any rate is read by linear interpolation between
grid points. Past the last grid point the queue is taken as unstable.

The server's own work. A replica on k vCPUs runs k intra-op threads, and
the server's event loop (HTTP parsing, validation, JSON, metrics) is one
more thread wanting a core: k + 1 runnable threads share k cores, so a
batch takes (k + 1) / k times what the profile measured alone
(``cpu_sharing``), and each request also spends ``REQUEST_PATH_MS`` in the
loop outside its batch. Measured on a 2-vCPU EPYC (bench/serve_vs_plan.py,
from the server's own metrics at 60 to 180 requests/s): batches ran 1.2 to
1.5 times their profiled time, and the end-to-end p50 exceeded queue wait
plus batch time by 1.5 to 2 ms. A GPU batch runs on the device, so only the
request path is added there.

Replicas: the server batches per process, so each replica is its own queue.
Under "random" balancing (kube-proxy's default) each replica sees Poisson
traffic at lambda / c, which is exact; under round-robin or
least-outstanding it is conservative (those spread the load more evenly
than chance, and a batching replica absorbs bursts anyway).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mlcost.core import PlanError
from mlcost.plan._service_time import _MS_PER_S, ServiceTime

FloatArray = npt.NDArray[np.float64]

# Utilisations the table is simulated at (rho = lambda / full-batch capacity).
_RHO_GRID = np.array(
    [
        *(0.01, 0.03, 0.06, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5),
        *(0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.84, 0.88, 0.91, 0.94, 0.97),
    ]
)
# Time a request spends in the server's event loop outside its batch: read, validate, answer.
REQUEST_PATH_MS = 1.5
# Independent runs per utilisation, and requests per run (the first tenth is warm-up).
_RUNS = 8
_REQUESTS_PER_RUN = 600
_WARMUP_SHARE = 0.1
_SEED = 20261202


@dataclass(frozen=True, slots=True)
class BatchService:
    """One replica serving dynamic batches (module docstring): jitter, batch times, cap, delay.

    ``batch_s[b]`` is the mean time of a batch of b requests, b = 1 to
    ``max_batch_size`` (index 0 unused, 0); ``request_path_s`` is added to
    every response. Build it with ``from_curve``.
    """

    jitter: ServiceTime
    batch_s: tuple[float, ...]
    max_batch_size: int
    max_queue_delay_s: float
    request_path_s: float = 0.0

    def __post_init__(self) -> None:
        times = self.batch_s
        if not (
            self.max_batch_size >= 1
            and len(times) == self.max_batch_size + 1
            and all(math.isfinite(t) and t > 0.0 for t in times[1:])
            and all(a <= b for a, b in itertools.pairwise(times[1:]))
            and math.isfinite(self.max_queue_delay_s)
            and self.max_queue_delay_s >= 0.0
            and math.isfinite(self.request_path_s)
            and self.request_path_s >= 0.0
        ):
            raise PlanError(
                f"invalid batch service (batch_s={times}, max_batch_size={self.max_batch_size}, "
                f"max_queue_delay_s={self.max_queue_delay_s}): one positive, non-decreasing "
                "time per batch size up to the cap and a delay >= 0; build it with "
                "BatchService.from_curve"
            )

    @classmethod
    def from_curve(
        cls,
        jitter: ServiceTime,
        throughput_by_batch: Mapping[int, float],
        *,
        max_batch_size: int,
        max_queue_delay_ms: float,
        cpu_sharing: float = 1.0,
        request_path_ms: float = 0.0,
    ) -> BatchService:
        """The replica whose batch of b takes b / throughput(b) seconds, times ``cpu_sharing``.

        ``throughput_by_batch`` is the profile's (rows per second at each batch
        size tried); batch 1 is taken as the jitter's mean, so the curve and
        the batch-1 latency agree. Between measured sizes the batch time is
        linear in b; past the largest it grows by that size's time per row.
        A larger batch is never taken as faster than a smaller one (the time
        is made non-decreasing). ``cpu_sharing`` (>= 1) stretches every batch
        and the jitter: the cores the server's own thread takes
        (``cpu_sharing``); ``request_path_ms`` is added to each response.

        Raises PlanError on a cap below 1, a negative delay, or throughputs
        that are not positive numbers.
        """
        if max_batch_size < 1 or not (
            max_queue_delay_ms >= 0.0 and cpu_sharing >= 1.0 and request_path_ms >= 0.0
        ):
            raise PlanError(
                f"max_batch_size must be >= 1 and max_queue_delay_ms >= 0 (got "
                f"{max_batch_size}, {max_queue_delay_ms}); check the workload's serving section"
            )
        if not all(b >= 1 and t > 0.0 and math.isfinite(t) for b, t in throughput_by_batch.items()):
            raise PlanError(
                f"throughput_by_batch {dict(throughput_by_batch)} needs positive rows per second "
                "at batch sizes >= 1; re-measure the variant (mlcost profile measure)"
            )
        jitter = jitter.scaled(cpu_sharing)
        mean_one = jitter.mean_s
        sizes = [1, *sorted(b for b in throughput_by_batch if b > 1)]
        times = [mean_one, *(b / throughput_by_batch[b] * cpu_sharing for b in sizes[1:])]
        wanted = np.arange(1, max_batch_size + 1, dtype=np.float64)
        curve = np.interp(wanted, sizes, times)
        per_row = times[-1] / sizes[-1] if len(sizes) > 1 else mean_one
        beyond = wanted > sizes[-1]
        curve[beyond] = times[-1] + (wanted[beyond] - sizes[-1]) * per_row
        curve = np.maximum.accumulate(curve)
        return cls(
            jitter,
            (0.0, *(float(t) for t in curve)),
            max_batch_size,
            max_queue_delay_ms / _MS_PER_S,
            request_path_ms / _MS_PER_S,
        )

    @property
    def capacity_per_s(self) -> float:
        """Requests per second one replica serves in full batches: the most it can ever take."""
        return self.max_batch_size / self.batch_s[self.max_batch_size]

    @property
    def mean_s(self) -> float:
        """Mean time a request occupies the replica at full load (1 / capacity), seconds."""
        return 1.0 / self.capacity_per_s


def simulate_batching(
    rates_per_s: npt.ArrayLike,
    service: BatchService,
    *,
    runs: int = _RUNS,
    requests_per_run: int = _REQUESTS_PER_RUN,
    seed: int = _SEED,
) -> FloatArray:
    """Return response times, ms, of one batching replica at each rate: shape (rates, samples).

    Each rate is simulated ``runs`` times from an empty queue with
    ``requests_per_run`` Poisson arrivals; the first tenth of each run is
    dropped as warm-up. The batcher's rule, for each batch: with the server
    free at F and the oldest waiting request arrived at a0, the batch starts
    at ``max(F, min(a0 + delay, a_B))`` (a_B: the arrival that fills it) and
    takes every request arrived by then, up to the cap; it ends
    ``batch_s[b]`` plus one jitter draw later. All rates advance together
    (one lane per rate and run), with the same exponential gaps scaled by
    each rate and the same jitter draws. Deterministic for a given ``seed``.

    Raises PlanError on a rate that is not positive and finite.
    """
    rates = np.asarray(rates_per_s, dtype=np.float64).ravel()
    if not np.all(np.isfinite(rates) & (rates > 0.0)):
        raise PlanError("simulate_batching needs positive, finite arrival rates")
    rng = np.random.default_rng(seed)
    cap, n = service.max_batch_size, requests_per_run
    gaps = rng.exponential(1.0, size=(runs, n))
    jitter = service.jitter.sample_s(rng, runs * n).reshape(runs, n) - service.jitter.mean_s
    lanes = rates.size * runs
    # Lane = (rate, run): every rate sees the same runs' gaps, scaled.
    arrivals = np.full((lanes, n + cap), np.inf)
    arrivals[:, :n] = (np.cumsum(gaps, axis=1)[None, :, :] / rates[:, None, None]).reshape(lanes, n)
    lane_jitter = np.broadcast_to(jitter[None], (rates.size, runs, n)).reshape(lanes, n)
    batch_s = np.asarray(service.batch_s)
    ends = np.empty((lanes, n))
    head = np.zeros(lanes, dtype=np.int64)
    free_at = np.zeros(lanes)
    batches = np.zeros(lanes, dtype=np.int64)
    offsets = np.arange(cap)
    delay = service.max_queue_delay_s
    while True:
        live = np.nonzero(head < n)[0]
        if live.size == 0:
            break
        first = head[live]
        window = arrivals[live[:, None], first[:, None] + offsets]
        start = np.maximum(free_at[live], np.minimum(window[:, 0] + delay, window[:, -1]))
        taken = window <= start[:, None]
        size = taken.sum(axis=1)
        end = start + np.maximum(batch_s[size] + lane_jitter[live, batches[live]], 0.0)
        lane, slot = np.nonzero(taken)
        ends[live[lane], first[lane] + slot] = end[lane]
        free_at[live] = end
        head[live] = first + size
        batches[live] += 1
    response = (ends - arrivals[:, :n] + service.request_path_s).reshape(rates.size, runs, n)[
        :, :, int(n * _WARMUP_SHARE) :
    ]
    return np.asarray(response.reshape(rates.size, -1) * _MS_PER_S, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class _Table:
    """Simulated response times per grid utilisation, sorted: rates (R,), times (R, samples) ms."""

    rates_per_s: FloatArray
    sorted_ms: FloatArray


@functools.lru_cache(maxsize=512)
def _table(service: BatchService) -> _Table:
    rates = _RHO_GRID * service.capacity_per_s
    times = np.sort(simulate_batching(rates, service), axis=1)
    times.flags.writeable = False
    rates.flags.writeable = False
    return _Table(rates, times)


def cpu_sharing(vcpus: float) -> float:
    """How much longer a batch runs inside the server than alone: (k + 1) / k on k vCPUs."""
    return (vcpus + 1.0) / vcpus if vcpus > 0 else 1.0


def batching_percentile_ms(
    per_replica_per_s: FloatArray, service: BatchService, percentile: float
) -> FloatArray:
    """Each rate's response-time percentile, ms, for one replica; +inf past the table's last rate.

    Read from the simulated table by linear interpolation in the rate; a rate
    below the first grid point reads that point (the light-load latency:
    batch 1 after the queue delay), 0 arrivals included.
    """
    table = _table(service)
    at_grid = _percentile_of_sorted(table.sorted_ms, percentile)
    out = np.interp(per_replica_per_s, table.rates_per_s, at_grid)
    return np.where(per_replica_per_s > table.rates_per_s[-1], np.inf, out)


def batching_share_over_ms(
    per_replica_per_s: FloatArray, service: BatchService, slo_ms: float
) -> FloatArray:
    """Each rate's share of requests slower than ``slo_ms`` for one replica; 1 past the table."""
    table = _table(service)
    samples = table.sorted_ms.shape[1]
    over = (
        1.0
        - np.array([np.searchsorted(row, slo_ms, side="right") for row in table.sorted_ms])
        / samples
    )
    out = np.interp(per_replica_per_s, table.rates_per_s, over)
    return np.where(per_replica_per_s > table.rates_per_s[-1], 1.0, out)


def batching_max_per_s(service: BatchService, *, slo_ms: float, percentile: float) -> float:
    """The largest rate one replica takes with its percentile latency within ``slo_ms`` (0: none).

    The percentile is increasing in the rate on the table (common random
    numbers), so the answer is the crossing, interpolated linearly between
    the last grid rate that meets the SLO and the first that misses it.
    """
    table = _table(service)
    at_grid = np.maximum.accumulate(_percentile_of_sorted(table.sorted_ms, percentile))
    meeting = np.nonzero(at_grid <= slo_ms)[0]
    if meeting.size == 0:
        return 0.0
    last = int(meeting[-1])
    if last == at_grid.size - 1:
        return float(table.rates_per_s[-1])
    low, high = at_grid[last], at_grid[last + 1]
    share = (slo_ms - low) / (high - low) if high > low else 0.0
    rates = table.rates_per_s
    return float(rates[last] + share * (rates[last + 1] - rates[last]))


def _percentile_of_sorted(sorted_ms: FloatArray, percentile: float) -> FloatArray:
    if not 0.0 < percentile < 100.0:
        raise PlanError(f"percentile must be strictly between 0 and 100, got {percentile}")
    return np.asarray(np.percentile(sorted_ms, percentile, axis=1), dtype=np.float64)
