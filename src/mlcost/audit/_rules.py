"""The rules an audit applies: ids, severities, what each looks for, and what the peers check.

``peers`` names the kube-score and Polaris checks of the same ("" where neither
has one: the ML-specific rules). docs/audit.md is this table; a test keeps the two
in step. A ``Finding`` is one rule broken by one object, with the fix and the
monthly saving it is estimated to bring.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["info", "warning", "error"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "error")


@dataclass(frozen=True, slots=True)
class Rule:
    """One check: its id, default severity, a short name, and the peers' equivalent."""

    id: str
    name: str
    severity: Severity
    looks_for: str
    peers: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found: where, what to do, and what doing it saves a month (estimated)."""

    rule: Rule
    severity: Severity
    object: str
    file: str
    line: int
    message: str
    fix: str
    saving_usd_per_month: float | None = None
    saving_basis: str = ""


UNREADABLE = Rule(
    "MLC001",
    "unreadable-file",
    "error",
    "malformed YAML, a file that is not Kubernetes, a missing path",
    "kube-score, Polaris: fail the whole run",
)
UNKNOWN_KIND = Rule(
    "MLC002", "unknown-kind", "info", "an object kind the audit does not read (not checked)"
)
REQUESTS = Rule(
    "MLC101",
    "requests-missing",
    "warning",
    "a container without CPU or memory requests",
    "kube-score container-resources; Polaris cpuRequestsMissing, memoryRequestsMissing",
)
MEMORY_LIMIT = Rule(
    "MLC102",
    "memory-limit",
    "warning",
    "no memory limit (warning), or a limit above the request (info): OOM-killed first under node pressure",
    "kube-score container-resources; Polaris memoryLimitsMissing",
)
PROBES = Rule(
    "MLC103",
    "probes-missing",
    "warning",
    "a serving container without a readiness probe (warning) or liveness probe (info)",
    "kube-score pod-probes; Polaris readinessProbeMissing, livenessProbeMissing",
)
PDB = Rule(
    "MLC104",
    "pdb-missing",
    "info",
    "a replicated Deployment or StatefulSet no PodDisruptionBudget selects",
    "kube-score deployment-has-poddisruptionbudget; Polaris missingPodDisruptionBudget",
)
HPA_TARGET = Rule(
    "MLC105",
    "hpa-target",
    "warning",
    "an HPA whose target does not exist (warning), or a CPU target under 50 % that keeps replicas idle (info, priced)",
    "kube-score horizontalpodautoscaler-has-target (not the low target)",
)
SINGLE_REPLICA = Rule(
    "MLC106",
    "single-replica",
    "info",
    "a Deployment with one replica and no autoscaler",
    "Polaris deploymentMissingReplicas (kube-score: none)",
)
GPU_UNTAINTED = Rule(
    "MLC201",
    "gpu-pool-untainted",
    "warning",
    "a GPU pool without an nvidia.com/gpu or accelerator taint: any pod can take its nodes",
)
CPU_ON_GPU = Rule(
    "MLC202",
    "cpu-pod-on-gpu",
    "warning",
    "a pod without a GPU request that lands on GPU nodes (a DaemonSet there: info, its share of each node priced)",
)
GPU_NO_TOLERATION = Rule(
    "MLC203",
    "gpu-pod-no-toleration",
    "error",
    "a pod requesting nvidia.com/gpu that tolerates no GPU pool's taint: it never schedules",
)
GPU_UNUSED = Rule(
    "MLC204",
    "gpu-requested-not-used",
    "warning",
    "nvidia.com/gpu requested by a workload whose image, args or env say it runs on the CPU",
)
GPU_SHARING = Rule(
    "MLC205",
    "gpu-sharing-candidate",
    "info",
    "replicas of a small model each holding a whole GPU: MIG (A100, H100, A30) or time-slicing candidates",
)
GPU_CONSOLIDATION = Rule(
    "MLC206",
    "gpu-pool-consolidation",
    "warning",
    "a GPU pool with consolidationPolicy WhenEmptyOrUnderutilized: model pods evicted to repack",
)
SPOT_TYPES = Rule(
    "MLC207",
    "spot-few-types",
    "info",
    "a spot pool with fewer than 15 instance types (Karpenter's spot-to-spot consolidation needs 15)",
)
SPOT_SINGLE = Rule(
    "MLC208",
    "single-replica-on-spot",
    "warning",
    "one replica on spot capacity: every reclaim is an outage",
)
DRAIN = Rule(
    "MLC209",
    "drain-chain",
    "error",
    "grace period shorter than preStop + the server's exit, longer than the node's termination grace, or longer than the spot notice",
)
JOB_ON_DEMAND = Rule(
    "MLC210",
    "on-demand-job",
    "info",
    "an interruption-tolerant Job (restart rule or checkpoint) on on-demand capacity",
)
TRAIN_CHECKPOINT = Rule(
    "MLC211",
    "training-without-checkpoint",
    "warning",
    "a training Job with no checkpoint URL: a reclaim loses the run",
)
TRAIN_EXIT_75 = Rule(
    "MLC212",
    "training-without-exit-75",
    "warning",
    "a training Job on spot without the podFailurePolicy that restarts exit code 75 (and DisruptionTarget) uncounted",
)
DEBUG_LOGGING = Rule(
    "MLC213",
    "debug-logging",
    "warning",
    "debug or tensor logging in args or env (log volume, slower steps)",
)
IDLE_NOTEBOOK = Rule(
    "MLC214",
    "idle-notebook",
    "warning",
    "a notebook server running around the clock with no idle culling",
)
CROSS_REGION = Rule(
    "MLC215",
    "cross-region-data",
    "warning",
    "serving in another region than the workload file says the data lives in (both ways billed)",
)
ON_DEMAND_SERVING = Rule(
    "MLC216",
    "on-demand-serving",
    "info",
    "a replicated stateless Deployment on on-demand capacity where spot is priced",
)

RULES: tuple[Rule, ...] = (
    UNREADABLE, UNKNOWN_KIND, REQUESTS, MEMORY_LIMIT, PROBES, PDB, HPA_TARGET, SINGLE_REPLICA,
    GPU_UNTAINTED, CPU_ON_GPU, GPU_NO_TOLERATION, GPU_UNUSED, GPU_SHARING, GPU_CONSOLIDATION,
    SPOT_TYPES, SPOT_SINGLE, DRAIN, JOB_ON_DEMAND, TRAIN_CHECKPOINT, TRAIN_EXIT_75,
    DEBUG_LOGGING, IDLE_NOTEBOOK, CROSS_REGION, ON_DEMAND_SERVING,
)  # fmt: skip

# Kinds the audit reads; any other is reported once as not checked.
KNOWN_KINDS = frozenset(
    {
        "Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job", "CronJob", "Pod",
        "Service", "Ingress", "IngressClass", "HorizontalPodAutoscaler", "PodDisruptionBudget",
        "ConfigMap", "Secret", "ServiceAccount", "Namespace", "Role", "RoleBinding", "ClusterRole",
        "ClusterRoleBinding", "NetworkPolicy", "PersistentVolumeClaim", "PriorityClass",
        "NodePool", "EC2NodeClass", "ScaledObject", "ServiceMonitor", "PodMonitor", "PrometheusRule",
    }
)  # fmt: skip
