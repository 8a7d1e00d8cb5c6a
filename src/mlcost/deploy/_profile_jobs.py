"""The plan's machine types measured where it will run: one profiling Job per type.

``mlcost plan`` estimates the speed on every machine type it has no measurement of. Each
Job here runs ``mlcost profile measure`` on a node of one such type and writes the Profiles
to the shared store (``MLCOST_DB_URL``, PostgreSQL) with the type recorded in them;
planning again takes them as measured on that type and prefers them to the estimate.

Which types: those of every machine option the plan weighed (the winner, the best of each
platform, the runners-up, the Pareto set) whose speed is estimated, and the winner's and
the Kubernetes options' types even where a profile from the same CPU stands for them:
that is where it will run, so it is measured as a pod there runs. Serverless options have
no node to pick, and only AWS types can be measured on this EKS cluster; a note names the
rest. Per type, the variants of its options are measured in one sitting (``profile
measure`` adds the baseline, which the paired comparison needs) at the threads the plan's
speed assumed there, which is what the planner matches a measurement on; options that
assumed other threads on the same type get a Job of their own.

How each pod runs, and why:
- on-demand capacity: spot is the same hardware, but a reclaim would cut a measurement
  short, and a few minutes on-demand cost cents;
- it requests everything the node type leaves allocatable (``whole_node_resources``: the
  kubelet's reservation and the DaemonSets taken off), so it has the node to itself and
  measures one replica alone, as the plan models it; its CPU limit is the node's vCPUs,
  as a serving pod's is;
- a GPU type gets its GPU, the GPU toleration and ``--device cuda``;
- the store's URL comes from the Secret ``mlcost-store`` (key ``url``); the instance
  type, which a pod cannot read off its node (the Downward API has no node labels, and
  the nodes' IMDS hop limit of 1 keeps pods off IMDSv2), is written into each Job as
  ``MLCOST_INSTANCE_TYPE``, from the same value as its nodeSelector.
A NodePool admits the types on-demand, tainted so that only these Jobs land on it, and
removes each node once it is empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mlcost.core import DB_URL_ENV, DeployError, Offer, Plan, PlanOption
from mlcost.deploy._kubernetes import (
    CONTAINER_SECURITY,
    DAEMONSET_CPU_M,
    DAEMONSET_MEMORY_MIB,
    HOME_PATH,
    POD_SECURITY,
    POOL_LABEL,
    Rendered,
    whole_node_resources,
    workspace_init,
)
from mlcost.deploy._option import resource_name
from mlcost.profile import INSTANCE_TYPE_ENV

STORE_SECRET = "mlcost-store"
STORE_SECRET_KEY = "url"
PROFILING_TAINT = "mlcost.dev/profiling"
# Karpenter launching the node, the image pulling and every variant measured (minutes
# each); a Job still Pending by then fails rather than waiting for a node that cannot come.
ACTIVE_DEADLINE_S = 3600
# One retry, for a node lost mid-measurement; a second failure is the measurement's own.
BACKOFF_LIMIT = 1
# A day to read the logs (``--json`` prints the profiles there too) before the Job goes.
TTL_AFTER_FINISHED_S = 86_400
_CLUSTER_PROVIDER = "aws"
_INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
_CAPACITY_LABEL = "karpenter.sh/capacity-type"


@dataclass(slots=True)
class _Candidate:
    """One machine type to measure, at one thread count, and the variants planned on it."""

    offer: Offer
    threads: int
    gpus: int
    variants: list[str] = field(default_factory=list)
    is_estimated: bool = False


def render_profile_jobs(plan: Plan, *, image: str, model: str, data: str) -> Rendered:
    """The NodePool and one Job per machine type to measure (module docstring), with notes.

    ``model`` and ``data`` are the model folder and data the variants were built from, as
    the image sees them (``mlcost profile measure --model/--data``). Raises DeployError
    when the plan has no such type, or predates pod specs.
    """
    candidates, skipped = _candidates(plan)
    if not candidates:
        raise DeployError(
            "the plan weighed no machine type this cluster can measure (its options are "
            f"serverless or off {_CLUSTER_PROVIDER}); confirm them as each option's confirm_by says"
        )
    name = resource_name(plan.workload)
    pool = f"{name}-profiling"
    jobs = [_job(name, candidate, image, model=model, data=data) for candidate in candidates]
    measured = ", ".join(
        f"{c.offer.instance_type} at {c.threads} threads ({', '.join(c.variants)}; "
        f"{'estimated' if c.is_estimated else 'where it will run'})"
        for c in candidates
    )
    notes = [
        f"{len(jobs)} profiling Job(s): {measured}",
        f"each writes its profiles to the store whose URL is in Secret {STORE_SECRET} (key "
        f"{STORE_SECRET_KEY}): kubectl create secret generic {STORE_SECRET} --from-literal="
        f"{STORE_SECRET_KEY}=postgresql://USER:PASSWORD@HOST/DB; then mlcost plan with "
        f"{DB_URL_ENV} set to it takes them as measured on their types",
        f"NodePool {pool}: on-demand (spot is the same hardware, but a reclaim would cut a "
        f"measurement short); it uses the EC2NodeClass {name}-serving that mlcost deploy render "
        "writes, so apply that first",
        "each pod requests what its node type leaves allocatable after the kubelet and the "
        f"DaemonSets assumed ({DAEMONSET_CPU_M}m, {DAEMONSET_MEMORY_MIB} MiB), so it has the "
        "node to itself; heavier DaemonSets leave it Pending until activeDeadlineSeconds "
        f"({ACTIVE_DEADLINE_S} s)",
        *skipped,
    ]
    gpu_types = [c.offer.instance_type for c in candidates if c.gpus]
    if gpu_types:
        notes.append(
            f"{', '.join(gpu_types)} measure with --device cuda: the image needs CUDA builds of "
            "ONNX Runtime and torch (the Dockerfile's is CPU-only; with it the profiles record "
            "CPUExecutionProvider and the plan keeps its GPU estimate)"
        )
    arm_types = [c.offer.instance_type for c in candidates if c.offer.arch == "arm64"]
    if arm_types:
        notes.append(
            f"{', '.join(arm_types)}: arm64, so the image must be built for linux/arm64 too "
            "(docker buildx build --platform linux/amd64,linux/arm64)"
        )
    return Rendered((_pool(pool, name, candidates), *jobs), tuple(notes))


def _candidates(plan: Plan) -> tuple[list[_Candidate], list[str]]:
    """The types to measure, in the plan's order (winner first), and notes on those left out."""
    found: dict[tuple[str, int], _Candidate] = {}
    serverless: set[str] = set()
    elsewhere: set[str] = set()
    for option in (plan.winner, *plan.platforms, *plan.runners_up, *plan.pareto):
        offer = option.offer
        if option.platform == "serverless":
            serverless.add(option.variant)
            continue
        if offer.provider != _CLUSTER_PROVIDER:
            elsewhere.add(f"{offer.provider} {offer.instance_type}")
            continue
        is_estimated = option.speed_basis == "estimated"
        if not (is_estimated or option is plan.winner or option.platform == "kubernetes"):
            continue
        threads, gpus = _pod(option)
        candidate = found.setdefault(
            (offer.instance_type, threads), _Candidate(offer, threads, gpus)
        )
        if option.variant not in candidate.variants:
            candidate.variants.append(option.variant)
        candidate.is_estimated |= is_estimated
    skipped = []
    if serverless:
        skipped.append(
            f"not measured here: the serverless options ({', '.join(sorted(serverless))}) have no "
            "node to pick; confirm them as their confirm_by says"
        )
    if elsewhere:
        skipped.append(
            f"not measured here: {', '.join(sorted(elsewhere))} (not {_CLUSTER_PROVIDER}); run "
            f"mlcost profile measure there with {INSTANCE_TYPE_ENV} set"
        )
    return list(found.values()), skipped


