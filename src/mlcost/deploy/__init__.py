"""Deploy: a plan rendered as what runs it on Kubernetes, every object validated offline.

Input: a Plan (its Kubernetes option and that option's ReplicaSpec), an image name, and the
folder of CRD schemas for the custom resources.
Output: Rendered objects (ConfigMap with serve.yaml, Deployment, Service, Ingress, HPA with its
Prometheus Adapter rule, PDB, ServiceMonitor, Karpenter NodePools and EC2NodeClass) and the
notes they rest on, written one file per object in apply order; for a Lambda option, an
AWS SAM template linted with cfn-lint; the alternatives (a KEDA ScaledObject for the HPA;
EKS managed node groups and GKE pools for Karpenter's; a Cloud Run service; an EC2 Auto
Scaling group behind its ALB for a vm-group option), each checked offline; for a training
workload, a spot Indexed Job running torchrun on every node; for the machine types the plan
estimated, a profiling Job per type that measures there and writes its Profiles to the shared
store.
"""

from mlcost.deploy._autoscaling import PROMETHEUS_URL, Autoscaler
from mlcost.deploy._cloud_run import (
    check_cloud_run,
    cloud_run_option,
    render_cloud_run,
    require_cloud_run,
)
from mlcost.deploy._cloudformation import cloudformation_text
from mlcost.deploy._kubernetes import (
    EXPECTED_NODES,
    EXPECTED_REPLICAS,
    KUBERNETES_VERSION,
    Nodes,
    Rendered,
    kubernetes_option,
    render_kubernetes,
)
from mlcost.deploy._lambda import lambda_option, lint_sam, render_sam
from mlcost.deploy._node_groups import (
    NodeGroups,
    node_group_files,
    render_node_groups,
    write_node_groups,
)
from mlcost.deploy._profile_jobs import render_profile_jobs
from mlcost.deploy._training_job import render_training_job
from mlcost.deploy._validate import require_valid, validate_objects
from mlcost.deploy._vm import render_vm, vm_option
from mlcost.deploy._write import write_manifests

__all__ = [
    "EXPECTED_NODES",
    "EXPECTED_REPLICAS",
    "KUBERNETES_VERSION",
    "PROMETHEUS_URL",
    "Autoscaler",
    "NodeGroups",
    "Nodes",
    "Rendered",
    "check_cloud_run",
    "cloud_run_option",
    "cloudformation_text",
    "kubernetes_option",
    "lambda_option",
    "lint_sam",
    "node_group_files",
    "render_cloud_run",
    "render_kubernetes",
    "render_node_groups",
    "render_profile_jobs",
    "render_sam",
    "render_training_job",
    "render_vm",
    "require_cloud_run",
    "require_valid",
    "validate_objects",
    "vm_option",
    "write_manifests",
    "write_node_groups",
]
