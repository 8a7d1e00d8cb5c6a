"""A training workload as a spot Job on Kubernetes: torchrun over its nodes, resumed on preemption.

One pod per node: an Indexed Job (the completion index is the node rank) behind
a headless Service that names pod 0, where every node's torchrun meets. Each pod
runs ``mlcost torchrun ... -m mlcost train ...`` on the whole node, and the exit
code chain keeps a preemption from counting as a failure (docs/deploy.md):

    spot notice -> Karpenter drains the node -> SIGTERM to PID 1 (mlcost torchrun)
    -> torchrun -> every worker finishes its step, checkpoints to the URL, exits 75
    -> torchrun exits 1, mlcost torchrun reads the engine's marker and exits 75
    -> podFailurePolicy: Ignore (not counted), the pod is recreated and resumes.

The stop chain is checked at render time: the longest step + one checkpoint
write (the workload's ``checkpoint_write_s``) + headroom <= torchrun's shutdown
timeout < the pod's grace < the provider's spot notice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

from mlcost.core import DeployError, Offer, TrainingWorkload
from mlcost.deploy._kubernetes import (
    CONTAINER_SECURITY,
    HOME_PATH,
    POD_SECURITY,
    Rendered,
    eks_allocatable,
)
from mlcost.deploy._option import resource_name
from mlcost.serve import notice_window_s
from mlcost.train import EXIT_PREEMPTED

CONTAINER: Final = "trainer"
RENDEZVOUS_PORT: Final = 29500
OUT_PATH: Final = f"{HOME_PATH}/run"  # the model folder, metrics and split: the pod's own disk
DEFAULT_STEP_S: Final = 10.0
# After the final checkpoint write: the all-reduce vote, the manifest commit behind a
# barrier, the workers' exit (seconds, on top of the step and the write).
STOP_HEADROOM_S: Final = 10
# Between torchrun's SIGKILL deadline and the kubelet's: torchrun and mlcost torchrun exit.
LAUNCHER_EXIT_S: Final = 5
# Failures that count: a bug, bad data, an out-of-memory kill. A retry rarely mends
# them, so a few are allowed (a node lost without notice fails its peers once).
BACKOFF_LIMIT: Final = 3
# Options of `mlcost train` the Job sets itself.
_JOB_TRAIN_OPTIONS: Final = ("--out", "--checkpoint-url", "--home")
_ANNOTATION_INDEX: Final = "metadata.annotations['batch.kubernetes.io/job-completion-index']"


def render_training_job(
    workload: TrainingWorkload,
    offer: Offer,
    *,
    image: str,
    checkpoint_url: str,
    train_args: Sequence[str] = (),
    step_s: float | None = None,
) -> Rendered:
    """The ServiceAccount, headless Service and Indexed Job that train ``workload`` on spot.

    ``offer`` is the catalog's offer for the workload's node (its vCPUs, memory
    and GPUs size the pod); ``train_args`` go to ``mlcost train`` after the
    options the Job sets (--out, --checkpoint-url, --home); ``step_s`` is the
    longest training step, which a notice waits for before the final checkpoint
    (None: DEFAULT_STEP_S).
    Raises DeployError when the checkpoint URL is not object storage, a train
    argument is one the Job sets, the offer is not the workload's node, or the
    step and the checkpoint write do not fit the provider's spot notice.
    """
    spec = workload.training
    if (offer.instance_type, offer.region) != (spec.instance_type, spec.region):
        raise DeployError(
            f"the offer is {offer.instance_type} in {offer.region}, the workload runs on "
            f"{spec.instance_type} in {spec.region}; pass the catalog's offer for the workload"
        )
    if "://" not in checkpoint_url or checkpoint_url.startswith("file://"):
        raise DeployError(
            f"checkpoint URL {checkpoint_url!r} is not object storage: a pod's disk goes with "
            "the pod, and its checkpoints with it; give s3://bucket/prefix"
        )
    for arg in train_args:
        if arg.split("=", 1)[0] in _JOB_TRAIN_OPTIONS:
            raise DeployError(
                f"train argument {arg.split('=', 1)[0]} is set by the Job "
                f"({', '.join(_JOB_TRAIN_OPTIONS)}); leave it out"
            )
    step_s = DEFAULT_STEP_S if step_s is None else step_s
    if not step_s > 0:
        raise DeployError(f"the longest step must be above 0 s, got {step_s:g}")
    name = resource_name(workload.name or spec.instance_type)
    notice_s = notice_window_s(spec.provider)
    stop_s = math.ceil(step_s + spec.checkpoint_write_s) + STOP_HEADROOM_S
    grace_s = stop_s + LAUNCHER_EXIT_S
    if not grace_s < notice_s:
        raise DeployError(
            f"a step of {step_s:g} s + a checkpoint write of {spec.checkpoint_write_s:g} s + "
            f"{STOP_HEADROOM_S} s headroom + {LAUNCHER_EXIT_S} s to exit = {grace_s} s does "
            f"not fit {spec.provider}'s {notice_s:g} s spot notice; checkpoint less state, "
            "write it closer, or shorten the step"
        )
    gpus = offer.accelerator_count
    processes = max(gpus, 1)
    labels = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": "trainer",
        "app.kubernetes.io/managed-by": "mlcost",
    }
    service = f"{name}-rdzv"
    torchrun = [
        "torchrun",
        "--nnodes",
        str(spec.nodes),
        "--nproc-per-node",
        str(processes),
        "--node-rank",
        "$(NODE_RANK)",
        "--master-addr",
        f"{name}-0.{service}",  # pod 0's hostname in the Service's subdomain
        "--master-port",
        str(RENDEZVOUS_PORT),
        "--max-restarts",
        "0",  # a restart is the pod's: podFailurePolicy decides
        "--shutdown-timeout",
        str(stop_s),  # torchrun's default 30 s would SIGKILL a longer checkpoint write
        "-m",
        "mlcost",
        "--home",
        HOME_PATH,
        "train",
        "--out",
        OUT_PATH,
        "--checkpoint-url",
        checkpoint_url,
        *train_args,
    ]
    pod = _pod(name, labels, service, offer, image=image, args=torchrun, grace_s=grace_s)
    objects = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": f"{name}-trainer", "labels": labels},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": service, "labels": labels},
            "spec": {
                "clusterIP": "None",
                # Pods have no readiness probe to pass; the nodes must find pod 0 as it starts.
                "publishNotReadyAddresses": True,
                "selector": dict(labels),
                "ports": [{"name": "rdzv", "port": RENDEZVOUS_PORT}],
            },
        },
        _job(name, labels, pod, spec.nodes),
    ]
    notes = [
        f"training {spec.nodes} x {offer.instance_type} on spot in {offer.provider} "
        f"{offer.region}: torchrun with {processes} process(es) per node"
        + (f" (one per {offer.accelerator_name or 'GPU'})" if gpus else " (CPU)"),
        f"stop chain: step {step_s:g} s + checkpoint write {spec.checkpoint_write_s:g} s + "
        f"{STOP_HEADROOM_S} s <= torchrun's --shutdown-timeout {stop_s} s < pod grace "
        f"{grace_s} s < {spec.provider}'s notice {notice_s:g} s; the NodePool running these "
        f"pods needs terminationGracePeriod >= {grace_s}s and Karpenter's interruption queue",
        "exit chain: a preempted worker exits 75, torchrun exits 1, mlcost torchrun exits 75 "
        "(the engine's marker), podFailurePolicy ignores it and recreates the pod; an eviction "
        "(DisruptionTarget) is ignored too; any other failure counts, "
        f"{BACKOFF_LIMIT} allowed",
        f"checkpoints go to {checkpoint_url}: give the ServiceAccount {name}-trainer write "
        "access (an IRSA role annotation or an EKS Pod Identity association)",
        f"the model folder ({OUT_PATH}) is on the pod's disk; the trained weights are the "
        "last checkpoint at the URL",
        f"needs a Karpenter NodePool offering {offer.instance_type} on spot; every node in one "
        "zone (required pod affinity), so the gradient all-reduce crosses no zone",
    ]
    if gpus:
        notes.append(
            "the image needs a CUDA build of torch (the Dockerfile installs the CPU build)"
        )
    return Rendered(tuple(objects), tuple(notes))


def _pod(
    name: str,
    labels: dict[str, str],
    service: str,
    offer: Offer,
    *,
    image: str,
    args: list[str],
    grace_s: int,
) -> dict[str, Any]:
    """A pod that takes the whole node: what EKS leaves allocatable after the kubelet and
    the DaemonSets."""
    cpu_m, memory_mib = eks_allocatable(offer)
    memory = f"{int(memory_mib)}Mi"
    resources: dict[str, Any] = {
        "requests": {"cpu": f"{cpu_m // 10 * 10}m", "memory": memory},
        "limits": {"cpu": f"{offer.vcpus:g}", "memory": memory},
    }
    mounts = [
        {"name": "home", "mountPath": HOME_PATH},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    volumes: list[dict[str, Any]] = [
        {"name": "home", "emptyDir": {}},
        {"name": "tmp", "emptyDir": {}},
    ]
    pod: dict[str, Any] = {
        "subdomain": service,
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": grace_s,
        "serviceAccountName": f"{name}-trainer",
        "automountServiceAccountToken": False,  # the trainer never calls the API server
        "nodeSelector": {
            "karpenter.sh/capacity-type": "spot",
            "node.kubernetes.io/instance-type": offer.instance_type,
        },
        "affinity": {
            "podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "labelSelector": {"matchLabels": dict(labels)},
                        "topologyKey": "topology.kubernetes.io/zone",
                    }
                ]
            }
        },
        "securityContext": POD_SECURITY,
    }
    if offer.accelerator_count:
        resources["limits"]["nvidia.com/gpu"] = str(offer.accelerator_count)
        pod["tolerations"] = [
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
        ]
        # NCCL shares memory between a node's processes; the runtime's /dev/shm is 64 MiB.
        mounts.append({"name": "shm", "mountPath": "/dev/shm"})
        volumes.append({"name": "shm", "emptyDir": {"medium": "Memory"}})
    pod["containers"] = [
        {
            "name": CONTAINER,
            "image": image,
            "args": args,
            "env": [
                {"name": "NODE_RANK", "valueFrom": {"fieldRef": {"fieldPath": _ANNOTATION_INDEX}}},
                # The root filesystem is read-only: caches under ~ go to the scratch volume.
                {"name": "HOME", "value": "/tmp"},
            ],
            "ports": [{"name": "rdzv", "containerPort": RENDEZVOUS_PORT}],
            "resources": resources,
            "securityContext": CONTAINER_SECURITY,
            "volumeMounts": mounts,
        }
    ]
    pod["volumes"] = volumes
    return pod


def _job(name: str, labels: dict[str, str], pod: dict[str, Any], nodes: int) -> dict[str, Any]:
    """An Indexed Job of one pod per node, whose preempted and evicted pods do not count."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "completionMode": "Indexed",
            "completions": nodes,
            "parallelism": nodes,
            "backoffLimit": BACKOFF_LIMIT,
            # A replacement starts only once the old pod is gone: never two pods of one rank.
            "podReplacementPolicy": "Failed",
            "podFailurePolicy": {
                "rules": [
                    {
                        "action": "Ignore",
                        "onExitCodes": {
                            "containerName": CONTAINER,
                            "operator": "In",
                            "values": [EXIT_PREEMPTED],
                        },
                    },
                    {
                        "action": "Ignore",
                        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
                    },
                    {
                        "action": "Count",
                        "onExitCodes": {
                            "containerName": CONTAINER,
                            "operator": "NotIn",
                            "values": [0, EXIT_PREEMPTED],
                        },
                    },
                ]
            },
            "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
        },
    }
