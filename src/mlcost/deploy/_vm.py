"""A vm-group option on AWS as a CloudFormation template: the Auto Scaling group the plan
simulated, behind the ALB it billed.

Each VM runs the same ``mlcost serve`` image under Docker, started by user data, with
the serve.yaml a pod would get (``serve_config``: the plan's variant, threads and
batching). The workspace baked into the image is copied to the host first, as the pod's
init container does, so the container's root stays read-only. The launch template holds
the instance type (or the spot types, in a mixed-instances policy, capacity-optimized),
IMDSv2 only, and the gp3 disk the plan billed.

The drain has no preStop here. On scale-in the group takes the VM out of the target
group first (the deregistration delay outlasts a request) and Docker stops the
container when the VM shuts down. On spot the server watches the interruption notice
itself; it fails ``/readyz`` and waits until the ALB's health checks have seen that
before it stops. Capacity rebalancing starts a replacement when AWS warns of a
reclaim, before the notice comes.
"""

from __future__ import annotations

import re
from typing import Any

from mlcost.core import DeployError, Plan, PlanOption, ReplicaSpec
from mlcost.deploy._cloudformation import ec2_role
from mlcost.deploy._kubernetes import BAKED_HOME_PATH, HOME_PATH, SERVE_PORT, Rendered, serve_config
from mlcost.deploy._option import (
    is_spot,
    node_disk_gib,
    on_demand_base_nodes,
    resource_name,
    serving_instance_types,
)
from mlcost.serve import NOTICE_WINDOW_S, Spot

# The target group's health checks: a VM that fails /readyz twice, 5 s apart, gets no traffic.
HEALTH_CHECK_INTERVAL_S = 5
UNHEALTHY_THRESHOLD = 2
# In-flight requests of a deregistered VM may finish within this; then the group ends it.
DEREGISTRATION_DELAY_S = 30
# SIGTERM to SIGKILL when Docker stops the container (the server's grace period).
STOP_TIMEOUT_S = 30
# Docker's install, the image pull, the workspace copy and the model load, before health counts.
START_GRACE_S = 300
CONFIG_DIR = "/etc/mlcost"

_AMI = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}"
# Docker with the NVIDIA container toolkit and the driver, for a GPU option.
_GPU_AMI = "/aws/service/deeplearning/ami/{arch}/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id"
_CREDITS = re.compile(r"credit specification (unlimited|standard)")


def vm_option(plan: Plan) -> PlanOption:
    """The plan's vm-group option: the winner if it is one, else the best one weighed.

    Raises DeployError where there is none, or where it is not on AWS (only an EC2 Auto
    Scaling group is rendered)."""
    for option in (plan.winner, *plan.platforms):
        if option.platform == "vm-group":
            if option.offer.provider != "aws":
                raise DeployError(
                    f"the plan's vm-group option runs on {option.offer.provider} "
                    f"({option.platform_service}); only an AWS Auto Scaling group is rendered: "
                    "allow aws in constraints.providers and plan again"
                )
            return option
    raise DeployError(
        "the plan weighed no vm-group option; allow vm-group in platform.allowed and plan again"
    )


