"""Deploy: a plan rendered as what runs it on Kubernetes, every object validated offline.

Input: a Plan (its Kubernetes option and that option's ReplicaSpec), an image name, and the
folder of CRD schemas for the custom resources.
Output: Rendered objects (ConfigMap with serve.yaml, Deployment, Service, Ingress, HPA with its
Prometheus Adapter rule, PDB, ServiceMonitor, Karpenter NodePools and EC2NodeClass) and the
notes they rest on, written one file per object in apply order; for a Lambda option, an
AWS SAM template linted with cfn-lint.
"""

from mlcost.deploy._kubernetes import (
    KUBERNETES_VERSION,
    Rendered,
    kubernetes_option,
    render_kubernetes,
)
from mlcost.deploy._lambda import lambda_option, lint_sam, render_sam
from mlcost.deploy._validate import require_valid, validate_objects
from mlcost.deploy._write import write_manifests

__all__ = [
    "KUBERNETES_VERSION",
    "Rendered",
    "kubernetes_option",
    "lambda_option",
    "lint_sam",
    "render_kubernetes",
    "render_sam",
    "require_valid",
    "validate_objects",
    "write_manifests",
]
