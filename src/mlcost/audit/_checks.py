"""The checks: what costs money or breaks a drain in a set of manifests, with the dollars.

Each ``Rule`` has an id, a severity, what it looks for and what kube-score and
Polaris check of the same (``peers``: "" where neither does: the ML-specific ones).
docs/audit.md is that table. A check returns ``Finding``s; a finding's saving is
priced from the catalog through ``Cluster`` (the pool's instance type and capacity,
the workload's nodes) and says what it rests on; None where the fix saves no money
(a risk) or where the manifests do not tell enough to price it.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from mlcost.audit._cluster import (
    Cluster,
    Pool,
    Workload,
    admits,
    containers,
    job_spec,
    memory_mib,
)
from mlcost.audit._read import Manifest
from mlcost.audit._rules import (
    CPU_ON_GPU,
    CROSS_REGION,
    DEBUG_LOGGING,
    DRAIN,
    GPU_CONSOLIDATION,
    GPU_NO_TOLERATION,
    GPU_SHARING,
    GPU_UNTAINTED,
    GPU_UNUSED,
    HPA_TARGET,
    IDLE_NOTEBOOK,
    JOB_ON_DEMAND,
    KNOWN_KINDS,
    MEMORY_LIMIT,
    ON_DEMAND_SERVING,
    PDB,
    PROBES,
    REQUESTS,
    SINGLE_REPLICA,
    SPOT_SINGLE,
    SPOT_TYPES,
    TRAIN_CHECKPOINT,
    TRAIN_EXIT_75,
    UNKNOWN_KIND,
    UNREADABLE,
    Finding,
    Rule,
    Severity,
)
from mlcost.catalog import Catalog, OfferQuery
from mlcost.core import Offer
from mlcost.core import Workload as PlanWorkload
from mlcost.cost import HOURS_PER_MONTH
from mlcost.serve import ServeConfig, notice_window_s

SPOT_CONSOLIDATION_TYPES = 15
LOW_CPU_TARGET = 50  # percent
TYPICAL_CPU_TARGET = 70  # what a raised target is priced at
NOTEBOOK_HOURS_PER_WEEK = 50.0  # ten working hours, five days: what a culled notebook runs
# MIG splits these into up to seven slices; the others share by time-slicing (up to four here).
_MIG_GPUS = ("A100", "H100", "H200", "A30")
_TIME_SLICES = 4
_MIG_SLICES = 7
_DEFAULT_GRACE_S = 30
_DEFAULT_SERVER_EXIT_S = 10  # a server that is not mlcost serve: an assumption
_CPU_MARKERS = re.compile(
    r"(--device[= ]cpu\b|--cpu\b|:cpu\b|-cpu\b|\bint8\b|onnxruntime(?!-gpu)|--provider[= ]cpu)",
    re.IGNORECASE,
)
_DEBUG_ARGS = re.compile(
    r"(--log[-_]level[= ](debug|trace)\b|--debug\b|-v{3,}\b|--verbose\b|--log[-_]tensors|"
    r"--save[-_]tensors|--dump[-_]tensors)",
    re.IGNORECASE,
)
_DEBUG_ENV = {
    "LOG_LEVEL": ("DEBUG", "TRACE"),
    "LOGLEVEL": ("DEBUG", "TRACE"),
    "MLCOST_LOG_LEVEL": ("DEBUG",),
    "NCCL_DEBUG": ("INFO", "TRACE"),
    "TORCH_DISTRIBUTED_DEBUG": ("DETAIL", "INFO"),
    "TORCH_CPP_LOG_LEVEL": ("INFO",),
    "TORCH_COMPILE_DEBUG": ("1",),
    "CUDA_LAUNCH_BLOCKING": ("1",),
    "TF_CPP_MIN_LOG_LEVEL": ("0",),
}
_DEBUG_ENV_ANY = ("TORCH_LOGS",)
_TRAINING = re.compile(
    r"(\btorchrun\b|torch\.distributed\.run|\bmlcost\b.*\btrain\b|\btrain\.py\b|"
    r"accelerate launch|\bdeepspeed\b|\bfinetune\b)"
)
_CHECKPOINT = re.compile(r"(checkpoint|ckpt|resume|s3://|gs://|az://)", re.IGNORECASE)
_NOTEBOOK = re.compile(r"(jupyter|notebook|jupyterhub)", re.IGNORECASE)
_CULLING = re.compile(r"(shutdown_no_activity_timeout|cull_idle|cull-idle|culling)", re.IGNORECASE)


def audit_cluster(
    cluster: Cluster, catalog: Catalog, *, workload: PlanWorkload | None = None
) -> list[Finding]:
    """Every finding in ``cluster``: file problems first, then by file and line."""
    findings = [
        Finding(UNREADABLE, "error", "", p.file, p.line, p.message, _UNREADABLE_FIX)
        for p in cluster.manifests.problems
    ]
    for check in _CHECKS:
        findings.extend(check(cluster, catalog))
    if workload is not None:
        findings.extend(_cross_region(cluster, catalog, workload))
    return sorted(findings, key=lambda f: (f.rule is not UNREADABLE, f.file, f.line, f.rule.id))


_UNREADABLE_FIX = (
    "fix the file (kubectl apply --dry-run=client -f FILE shows the same) or leave it out"
)


def _finding(
    rule: Rule,
    manifest: Manifest,
    message: str,
    fix: str,
    *,
    severity: Severity | None = None,
    saving: float | None = None,
    basis: str = "",
) -> Finding:
    return Finding(
        rule, severity or rule.severity, manifest.ref, manifest.file, manifest.line, message, fix,
        None if saving is None else round(max(saving, 0.0), 2), basis,
    )  # fmt: skip


def _unknown_kinds(cluster: Cluster, catalog: Catalog) -> Iterator[Finding]:
    for manifest in cluster.manifests.objects:
        if manifest.kind not in KNOWN_KINDS:
            yield _finding(
                UNKNOWN_KIND,
                manifest,
                f"{manifest.kind} ({manifest.api_version}) is not read by the audit",
                "nothing to do; its cost, if any, is not counted",
            )


def _serving(workload: Workload) -> bool:
    return workload.manifest.kind in ("Deployment", "StatefulSet", "ReplicaSet")


def _requests_and_limits(cluster: Cluster, catalog: Catalog) -> Iterator[Finding]:
    for workload in cluster.workloads:
        pod = workload.pod
        for container in [*containers(pod), *(pod.get("initContainers") or [])]:
            name = container.get("name", "?")
            resources = container.get("resources") or {}
            requests = resources.get("requests") or {}
            limits = resources.get("limits") or {}
            missing = [r for r in ("cpu", "memory") if r not in requests and r not in limits]
            if missing:
                yield _finding(
                    REQUESTS,
                    workload.manifest,
                    f"container {name} has no {' or '.join(missing)} request: the scheduler packs "
                    "it blind and the autoscaler cannot size nodes for it",
                    f"set resources.requests.{missing[0]} from a measured peak (mlcost profile measure)",
                )
            if "memory" not in limits:
                yield _finding(
                    MEMORY_LIMIT,
                    workload.manifest,
                    f"container {name} has no memory limit: a leak takes the node",
                    "set resources.limits.memory equal to the request",
                )
            elif "memory" in requests and memory_mib(limits["memory"]) > memory_mib(
                requests["memory"]
            ):
                yield _finding(
                    MEMORY_LIMIT,
                    workload.manifest,
                    f"container {name} may use more memory than it requests: it is OOM-killed "
                    "first when the node runs short",
                    "set resources.limits.memory equal to the request",
                    severity="info",
                )


def _probes(cluster: Cluster, catalog: Catalog) -> Iterator[Finding]:
    for workload in cluster.workloads:
        if not _serving(workload):
            continue
        for container in containers(workload.pod):
            name = container.get("name", "?")
            if "readinessProbe" not in container:
                yield _finding(
                    PROBES,
                    workload.manifest,
                    f"container {name} has no readiness probe: it gets traffic before the model is loaded",
                    "add a readinessProbe (mlcost serve: httpGet /readyz)",
                )
            if "livenessProbe" not in container:
                yield _finding(
                    PROBES,
                    workload.manifest,
                    f"container {name} has no liveness probe: a hung server keeps its node",
                    "add a livenessProbe (mlcost serve: httpGet /livez)",
                    severity="info",
                )


def _selects(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    wanted = selector.get("matchLabels") or {}
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def _pod_labels(workload: Workload) -> dict[str, Any]:
    return dict(
        ((workload.manifest.spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    )


def _pdb_and_replicas(cluster: Cluster, catalog: Catalog) -> Iterator[Finding]:
    budgets = cluster.manifests.of_kind("PodDisruptionBudget")
    for workload in cluster.workloads:
        if not _serving(workload):
            continue
        labels = _pod_labels(workload)
        scaled = workload.autoscaler is not None
        if (workload.replicas > 1 or scaled) and not any(
            _selects(b.spec.get("selector") or {}, labels) for b in budgets
        ):
            yield _finding(
                PDB,
                workload.manifest,
                "no PodDisruptionBudget selects its pods: a node drain may take them all at once",
                "add a PodDisruptionBudget with maxUnavailable: 1",
            )
        if workload.replicas <= 1 and not scaled:
            on_spot = workload.pool is not None and workload.pool.capacity == "spot"
            if not on_spot:
                yield _finding(
                    SINGLE_REPLICA,
                    workload.manifest,
                    "one replica: a node replacement is an outage",
                    "run two replicas in two zones, or accept the downtime",
                )


def _autoscaler_targets(cluster: Cluster, catalog: Catalog) -> Iterator[Finding]:
    refs = {m.ref for m in cluster.manifests.objects}
    for hpa in cluster.manifests.of_kind("HorizontalPodAutoscaler"):
        target = hpa.spec.get("scaleTargetRef") or {}
        ref = f"{target.get('kind', '')}/{target.get('name', '')}"
        if ref not in refs:
            yield _finding(
                HPA_TARGET,
                hpa,
                f"scales {ref}, which is not in these manifests",
                "point scaleTargetRef at the workload's kind and name",
            )
            continue
        workload = next((w for w in cluster.workloads if w.manifest.ref == ref), None)
        for metric in hpa.spec.get("metrics") or []:
            resource = metric.get("resource") or {}
            utilisation = (resource.get("target") or {}).get("averageUtilization")
            if (
                resource.get("name") == "cpu"
                and utilisation is not None
                and utilisation < LOW_CPU_TARGET
            ):
                saving, basis = None, ""
                if workload is not None:
                    cost = _node_cost(workload)
                    if cost is not None:
                        saving = cost * (1 - utilisation / TYPICAL_CPU_TARGET)
                        basis = (
                            f"replicas scale as 1/target: {utilisation} % -> {TYPICAL_CPU_TARGET} % "
                            f"on ${cost:,.2f}/month of its nodes"
                        )
                yield _finding(
                    HPA_TARGET,
                    hpa,
                    f"CPU target {utilisation} %: each replica idles most of its CPU",
                    f"raise averageUtilization to {TYPICAL_CPU_TARGET} % once latency holds "
                    "(mlcost plan finds the highest that meets the SLO)",
                    severity="info",
                    saving=saving,
                    basis=basis,
                )


def _node_cost(workload: Workload) -> float | None:
    """The monthly price of the nodes ``workload`` fills on its pool."""
    pool = workload.pool
    if pool is None or pool.hourly_usd is None:
        return None
    return workload.nodes * pool.hourly_usd * HOURS_PER_MONTH


def _cheapest_cpu(catalog: Catalog, pool: Pool, workload: Workload) -> Offer | None:
    """The cheapest CPU machine in the pool's region that holds the pod's requests."""
    requests = workload.requests
    offers = catalog.select(
        OfferQuery(
            provider=pool.offer.provider if pool.offer else None,
            region=pool.region,
            min_vcpus=math.ceil((requests.cpu_m or 1000) / 1000),
            min_memory_gib=(requests.memory_mib or 1024) / 1024 * 1.15,
            is_spot=pool.capacity == "spot",
            has_accelerator=False,
        )
    )
    return offers[0] if offers else None


def _gpu_pools(cluster: Cluster, catalog: Catalog) -> Iterator[Finding]:
    gpu_pools = [p for p in cluster.pools if p.is_gpu and p.manifest is not None]
    for pool in gpu_pools:
        assert pool.manifest is not None
        if not pool.has_gpu_taint:
            yield _finding(
                GPU_UNTAINTED,
                pool.manifest,
                f"GPU pool ({pool.offer.instance_type if pool.offer else '?'}) without a GPU taint: "
                "pods that need no GPU can take its nodes",
                "add taints: [{key: nvidia.com/gpu, effect: NoSchedule}] and tolerate it in GPU pods only",
            )
        if pool.consolidation == "WhenEmptyOrUnderutilized":
            yield _finding(
                GPU_CONSOLIDATION,
                pool.manifest,
                "GPU pool consolidates underutilized nodes: model pods are evicted and reload to repack",
                "set disruption.consolidationPolicy: WhenEmpty on GPU pools",
            )
    for workload in cluster.workloads:
        pod = workload.pod
        tainted = any(p.has_gpu_taint for p in gpu_pools)
        if workload.requests.gpus and tainted and not any(admits(p, pod) for p in gpu_pools):
            yield _finding(
                GPU_NO_TOLERATION,
                workload.manifest,
                "requests nvidia.com/gpu but tolerates no GPU pool's taint: it stays Pending",
                "add tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]",
            )
        if workload.requests.gpus:
            continue
        on_gpu = [p for p in gpu_pools if admits(p, pod)]
        if workload.pool is not None and workload.pool.is_gpu and workload.pool not in on_gpu:
            on_gpu.append(workload.pool)
        if not on_gpu:
            continue
        pool = workload.pool if workload.pool in on_gpu else on_gpu[0]
        assert pool is not None
        yield from _cpu_pod_on_gpu(cluster, catalog, workload, pool)


def _cpu_pod_on_gpu(
    cluster: Cluster, catalog: Catalog, workload: Workload, pool: Pool
) -> Iterator[Finding]:
    gpu = pool.offer
    assert gpu is not None and pool.hourly_usd is not None
    if workload.manifest.kind == "DaemonSet":
        share = (workload.requests.cpu_m or 0) / 1000 / gpu.vcpus
        nodes = cluster.nodes.get(pool.name, 0.0)
        yield _finding(
            CPU_ON_GPU,
            workload.manifest,
            f"runs on every {gpu.instance_type} node of {pool.name} (it tolerates the GPU taint "
            f"or the pool has none), taking {share:.0%} of each node's vCPUs",
            "drop the blanket toleration or add nodeAffinity away from GPU pools",
            severity="info",
            saving=share * nodes * pool.hourly_usd * HOURS_PER_MONTH,
            basis=f"its CPU request's share of {nodes:g} GPU nodes",
        )
        return
    cpu = _cheapest_cpu(catalog, pool, workload)
    cost = _node_cost(workload) if workload.pool is pool else None
    saving: float | None = None
    basis = ""
    if cost is not None and cpu is not None:
        cpu_hourly = cpu.usd_per_hour(is_spot=pool.capacity == "spot") or 0.0
        saving = cost - workload.nodes * cpu_hourly * HOURS_PER_MONTH
        basis = f"{workload.nodes:g} x {gpu.instance_type} -> {cpu.instance_type} ({pool.capacity})"
    where = "lands on" if workload.pool is pool else "can land on"
    yield _finding(
        CPU_ON_GPU,
        workload.manifest,
        f"requests no GPU but {where} {gpu.instance_type} GPU nodes ({pool.name})",
        "select a CPU pool (nodeSelector) and taint the GPU pool",
        saving=saving,
        basis=basis,
    )


def _command_text(workload: Workload) -> str:
    parts: list[str] = []
    for container in containers(workload.pod):
        parts.append(str(container.get("image", "")))
        parts.extend(str(a) for a in container.get("command") or [])
        parts.extend(str(a) for a in container.get("args") or [])
    return " ".join(parts)


def _env(workload: Workload) -> dict[str, str]:
    found: dict[str, str] = {}
    for container in containers(workload.pod):
        for item in container.get("env") or []:
            if isinstance(item, dict) and "name" in item:
                found[str(item["name"])] = str(item.get("value", ""))
    return found


def _gpu_use(cluster: Cluster, catalog: Catalog) -> Iterator[Finding]:
    for workload in cluster.workloads:
        if not workload.requests.gpus:
            continue
        pool, text, env = workload.pool, _command_text(workload), _env(workload)
        cpu_only = _CPU_MARKERS.search(text)
        hidden = env.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1", "none")
        if cpu_only or hidden:
            evidence = cpu_only.group(0) if cpu_only else "CUDA_VISIBLE_DEVICES hides the GPUs"
            saving, basis = _gpu_to_cpu_saving(catalog, workload)
            yield _finding(
                GPU_UNUSED,
                workload.manifest,
                f"requests {workload.requests.gpus} nvidia.com/gpu but runs on the CPU ({evidence!r})",
                "drop the GPU request and move it to a CPU pool (mlcost plan compares both)",
                saving=saving,
                basis=basis,
            )
            continue
        yield from _gpu_sharing(workload, pool)


def _gpu_to_cpu_saving(catalog: Catalog, workload: Workload) -> tuple[float | None, str]:
    pool, cost = workload.pool, _node_cost(workload)
    if pool is None or pool.offer is None or cost is None:
        return None, ""
    cpu = _cheapest_cpu(catalog, pool, workload)
    if cpu is None:
        return None, ""
    per_node = max(1, workload.pods_per_node)
    cpu_hourly = cpu.usd_per_hour(is_spot=pool.capacity == "spot") or 0.0
    cpu_cost = math.ceil(workload.replicas / per_node) * cpu_hourly * HOURS_PER_MONTH
    return cost - cpu_cost, (
        f"{workload.nodes:g} x {pool.offer.instance_type} -> {cpu.instance_type} at the pod's requests"
    )


def _gpu_sharing(workload: Workload, pool: Pool | None) -> Iterator[Finding]:
    if pool is None or pool.offer is None or workload.replicas < 2:
        return
    offer = pool.offer
    gpu_memory_gib = offer.accelerator_memory_gib
    pod_mib = workload.requests.memory_mib
    if gpu_memory_gib is None or pod_mib is None or workload.requests.gpus != 1:
        return
    name = offer.accelerator_name or "GPU"
    is_mig = any(model in name.upper() for model in _MIG_GPUS)
    fit = int(gpu_memory_gib * 1024 // pod_mib)
    slices = min(fit, _MIG_SLICES if is_mig else _TIME_SLICES, int(workload.replicas))
    if slices < 2:
        return
    cost = _node_cost(workload)
    saving = None if cost is None else cost * (1 - 1 / slices)
    how = "MIG slices" if is_mig else "time-sliced shares"
    yield _finding(
        GPU_SHARING,
        workload.manifest,
        f"each replica holds a whole {name} ({gpu_memory_gib:g} GiB) for a pod of {pod_mib:,.0f} MiB: "
        f"{slices} replicas fit one GPU as {how}",
        "enable the NVIDIA device plugin's "
        + (
            "MIG strategy and request nvidia.com/mig-* slices"
            if is_mig
            else "time-slicing (replicas per GPU)"
        )
        + ", after checking latency under load",
        saving=saving,
        basis=f"{slices} replicas per GPU (by memory; compute sharing not measured)",
    )


def _spot(cluster: Cluster, catalog: Catalog) -> Iterator[Finding]:
    for pool in cluster.pools:
        if pool.manifest is None or pool.capacity != "spot":
            continue
        count = len(pool.instance_types)
        if count and count < SPOT_CONSOLIDATION_TYPES:
            yield _finding(
                SPOT_TYPES,
                pool.manifest,
                f"spot pool lists {count} instance type(s): Karpenter's spot-to-spot consolidation "
                f"needs {SPOT_CONSOLIDATION_TYPES}, and fewer types mean more reclaims at once",
                "list every type of the same size the model runs on (mlcost plan diversifies)",
            )
    for workload in cluster.workloads:
        if (
            _serving(workload)
            and workload.pool is not None
            and workload.pool.capacity == "spot"
            and workload.replicas <= 1
        ):
            least = workload.autoscaler.spec.get("minReplicas", 1) if workload.autoscaler else 1
            if least <= 1:
                yield _finding(
                    SPOT_SINGLE,
                    workload.manifest,
                    "one replica on spot: every reclaim is an outage until a new node is ready",
                    "run at least two replicas across zones (minReplicas: 2), or on-demand for one",
                )


def _pre_stop_s(container: dict[str, Any]) -> float:
    handler = ((container.get("lifecycle") or {}).get("preStop")) or {}
    if "sleep" in handler:
        return float((handler["sleep"] or {}).get("seconds", 0))
    command = " ".join(str(a) for a in ((handler.get("exec") or {}).get("command") or []))
    match = re.search(r"\bsleep\s+(\d+(?:\.\d+)?)", command)
    return float(match.group(1)) if match else 0.0


def _server_exit_s(cluster: Cluster, workload: Workload) -> tuple[float, str]:
    """How long the server takes to exit after SIGTERM: from its mlcost serve.yaml when a
    ConfigMap of these manifests holds it, else an assumed 10 s."""
    import yaml

    mounted = {
        str((v.get("configMap") or {}).get("name"))
        for v in workload.pod.get("volumes") or []
        if v.get("configMap")
    }
    for config_map in cluster.manifests.of_kind("ConfigMap"):
        if config_map.name not in mounted:
            continue
        text = (config_map.body.get("data") or {}).get("serve.yaml")
        if not text:
            continue
        try:
            config = ServeConfig.model_validate(yaml.safe_load(text))
        except (yaml.YAMLError, ValueError):
            continue
        request_s = config.limits.request_timeout_s
        flush_s = config.shutdown.flush_s + config.shutdown.drain_delay_s
        return request_s + flush_s, (
            f"its serve.yaml: request timeout {request_s:g} s + drain and flush {flush_s:g} s"
        )
    return (
        _DEFAULT_SERVER_EXIT_S,
        f"an assumed {_DEFAULT_SERVER_EXIT_S} s (no mlcost serve.yaml mounted)",
    )


def _drain_chain(cluster: Cluster, catalog: Catalog) -> Iterator[Finding]:
    for workload in cluster.workloads:
        if not _serving(workload):
            continue
        grace = float(workload.pod.get("terminationGracePeriodSeconds", _DEFAULT_GRACE_S))
        pre_stop = max((_pre_stop_s(c) for c in containers(workload.pod)), default=0.0)
        server_s, server_basis = _server_exit_s(cluster, workload)
        if pre_stop + server_s >= grace:
            yield _finding(
                DRAIN,
                workload.manifest,
                f"terminationGracePeriodSeconds {grace:g} s <= preStop {pre_stop:g} s + server exit "
                f"{server_s:g} s ({server_basis}): in-flight requests are killed",
                f"set terminationGracePeriodSeconds to at least {math.ceil(pre_stop + server_s) + 5}",
            )
        pool = workload.pool
        if pool is None or pool.manifest is None:
            continue
        node_grace = _duration_s(
            ((pool.manifest.spec.get("template") or {}).get("spec") or {}).get(
                "terminationGracePeriod"
            )
        )
        if node_grace is not None and grace > node_grace:
            yield _finding(
                DRAIN,
                workload.manifest,
                f"grace {grace:g} s is longer than {pool.name}'s terminationGracePeriod {node_grace:g} s: "
                "Karpenter kills the pod before it has drained",
                f"keep terminationGracePeriodSeconds <= {node_grace:g}",
            )
        provider = pool.offer.provider if pool.offer is not None else "aws"
        notice = notice_window_s(provider)
        if pool.capacity == "spot" and grace >= notice:
            yield _finding(
                DRAIN,
                workload.manifest,
                f"grace {grace:g} s on spot: the provider reclaims the node {notice:g} s after its notice",
                f"keep terminationGracePeriodSeconds under {notice:g}",
            )


def _duration_s(value: object) -> float | None:
    if value is None:
        return None
    total, text = 0.0, str(value)
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(h|m|s)", text):
        total += float(number) * {"h": 3600, "m": 60, "s": 1}[unit]
    return total or None


def _jobs(cluster: Cluster, catalog: Catalog) -> Iterator[Finding]:
    for workload in cluster.workloads:
        if workload.manifest.kind not in ("Job", "CronJob"):
            continue
        job = job_spec(workload.manifest)
        text = (
            _command_text(workload) + " " + " ".join(f"{k}={v}" for k, v in _env(workload).items())
        )
        rules = (job.get("podFailurePolicy") or {}).get("rules") or []
        restarts_75 = any(
            r.get("action") == "Ignore" and 75 in ((r.get("onExitCodes") or {}).get("values") or [])
            for r in rules
        )
        is_training = bool(_TRAINING.search(text))
        has_checkpoint = bool(_CHECKPOINT.search(text))
        pool = workload.pool
        if is_training and not has_checkpoint:
            yield _finding(
                TRAIN_CHECKPOINT,
                workload.manifest,
                "a training Job with no checkpoint URL in its args or env: a reclaim or a crash restarts it from step 0",
                "pass --checkpoint s3://bucket/run (mlcost train saves and resumes there)",
            )
        if is_training and pool is not None and pool.capacity == "spot" and not restarts_75:
            yield _finding(
                TRAIN_EXIT_75,
                workload.manifest,
                "a training Job on spot without a podFailurePolicy that ignores exit code 75: each reclaim counts "
                "against backoffLimit",
                "add podFailurePolicy rules: exit code 75 -> Ignore, DisruptionTarget -> Ignore (mlcost deploy train-job)",
            )
        tolerant = restarts_75 or has_checkpoint
        if (
            tolerant
            and pool is not None
            and pool.capacity == "on-demand"
            and pool.offer is not None
        ):
            spot = pool.offer.spot_usd_per_hour
            if spot is not None:
                per_hour = (pool.offer.on_demand_usd_per_hour - spot) * workload.replicas
                yield _finding(
                    JOB_ON_DEMAND,
                    workload.manifest,
                    f"an interruption-tolerant Job on on-demand {pool.offer.instance_type}: spot saves "
                    f"${per_hour:,.3f} for each hour it runs",
                    "select spot capacity (karpenter.sh/capacity-type: spot) and keep the exit-75 rule",
                    basis=f"per hour it runs (the manifests do not say how long): ${per_hour:,.3f}",
                )


def _logging(cluster: Cluster, catalog: Catalog) -> Iterator[Finding]:
    for workload in cluster.workloads:
        hits: list[str] = []
        for container in containers(workload.pod):
            argv = [
                str(a) for a in [*(container.get("command") or []), *(container.get("args") or [])]
            ]
            match = _DEBUG_ARGS.search(shlex.join(argv))
            if match:
                hits.append(match.group(0))
        for name, value in _env(workload).items():
            if name in _DEBUG_ENV_ANY or value.upper() in _DEBUG_ENV.get(name, ()):
                hits.append(f"{name}={value}")
        if hits:
            yield _finding(
                DEBUG_LOGGING,
                workload.manifest,
                f"debug or tensor logging on ({', '.join(hits)}): log volume is billed by the GB "
                "and steps slow down",
                "drop it from the production manifest (keep it for a debugging run)",
            )


def _notebooks(cluster: Cluster, catalog: Catalog) -> Iterator[Finding]:
    for workload in cluster.workloads:
        if workload.manifest.kind not in ("Deployment", "StatefulSet", "Pod"):
            continue
        text = _command_text(workload)
        if not _NOTEBOOK.search(text) or _CULLING.search(text):
            continue
        cost = _node_cost(workload)
        share = 1 - NOTEBOOK_HOURS_PER_WEEK / 168
        yield _finding(
            IDLE_NOTEBOOK,
            workload.manifest,
            "a notebook server with no idle culling runs (and holds its node) around the clock",
            "set ServerApp.shutdown_no_activity_timeout (or JupyterHub's idle culler) and let the node scale away",
            saving=None if cost is None else cost * share,
            basis=f"used {NOTEBOOK_HOURS_PER_WEEK:g} of 168 hours a week (an assumption)",
        )


def _on_demand_serving(cluster: Cluster, catalog: Catalog) -> Iterator[Finding]:
    for workload in cluster.workloads:
        pool = workload.pool
        if not (_serving(workload) and workload.manifest.kind != "StatefulSet"):
            continue
        if (
            pool is None
            or pool.capacity != "on-demand"
            or pool.offer is None
            or workload.replicas < 2
        ):
            continue
        if any("persistentVolumeClaim" in v for v in workload.pod.get("volumes") or []):
            continue
        spot = pool.offer.spot_usd_per_hour
        if spot is None:
            continue
        saving = (pool.offer.on_demand_usd_per_hour - spot) * workload.nodes * HOURS_PER_MONTH
        yield _finding(
            ON_DEMAND_SERVING,
            workload.manifest,
            f"{workload.replicas:g} stateless replicas on on-demand {pool.offer.instance_type}",
            "serve from a spot pool over many instance types with a PDB (mlcost plan weighs the reclaims)",
            saving=saving,
            basis=f"{workload.nodes:g} nodes at the spot price (cheapest zone)",
        )


def _cross_region(cluster: Cluster, catalog: Catalog, workload: PlanWorkload) -> Iterator[Finding]:
    data = workload.data_location
    traffic = workload.traffic
    if data is None or traffic.requests_per_day is None:
        return
    price = next(
        (
            p
            for p in catalog.prices.transfer
            if p.provider == data.provider and p.kind == "inter-region"
        ),
        None,
    )
    for item in cluster.workloads:
        pool = item.pool
        if not _serving(item) or pool is None or pool.region == data.region:
            continue
        requests = traffic.requests_per_day * HOURS_PER_MONTH / 24
        gb = requests * (traffic.payload_in_bytes + traffic.payload_out_bytes) / 1e9
        saving = None if price is None else gb * price.usd_per_gb
        yield _finding(
            CROSS_REGION,
            item.manifest,
            f"serves from {pool.region} but the workload's data lives in {data.region}: "
            f"{gb:,.1f} GB a month cross regions",
            f"run it in {data.region} (a NodePool requirement on topology.kubernetes.io/region)",
            saving=saving,
            basis=f"requests_per_day x payload sizes at {data.provider}'s inter-region price",
        )


_CHECKS: Sequence[Callable[[Cluster, Catalog], Iterator[Finding]]] = (
    _unknown_kinds,
    _requests_and_limits,
    _probes,
    _pdb_and_replicas,
    _autoscaler_targets,
    _gpu_pools,
    _gpu_use,
    _spot,
    _drain_chain,
    _jobs,
    _logging,
    _notebooks,
    _on_demand_serving,
)