def render_vm(plan: Plan) -> Rendered:
    """The CloudFormation template (one object) that runs the plan's vm-group option, and
    its notes. Raises DeployError where the option cannot run as planned on it."""
    option = vm_option(plan)
    spec = option.replica
    if spec is None:
        raise DeployError(
            "plan.json predates mlcost deploy (its options carry no pod spec); run mlcost plan again"
        )
    offer = option.offer
    if option.pods_per_node > 1:
        raise DeployError(
            f"the plan packs {option.pods_per_node} replicas on each {offer.instance_type}; a VM "
            "here runs one server: render the Kubernetes option (mlcost deploy render), or plan "
            "with a machine that holds one replica"
        )
    serve_yaml, drain = _serve_yaml(option, spec)
    name = resource_name(plan.workload)
    gpu = spec.accelerators > 0
    disk_gib, is_billed = node_disk_gib(option)
    arch = "arm64" if offer.arch == "arm64" else "x86_64"
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"{plan.workload}: {option.label} (mlcost plan)",
        "Parameters": _parameters(arch, gpu=gpu),
        "Resources": {
            **_instance_role(),
            **_load_balancer(name),
            "LaunchTemplate": _launch_template(
                name,
                option,
                _user_data(serve_yaml, gpu=gpu),
                disk_gib=None if gpu else disk_gib,
            ),
            "AutoScalingGroup": _group(name, option),
        },
        "Outputs": {
            "Url": {
                "Description": "The load balancer (POST /v1/predict)",
                "Value": {"Fn::Sub": "http://${LoadBalancer.DNSName}"},
            }
        },
    }
    most = max(option.nodes_max, option.always_on_nodes)
    if option.scaling == "autoscaled" and most > option.always_on_nodes:
        template["Resources"]["RequestScaling"] = _request_scaling(spec.target_requests_per_s)
    notes = [
        f"rendering {option.label} (${option.monthly_usd:,.2f}/month as planned)"
        + ("" if option is plan.winner else f"; the plan's winner runs on {plan.winner.platform}"),
        _fleet_note(option),
        drain,
        "HTTP on :80 only: add an HTTPS listener with your certificate before real traffic",
    ]
    if option.scaling == "autoscaled" and most == option.always_on_nodes:
        notes.append(
            f"no scaling policy: the plan's busiest minute needed no more than its {most} VMs; "
            "raise MaxSize and add target tracking on ALBRequestCountPerTarget for headroom"
        )
    if gpu:
        notes.append(
            "GPU: the Deep Learning Base AMI (Docker, NVIDIA driver and toolkit); its root volume "
            f"is larger than the {disk_gib:g} GiB billed per node, and is kept at its own size"
        )
    elif not is_billed:
        notes.append(f"node disk: the plan billed none (no block-storage price); {disk_gib:g} GiB")
    notes.extend(f"prerequisite: {text}" for text in option.prerequisites)
    return Rendered((template,), tuple(notes))


def _serve_yaml(option: PlanOption, spec: ReplicaSpec) -> tuple[str, str]:
    """The serve.yaml a VM runs, and the note on its drain; raises DeployError where the
    drain chain breaks: the ALB's health checks + the request timeout + the flush must fit
    in Docker's stop timeout, and that in the notice (after a poll)."""
    import yaml

    is_spot_vm = is_spot(option)
    detect_s = HEALTH_CHECK_INTERVAL_S * UNHEALTHY_THRESHOLD
    config, server = serve_config(
        option, spec, drain_delay_s=detect_s, grace_period_s=STOP_TIMEOUT_S, watch_spot=is_spot_vm
    )
    timeout_s, flush_s = server.limits.request_timeout_s, server.shutdown.flush_s
    chain = detect_s + timeout_s + flush_s
    poll_s = Spot().poll_interval_s if is_spot_vm else 0.0
    notice = NOTICE_WINDOW_S["aws"]
    if not (timeout_s <= DEREGISTRATION_DELAY_S and chain < STOP_TIMEOUT_S < notice - poll_s):
        raise DeployError(
            f"the drain chain breaks: health checks {detect_s} s + request timeout {timeout_s:g} s "
            f"+ flush {flush_s:g} s = {chain:g} s, stop timeout {STOP_TIMEOUT_S} s, "
            f"deregistration {DEREGISTRATION_DELAY_S} s, aws's notice {notice:g} s"
        )
    note = (
        f"drain: on scale-in the ALB drains the VM for up to {DEREGISTRATION_DELAY_S} s, then "
        f"Docker stops the server within {STOP_TIMEOUT_S} s"
    )
    if is_spot_vm:
        note += (
            f"; on a spot notice the server fails /readyz, waits {detect_s} s for the ALB's "
            f"health checks, and finishes its requests: {chain:g} s < aws's notice {notice:g} s"
        )
    return yaml.safe_dump(config, sort_keys=False), note


def _parameters(arch: str, *, gpu: bool) -> dict[str, Any]:
    return {
        "ImageUri": {
            "Type": "String",
            "Description": "The mlcost serve image (docker build with the Dockerfile), e.g. in ECR",
        },
        "VpcId": {"Type": "AWS::EC2::VPC::Id"},
        "Subnets": {
            "Type": "List<AWS::EC2::Subnet::Id>",
            "Description": "Two or more public subnets in different zones (the ALB the plan billed)",
        },
        "ImageId": {
            "Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
            "Default": (_GPU_AMI if gpu else _AMI).format(arch=arch),
        },
    }


def _instance_role() -> dict[str, Any]:
    """Pull from ECR; Session Manager instead of SSH."""
    return {
        "InstanceRole": ec2_role(
            "AmazonEC2ContainerRegistryReadOnly", "AmazonSSMManagedInstanceCore"
        ),
        "InstanceProfile": {
            "Type": "AWS::IAM::InstanceProfile",
            "Properties": {"Roles": [{"Ref": "InstanceRole"}]},
        },
    }