def _pod(option: PlanOption) -> tuple[int, int]:
    """(threads, GPUs) of one of the option's pods, as its speed assumed them."""
    spec = option.replica
    if spec is None:
        raise DeployError(
            f"plan.json predates mlcost deploy ({option.label} carries no pod spec); "
            "run mlcost plan again"
        )
    return max(1, round(spec.vcpus)), spec.accelerators


def _job(name: str, candidate: _Candidate, image: str, *, model: str, data: str) -> dict[str, Any]:
    offer = candidate.offer
    resources = whole_node_resources(offer)
    args = [
        "--home",
        HOME_PATH,
        "profile",
        "measure",
        *candidate.variants,
        "--threads",
        str(candidate.threads),
        "--model",
        model,
        "--data",
        data,
        "--json",
    ]
    tolerations = [{"key": PROFILING_TAINT, "operator": "Exists", "effect": "NoSchedule"}]
    if candidate.gpus:
        resources["limits"]["nvidia.com/gpu"] = str(candidate.gpus)
        args += ["--device", "cuda"]
        tolerations.append({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"})
    labels = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/managed-by": "mlcost",
        "app.kubernetes.io/component": "profile",
        "mlcost.dev/instance-type": offer.instance_type,
        **{f"variant.mlcost.dev/{variant}": "true" for variant in candidate.variants},
    }
    suffix = (
        f"-profile-{re.sub(r'[^a-z0-9]+', '-', offer.instance_type.lower())}-{candidate.threads}t"
    )
    container = {
        "name": "profile",
        "image": image,
        "args": args,
        "env": [
            {
                "name": DB_URL_ENV,
                "valueFrom": {"secretKeyRef": {"name": STORE_SECRET, "key": STORE_SECRET_KEY}},
            },
            {"name": INSTANCE_TYPE_ENV, "value": offer.instance_type},
            # The root filesystem is read-only: caches under ~ go to the scratch volume.
            {"name": "HOME", "value": "/tmp"},
        ],
        "resources": resources,
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [
            {"name": "home", "mountPath": HOME_PATH},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        # The job-name label Kubernetes adds must stay within 63 characters.
        "metadata": {"name": name[: 63 - len(suffix)].rstrip("-") + suffix, "labels": labels},
        "spec": {
            "backoffLimit": BACKOFF_LIMIT,
            "activeDeadlineSeconds": ACTIVE_DEADLINE_S,
            "ttlSecondsAfterFinished": TTL_AFTER_FINISHED_S,
            "template": {
                "metadata": {
                    "labels": labels,
                    # Consolidation must not move a measurement half-way.
                    "annotations": {"karpenter.sh/do-not-disrupt": "true"},
                },
                "spec": {
                    "nodeSelector": {
                        _INSTANCE_TYPE_LABEL: offer.instance_type,
                        _CAPACITY_LABEL: "on-demand",
                    },
                    "tolerations": tolerations,
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "securityContext": POD_SECURITY,
                    "initContainers": [workspace_init(image)],
                    "containers": [container],
                    "volumes": [
                        {"name": "home", "emptyDir": {}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                    ],
                },
            },
        },
    }


def _pool(pool: str, name: str, candidates: list[_Candidate]) -> dict[str, Any]:
    """On-demand nodes of the types to measure, tainted for the Jobs, gone once empty."""
    types = sorted({c.offer.instance_type for c in candidates})
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": pool},
        "spec": {
            "template": {
                "metadata": {"labels": {POOL_LABEL: "profiling"}},
                "spec": {
                    "nodeClassRef": {
                        "group": "karpenter.k8s.aws",
                        "kind": "EC2NodeClass",
                        "name": f"{name}-serving",
                    },
                    "requirements": [
                        {"key": _INSTANCE_TYPE_LABEL, "operator": "In", "values": types},
                        {"key": _CAPACITY_LABEL, "operator": "In", "values": ["on-demand"]},
                    ],
                    "taints": [{"key": PROFILING_TAINT, "value": "true", "effect": "NoSchedule"}],
                },
            },
            "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "1m"},
            # Every Job at once, one node each.
            "limits": {"cpu": str(int(sum(c.offer.vcpus for c in candidates)))},
        },
    }
