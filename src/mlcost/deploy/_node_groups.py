"""Node pools for a plan's Kubernetes option without Karpenter: EKS managed node groups (a
CloudFormation template) and the same pools on GKE (``_gke``).

The groups are Karpenter's pools made by another means: the serving group with the
plan's capacity type (SPOT, or ON_DEMAND), its instance types (the spot types it
diversified over), its fewest and most nodes, the serving label and, for a GPU, the
taint; the on-demand system group the plan billed, tainted CriticalAddonsOnly. Both
boot Bottlerocket from a launch template holding what the EC2NodeClass holds: IMDSv2
only and the gp3 data disk the plan billed (a managed node group's DiskSize cannot
sit beside a launch template, and gives neither). A mixed fleet is two serving
groups: its on-demand base, fixed, and spot above it.

With ``mlcost deploy render --nodes node-groups`` the pods select the serving label.
A managed node group scales between its bounds only with the Cluster Autoscaler (EKS
tags the groups for its auto-discovery), which runs on the system group in place of
Karpenter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcost.catalog import Catalog
from mlcost.core import DeployError, Plan, PlanOption, staged_folder
from mlcost.deploy._cloudformation import cloudformation_text, ec2_role
from mlcost.deploy._gke import gke_pools
from mlcost.deploy._kubernetes import KUBERNETES_VERSION, POOL_LABEL, kubernetes_option
from mlcost.deploy._option import (
    billed_system_pool,
    is_spot,
    node_disk_gib,
    on_demand_base_nodes,
    resource_name,
    serving_instance_types,
)
from mlcost.deploy._validate import require_valid

EKS_FILE = "eks-node-groups.yaml"
COMPUTE_CLASS_FILE = "gke-compute-class.yaml"
GCLOUD_FILE = "gke-node-pools.sh"


@dataclass(frozen=True, slots=True)
class NodeGroups:
    """The node groups of one rendering and the notes on them. ``eks`` is a CloudFormation
    template and ``compute_class``/``gcloud`` the GKE pools, each None where the option has
    none (the notes say why)."""

    eks: dict[str, Any] | None
    compute_class: dict[str, Any] | None
    gcloud: str | None
    region: str
    notes: tuple[str, ...]


def render_node_groups(plan: Plan, catalog: Catalog) -> NodeGroups:
    """The node groups that run the plan's Kubernetes option, on EKS and on GKE.

    Raises DeployError where the plan has no Kubernetes option or neither rendering fits."""
    option = kubernetes_option(plan)
    name = resource_name(plan.workload)
    notes = [
        f"node groups for {option.label} (${option.monthly_usd:,.2f}/month as planned)"
        + ("" if option is plan.winner else f"; the plan's winner runs on {plan.winner.platform}")
    ]
    eks: dict[str, Any] | None = None
    if option.offer.provider == "aws":
        eks, eks_notes = _eks_template(name, option, catalog)
        notes += eks_notes
    else:
        notes.append(
            f"no EKS node groups: the option runs on {option.offer.provider}'s "
            f"{option.offer.instance_type}, not an EC2 type; plan with aws allowed for them"
        )
    try:
        gke = gke_pools(name, option, catalog)
    except DeployError as exc:
        if eks is None:
            raise DeployError(f"no node groups: no EKS ones (not AWS), and {exc}") from exc
        notes.append(f"no GKE pools: {exc}")
        return NodeGroups(eks, None, None, option.offer.region, tuple(notes))
    return NodeGroups(eks, gke.compute_class, gke.gcloud, option.offer.region, (*notes, *gke.notes))


def node_group_files(groups: NodeGroups, *, crd_schemas: Path | None) -> dict[str, str]:
    """Each rendering as the text of its file, once checked: the EKS template by cfn-lint,
    the ComputeClass by its CRD schema (``crd_schemas`` None: unchecked, as render's custom
    resources). Raises DeployError naming the first findings."""
    import yaml

    files: dict[str, str] = {}
    if groups.eks is not None:
        files[EKS_FILE] = cloudformation_text(groups.eks, region=groups.region)
    if groups.compute_class is not None:
        require_valid(
            [groups.compute_class], kubernetes_version=KUBERNETES_VERSION, crd_schemas=crd_schemas
        )
        files[COMPUTE_CLASS_FILE] = yaml.safe_dump(groups.compute_class, sort_keys=False)
    if groups.gcloud is not None:
        files[GCLOUD_FILE] = groups.gcloud
    return files


def write_node_groups(folder: Path, files: Mapping[str, str], notes: Sequence[str]) -> list[Path]:
    """Write the files and NOTES.md; the folder is replaced as a whole (a crash leaves the old)."""
    with staged_folder(folder) as staging:
        for file_name, text in files.items():
            (staging / file_name).write_text(text, encoding="utf-8")
        lines = ["# What these node groups rest on", "", *(f"- {note}" for note in notes), ""]
        (staging / "NOTES.md").write_text("\n".join(lines), encoding="utf-8")
    return [folder / file_name for file_name in files]


def _eks_template(
    name: str, option: PlanOption, catalog: Catalog
) -> tuple[dict[str, Any], list[str]]:
    offer = option.offer
    gpu = offer.has_accelerator
    least, most = option.always_on_nodes, max(option.nodes_max, option.always_on_nodes) + 1
    base = on_demand_base_nodes(option)
    labels = {POOL_LABEL: "serving"}
    taints = [{"Key": "nvidia.com/gpu", "Value": "true", "Effect": "NO_SCHEDULE"}] if gpu else []
    groups: dict[str, Any] = {}
    if base:
        groups["ServingBaseNodeGroup"] = _node_group(
            f"{name}-serving-base", "ON_DEMAND", [offer.instance_type], (base, base), labels,
            taints, _ami_type(offer.arch, gpu=gpu),
        )  # fmt: skip
    groups["ServingNodeGroup"] = _node_group(
        f"{name}-serving", "SPOT" if is_spot(option) else "ON_DEMAND",
        serving_instance_types(option), (max(0, least - base), most - base), labels, taints,
        _ami_type(offer.arch, gpu=gpu),
    )  # fmt: skip
    notes = [
        f"EKS: {name}-serving, {'spot' if is_spot(option) else 'on-demand'} over "
        f"{', '.join(serving_instance_types(option))}, {max(0, least - base)}-{most - base} "
        "nodes (the plan's fewest and most, +1 for a rolling update's surge pod)"
        + (f", above {base} on-demand in {name}-serving-base" if base else "")
    ]
    system = billed_system_pool(option)
    if system is not None:
        count, instance_type = system
        found = catalog.offer(instance_type, region=offer.region, provider="aws")
        groups["SystemNodeGroup"] = _node_group(
            f"{name}-system", "ON_DEMAND", [instance_type], (count, count),
            {POOL_LABEL: "system"},
            [{"Key": "CriticalAddonsOnly", "Value": "true", "Effect": "NO_SCHEDULE"}],
            _ami_type(found.arch if found else "x86_64", gpu=False),
        )  # fmt: skip
        notes.append(
            f"EKS: {name}-system, {count} x {instance_type} on-demand as billed, tainted "
            "CriticalAddonsOnly; the Cluster Autoscaler runs there in Karpenter's place (EKS tags "
            "the groups for its auto-discovery) and scales the serving group between its bounds"
        )
    else:
        notes.append("EKS: no system group: the plan billed none (an existing cluster's)")
    disk_gib, is_billed = node_disk_gib(option)
    if not is_billed:
        notes.append(f"EKS: data disks of {disk_gib:g} GiB; the plan billed none (no price)")
    if is_spot(option):
        notes.append(
            "EKS: a managed node group drains a spot node on its rebalance recommendation; the "
            "2-minute notice alone is seen only by the AWS Node Termination Handler"
        )
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"{name}: EKS managed node groups for {option.label} (mlcost plan)",
        "Parameters": {
            "ClusterName": {"Type": "String", "Description": "The EKS cluster"},
            "Subnets": {
                "Type": "List<AWS::EC2::Subnet::Id>",
                "Description": "The cluster's subnets for the nodes, in two or more zones",
            },
        },
        "Resources": {
            "NodeRole": _node_role(),
            "NodeLaunchTemplate": _launch_template(name, option, disk_gib),
            **groups,
        },
    }
    return template, notes


def _node_group(
    group_name: str,
    capacity: str,
    instance_types: list[str],
    bounds: tuple[int, int],
    labels: dict[str, str],
    taints: list[dict[str, str]],
    ami_type: str,
) -> dict[str, Any]:
    least, most = bounds
    properties: dict[str, Any] = {
        "ClusterName": {"Ref": "ClusterName"},
        "NodegroupName": group_name,
        "NodeRole": {"Fn::GetAtt": ["NodeRole", "Arn"]},
        "Subnets": {"Ref": "Subnets"},
        "AmiType": ami_type,
        "CapacityType": capacity,
        "InstanceTypes": instance_types,
        "ScalingConfig": {"MinSize": least, "MaxSize": max(most, 1), "DesiredSize": least},
        "Labels": labels,
        "LaunchTemplate": {
            "Id": {"Ref": "NodeLaunchTemplate"},
            "Version": {"Fn::GetAtt": ["NodeLaunchTemplate", "LatestVersionNumber"]},
        },
        "UpdateConfig": {"MaxUnavailable": 1},
        "Tags": {"mlcost:pool": group_name},
    }
    if taints:
        properties["Taints"] = taints
    return {"Type": "AWS::EKS::Nodegroup", "Properties": properties}


def _ami_type(arch: str, *, gpu: bool) -> str:
    return f"BOTTLEROCKET_{'ARM_64' if arch == 'arm64' else 'x86_64'}{'_NVIDIA' if gpu else ''}"


def _node_role() -> dict[str, Any]:
    return ec2_role(
        "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"
    )


def _launch_template(name: str, option: PlanOption, disk_gib: float) -> dict[str, Any]:
    """What the EC2NodeClass holds: Bottlerocket's data volume as gp3 of the billed size,
    IMDSv2 only with one hop (pods use their own credentials, not the node's)."""
    return {
        "Type": "AWS::EC2::LaunchTemplate",
        "Properties": {
            "LaunchTemplateData": {
                "BlockDeviceMappings": [
                    {
                        "DeviceName": "/dev/xvdb",
                        "Ebs": {
                            "VolumeSize": int(disk_gib),
                            "VolumeType": "gp3",
                            "Encrypted": True,
                            "DeleteOnTermination": True,
                        },
                    }
                ],
                "MetadataOptions": {
                    "HttpEndpoint": "enabled",
                    "HttpTokens": "required",
                    "HttpPutResponseHopLimit": 1,
                },
                "TagSpecifications": [
                    {
                        "ResourceType": "instance",
                        "Tags": [
                            {"Key": "mlcost:workload", "Value": name},
                            {"Key": "mlcost:variant", "Value": option.variant},
                        ],
                    }
                ],
            }
        },
    }