def _load_balancer(name: str) -> dict[str, Any]:
    """The internet-facing ALB the plan billed (two zones), its listener and target group."""
    return {
        "LoadBalancerSecurityGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "GroupDescription": f"{name}: HTTP from anywhere to the load balancer",
                "VpcId": {"Ref": "VpcId"},
                "SecurityGroupIngress": [
                    {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIp": "0.0.0.0/0"}
                ],
            },
        },
        "InstanceSecurityGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "GroupDescription": f"{name}: mlcost serve from the load balancer only",
                "VpcId": {"Ref": "VpcId"},
                "SecurityGroupIngress": [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": SERVE_PORT,
                        "ToPort": SERVE_PORT,
                        "SourceSecurityGroupId": {"Ref": "LoadBalancerSecurityGroup"},
                    }
                ],
            },
        },
        "LoadBalancer": {
            "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "Properties": {
                "Type": "application",
                "Scheme": "internet-facing",
                "Subnets": {"Ref": "Subnets"},
                "SecurityGroups": [{"Ref": "LoadBalancerSecurityGroup"}],
            },
        },
        "TargetGroup": {
            "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
            "Properties": {
                "VpcId": {"Ref": "VpcId"},
                "Protocol": "HTTP",
                "Port": SERVE_PORT,
                "TargetType": "instance",
                "HealthCheckPath": "/readyz",
                "HealthCheckIntervalSeconds": HEALTH_CHECK_INTERVAL_S,
                "HealthCheckTimeoutSeconds": 2,
                "HealthyThresholdCount": 2,
                "UnhealthyThresholdCount": UNHEALTHY_THRESHOLD,
                "TargetGroupAttributes": [
                    {
                        "Key": "deregistration_delay.timeout_seconds",
                        "Value": str(DEREGISTRATION_DELAY_S),
                    }
                ],
            },
        },
        "Listener": {
            "Type": "AWS::ElasticLoadBalancingV2::Listener",
            "Properties": {
                "LoadBalancerArn": {"Ref": "LoadBalancer"},
                "Port": 80,
                "Protocol": "HTTP",
                "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "TargetGroup"}}],
            },
        },
    }


def _launch_template(
    name: str, option: PlanOption, user_data: str, *, disk_gib: float | None
) -> dict[str, Any]:
    """IMDSv2 only (the container shares the host's network, one hop), the gp3 disk billed
    (None: the AMI's own size), a public address where the plan billed one per node."""
    ebs: dict[str, Any] = {"VolumeType": "gp3", "Encrypted": True, "DeleteOnTermination": True}
    if disk_gib is not None:
        ebs["VolumeSize"] = int(disk_gib)
    data: dict[str, Any] = {
        "ImageId": {"Ref": "ImageId"},
        "IamInstanceProfile": {"Arn": {"Fn::GetAtt": ["InstanceProfile", "Arn"]}},
        "MetadataOptions": {
            "HttpEndpoint": "enabled",
            "HttpTokens": "required",
            "HttpPutResponseHopLimit": 1,
        },
        "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": ebs}],
        "UserData": {"Fn::Base64": {"Fn::Sub": user_data}},
        "TagSpecifications": [
            {"ResourceType": kind, "Tags": _tags(name, option)} for kind in ("instance", "volume")
        ],
    }
    if not is_spot(option):
        data["InstanceType"] = option.offer.instance_type
    groups = [{"Ref": "InstanceSecurityGroup"}]
    if any(line.item == "public IPv4 of the serving nodes" for line in option.cost.lines):
        data["NetworkInterfaces"] = [
            {"DeviceIndex": 0, "AssociatePublicIpAddress": True, "Groups": groups}
        ]
    else:
        data["SecurityGroupIds"] = groups
    for text in option.prerequisites:
        credits = _CREDITS.search(text)
        if credits:
            data["CreditSpecification"] = {"CpuCredits": credits.group(1)}
    return {"Type": "AWS::EC2::LaunchTemplate", "Properties": {"LaunchTemplateData": data}}


def _user_data(serve_yaml: str, *, gpu: bool) -> str:
    """The boot script (a Fn::Sub body: ``${!x}`` is the shell's ``${x}``)."""
    gpus = " --gpus all" if gpu else ""
    return f"""#!/bin/bash
# mlcost serve under Docker, with the plan's serve.yaml; stopped with the VM.
set -euo pipefail
command -v docker >/dev/null || dnf install -y docker
systemctl enable --now docker
IMAGE="${{ImageUri}}"
registry="${{!IMAGE%%/*}}"
case "$registry" in
  *.amazonaws.com) aws ecr get-login-password --region "${{AWS::Region}}" |
    docker login --username AWS --password-stdin "$registry" ;;
esac
install -d {CONFIG_DIR}
cat > {CONFIG_DIR}/serve.yaml <<'YAML'
{serve_yaml}YAML
install -d -o 10001 -g 10001 {HOME_PATH}
docker pull "$IMAGE"
docker run --rm --entrypoint cp -v {HOME_PATH}:{HOME_PATH} "$IMAGE" -a {BAKED_HOME_PATH}/. {HOME_PATH}/
docker run -d --name mlcost --restart unless-stopped --network host{gpus} \\
  --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges \\
  --stop-timeout {STOP_TIMEOUT_S} -v {CONFIG_DIR}:{CONFIG_DIR}:ro -v {HOME_PATH}:{HOME_PATH} \\
  "$IMAGE" --home {HOME_PATH} serve {CONFIG_DIR}/serve.yaml
"""


def _group(name: str, option: PlanOption) -> dict[str, Any]:
    """The group's bounds are the fleet the plan simulated: its fewest and most VMs."""
    least = option.always_on_nodes
    version = {"Fn::GetAtt": ["LaunchTemplate", "LatestVersionNumber"]}
    properties: dict[str, Any] = {
        "MinSize": str(least),
        "MaxSize": str(max(option.nodes_max, least)),
        "DesiredCapacity": str(least),
        "VPCZoneIdentifier": {"Ref": "Subnets"},
        "TargetGroupARNs": [{"Ref": "TargetGroup"}],
        "HealthCheckType": "ELB",
        "HealthCheckGracePeriod": START_GRACE_S,
        "Tags": [{**tag, "PropagateAtLaunch": False} for tag in _tags(name, option)],
    }
    template = {"LaunchTemplateId": {"Ref": "LaunchTemplate"}, "Version": version}
    if is_spot(option):
        properties["CapacityRebalance"] = True
        properties["MixedInstancesPolicy"] = {
            "LaunchTemplate": {
                "LaunchTemplateSpecification": template,
                "Overrides": [{"InstanceType": t} for t in serving_instance_types(option)],
            },
            "InstancesDistribution": {
                "OnDemandBaseCapacity": on_demand_base_nodes(option),
                "OnDemandPercentageAboveBaseCapacity": 0,
                "SpotAllocationStrategy": "capacity-optimized",
            },
        }
    else:
        properties["LaunchTemplate"] = template
    return {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": properties}


def _request_scaling(target_requests_per_s: float) -> dict[str, Any]:
    """Target tracking on the requests each VM takes a minute: the rate the plan's simulated
    autoscaler held per replica (one replica a VM)."""
    label = {
        "Fn::Join": [
            "/",
            [
                {"Fn::GetAtt": ["LoadBalancer", "LoadBalancerFullName"]},
                {"Fn::GetAtt": ["TargetGroup", "TargetGroupFullName"]},
            ],
        ]
    }
    return {
        "Type": "AWS::AutoScaling::ScalingPolicy",
        "Properties": {
            "AutoScalingGroupName": {"Ref": "AutoScalingGroup"},
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingConfiguration": {
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "ALBRequestCountPerTarget",
                    "ResourceLabel": label,
                },
                "TargetValue": round(target_requests_per_s * 60.0, 1),
            },
        },
    }


def _tags(name: str, option: PlanOption) -> list[dict[str, Any]]:
    return [
        {"Key": "Name", "Value": name},
        {"Key": "mlcost:workload", "Value": name},
        {"Key": "mlcost:variant", "Value": option.variant},
    ]


def _fleet_note(option: PlanOption) -> str:
    types = serving_instance_types(option)
    bounds = f"{option.always_on_nodes}-{max(option.nodes_max, option.always_on_nodes)} VMs"
    if not is_spot(option):
        return f"{bounds} of {types[0]}, on-demand"
    base = on_demand_base_nodes(option)
    return f"{bounds}, spot over {', '.join(types)} (capacity-optimized, capacity rebalancing)" + (
        f" above {base} on-demand" if base else ""
    )
