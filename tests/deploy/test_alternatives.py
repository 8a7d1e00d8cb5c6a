"""The rendering alternatives: KEDA for the HPA, node groups for Karpenter, Cloud Run and an
Auto Scaling group for the non-Kubernetes winners; each checked offline and true to the plan."""

from __future__ import annotations

import copy
import dataclasses
import json
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlcost.catalog import Catalog, load_shipped
from mlcost.cli.plan import plan as plan_command
from mlcost.core import DeployError, Plan, PlanOption, from_jsonable
from mlcost.deploy import (
    KUBERNETES_VERSION,
    check_cloud_run,
    cloud_run_option,
    cloudformation_text,
    kubernetes_option,
    lint_sam,
    node_group_files,
    render_cloud_run,
    render_kubernetes,
    render_node_groups,
    render_vm,
    validate_objects,
    vm_option,
)
from mlcost.serve import ServeConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plan"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from planning_inputs import seed_workspace
from test_cli import run

ROOT = Path(__file__).resolve().parents[2]
CRD_SCHEMAS = ROOT.parent / "shared" / "data" / "k8s-crd-schemas"
IMAGE = "mlcost-serve:test"
CLOUD_RUN_IMAGE = "us-docker.pkg.dev/project/repo/mlcost-serve:test"


def _plan(folder: Path, edit: dict[str, Any] | None = None) -> tuple[Path, Plan]:
    """The reference workload (edited) planned on the demo's variants and profiles."""
    workload = yaml.safe_load((ROOT / "examples" / "workload.yaml").read_text())
    for key, value in (edit or {}).items():
        workload[key] = {**workload.get(key, {}), **value}
    (folder / "workload.yaml").write_text(yaml.safe_dump(workload))
    out = folder / "plan.json"
    plan_command(folder / "workload.yaml", out=out, home=seed_workspace(folder / "ws"))
    return out, from_jsonable(Plan, json.loads(out.read_text()))


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Plan]:
    """The demo's plan: a Lambda winner, a vm-group and an EKS option, spot t3.medium."""
    return _plan(tmp_path_factory.mktemp("aws"))


@pytest.fixture(scope="module")
def gcp(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Plan]:
    """The same workload on GCP only: a MIG winner, a GKE option, a Cloud Run option."""
    return _plan(
        tmp_path_factory.mktemp("gcp"),
        {
            "constraints": {"providers": ["gcp"], "regions": ["us-central1"]},
            "data_location": {"provider": "gcp", "region": "us-central1"},
        },
    )


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_shipped()


def _one(objects: tuple[dict[str, Any], ...], kind: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind]
    return found


def _with(plan: Plan, option: PlanOption, **changes: Any) -> Plan:
    """The plan with ``option`` changed and made its winner (what each renderer takes first)."""
    return dataclasses.replace(plan, winner=dataclasses.replace(option, **changes))


def _valid(objects: Any) -> list[str]:
    return validate_objects(objects, kubernetes_version=KUBERNETES_VERSION, crd_schemas=CRD_SCHEMAS)


# ---- KEDA ----


def test_keda_replaces_the_hpa_and_its_rule_on_the_same_rate(aws: tuple[Path, Plan]) -> None:
    plan = aws[1]
    option, spec = kubernetes_option(plan), kubernetes_option(plan).replica
    assert spec is not None
    default = render_kubernetes(plan, image=IMAGE)
    assert render_kubernetes(plan, image=IMAGE, autoscaler="hpa", nodes="karpenter") == default
    keda = render_kubernetes(plan, image=IMAGE, autoscaler="keda")
    kinds = [o["kind"] for o in keda.objects]
    assert "HorizontalPodAutoscaler" not in kinds and kinds.count("ConfigMap") == 1  # no rule
    assert _valid(keda.objects) == []
    scaled = _one(keda.objects, "ScaledObject")["spec"]
    hpa = _one(default.objects, "HorizontalPodAutoscaler")["spec"]
    assert scaled["minReplicaCount"] == hpa["minReplicas"] == option.replicas_min
    assert scaled["maxReplicaCount"] == hpa["maxReplicas"]
    assert scaled["advanced"]["horizontalPodAutoscalerConfig"]["behavior"] == hpa["behavior"]
    trigger = scaled["triggers"][0]
    assert trigger["type"] == "prometheus" and trigger["metricType"] == "AverageValue"
    assert int(trigger["metadata"]["threshold"]) == int(spec.target_requests_per_s)
    # The adapter rule's per-pod rates, summed over the pods the ServiceMonitor scrapes.
    assert trigger["metadata"]["query"] == (
        'sum(rate(mlcost_requests_total{job="sentiment-api"}[1m]))'
    )
    planted = copy.deepcopy(list(keda.objects))
    _one(tuple(planted), "ScaledObject")["spec"]["triggers"][0]["metricTypee"] = "Value"
    assert any("'metricTypee' was unexpected" in line for line in _valid(planted))


def test_keda_goes_to_zero_only_where_the_plan_did(aws: tuple[Path, Plan]) -> None:
    plan = aws[1]
    option = kubernetes_option(plan)

    def least(**changes: Any) -> tuple[int, tuple[str, ...]]:
        rendered = render_kubernetes(_with(plan, option, **changes), image=IMAGE, autoscaler="keda")
        return _one(rendered.objects, "ScaledObject")["spec"]["minReplicaCount"], rendered.notes

    zero, notes = least(scaling="autoscaled", replicas_min=0, replicas_floor=0)
    assert zero == 0 and any("HTTPScaledObject" in note for note in notes)
    # A minute with no replica ready because a reclaim took them is risk: the floor is the
    # fewest the autoscaler asked for.
    assert least(scaling="autoscaled", replicas_min=0, replicas_floor=2)[0] == 2
    assert least(scaling="autoscaled", replicas_min=3, replicas_floor=3)[0] == 3
    # A plan written before the floor was kept: only the fewest ready, read with care.
    old = {"replicas_floor": None, "replicas_min": 0}
    assert least(scaling="autoscaled", interruptions_expected=0.0, **old)[0] == 0
    assert least(scaling="autoscaled", interruptions_expected=3.0, **old)[0] == 1
    assert least(scaling="fixed", interruptions_expected=0.0, **old)[0] == 1


# ---- node groups ----


def test_pods_for_node_groups_select_their_label_and_no_karpenter_object_is_left(
    aws: tuple[Path, Plan],
) -> None:
    rendered = render_kubernetes(aws[1], image=IMAGE, nodes="node-groups")
    assert not {"NodePool", "EC2NodeClass"} & {o["kind"] for o in rendered.objects}
    pod = _one(rendered.objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"mlcost.dev/pool": "serving"}
    assert _valid(rendered.objects) == []
    assert not any("Karpenter's terminationGracePeriod" in note for note in rendered.notes)


def test_eks_node_groups_are_karpenters_pools_as_planned(
    aws: tuple[Path, Plan], catalog: Catalog
) -> None:
    plan = aws[1]
    option = kubernetes_option(plan)
    groups = render_node_groups(plan, catalog)
    assert groups.eks is not None
    resources = groups.eks["Resources"]
    serving = resources["ServingNodeGroup"]["Properties"]
    assert serving["CapacityType"] == ("SPOT" if option.pricing == "spot" else "ON_DEMAND")
    assert serving["InstanceTypes"] == (list(option.spot_types) or [option.offer.instance_type])
    assert serving["ScalingConfig"] == {
        "MinSize": option.always_on_nodes,
        "MaxSize": option.nodes_max + 1,  # the rolling update's surge pod
        "DesiredSize": option.always_on_nodes,
    }
    assert serving["Labels"] == {"mlcost.dev/pool": "serving"} and "Taints" not in serving
    system = resources["SystemNodeGroup"]["Properties"]
    billed = next(line.item for line in option.cost.lines if "system pool" in line.item)
    assert f"{system['ScalingConfig']['MinSize']} x {system['InstanceTypes'][0]}" in billed
    assert system["Taints"][0]["Key"] == "CriticalAddonsOnly"
    data = resources["NodeLaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    volume = data["BlockDeviceMappings"][0]["Ebs"]
    assert volume["VolumeType"] == "gp3"
    assert any(f"node disks: {volume['VolumeSize']} GiB" in line.item for line in option.cost.lines)
    files = node_group_files(groups, crd_schemas=CRD_SCHEMAS)  # cfn-lint and the CRD schema
    assert set(files) == {"eks-node-groups.yaml", "gke-compute-class.yaml", "gke-node-pools.sh"}
    planted = copy.deepcopy(groups.eks)
    planted["Resources"]["ServingNodeGroup"]["Properties"]["CapacityType"] = "SPOTT"
    with pytest.raises(DeployError, match=r"cfn-lint: .*SPOTT"):
        cloudformation_text(planted, region=option.offer.region)


def test_a_mixed_fleet_is_an_on_demand_base_and_spot_above_it(
    aws: tuple[Path, Plan], catalog: Catalog
) -> None:
    plan = aws[1]
    option = kubernetes_option(plan)
    mixed = _with(plan, option, pricing="mixed", replicas_min=2, always_on_nodes=2, nodes_max=5)
    groups = render_node_groups(mixed, catalog)
    assert groups.eks is not None
    base = groups.eks["Resources"]["ServingBaseNodeGroup"]["Properties"]
    spot = groups.eks["Resources"]["ServingNodeGroup"]["Properties"]
    assert base["CapacityType"] == "ON_DEMAND" and base["ScalingConfig"]["MinSize"] == 2
    assert spot["CapacityType"] == "SPOT" and spot["ScalingConfig"]["MaxSize"] == 5 + 1 - 2
    assert groups.compute_class is not None
    assert [p["spot"] for p in groups.compute_class["spec"]["priorities"]] == [True, False]
    node_group_files(groups, crd_schemas=CRD_SCHEMAS)


def test_an_aws_option_maps_to_the_cheapest_gcp_machine_that_holds_it(
    aws: tuple[Path, Plan], catalog: Catalog
) -> None:
    plan = aws[1]
    option = kubernetes_option(plan)
    groups = render_node_groups(plan, catalog)
    assert groups.compute_class is not None and groups.gcloud is not None
    priority = groups.compute_class["spec"]["priorities"][0]
    machine = priority["machineType"]
    wanted = option.offer
    fits = [
        o
        for o in catalog.offers
        if o.provider == "gcp"
        and o.region.startswith("us-")
        and o.arch == wanted.arch
        and not o.has_accelerator
        and o.vcpus >= wanted.vcpus
        and o.memory_gib >= wanted.memory_gib
        and o.spot_usd_per_hour is not None
    ]
    cheapest = min(fits, key=lambda o: o.spot_usd_per_hour or 0.0)
    assert machine == cheapest.instance_type and priority["spot"] is True
    assert any(f"mapped to {machine} in {cheapest.region}" in note for note in groups.notes)
    assert _valid([groups.compute_class]) == []
    planted = copy.deepcopy(groups.compute_class)
    planted["spec"]["priorities"][0]["machineTypee"] = machine
    assert any("'machineTypee' was unexpected" in line for line in _valid([planted]))
    commands = [shlex.split(c) for c in groups.gcloud.replace("\\\n", " ").splitlines()[5:]]
    create = next(c for c in commands if "sentiment-api-serving" in c)
    assert create[create.index("--machine-type") + 1] == machine
    assert create[create.index("--total-min-nodes") + 1] == str(option.always_on_nodes)
    assert "--spot" in create
    system = next(c for c in commands if "sentiment-api-system" in c)
    assert "components.gke.io/gke-managed-components=true:NoSchedule" in system


def test_a_gpu_without_a_gcp_twin_renders_eks_only_and_says_why(
    aws: tuple[Path, Plan], catalog: Catalog
) -> None:
    plan = aws[1]
    option = kubernetes_option(plan)
    g4dn = catalog.offer("g4dn.xlarge", region="us-east-1", provider="aws")
    assert g4dn is not None and option.replica is not None
    gpu = _with(
        plan,
        option,
        offer=g4dn,
        spot_types=(),
        replica=dataclasses.replace(option.replica, accelerators=1),
    )
    groups = render_node_groups(gpu, catalog)
    assert groups.eks is not None and groups.compute_class is None
    serving = groups.eks["Resources"]["ServingNodeGroup"]["Properties"]
    assert serving["AmiType"] == "BOTTLEROCKET_x86_64_NVIDIA"
    assert serving["Taints"][0]["Key"] == "nvidia.com/gpu"
    # n1-standard-4 + T4 has 15 GiB, under g4dn.xlarge's 16: no GCP machine holds it.
    assert any("no GKE pools: no GCP machine" in note and "T4" in note for note in groups.notes)
    node_group_files(groups, crd_schemas=CRD_SCHEMAS)


def test_a_gcp_option_keeps_its_machines_and_has_no_eks_groups(
    gcp: tuple[Path, Plan], catalog: Catalog
) -> None:
    plan = gcp[1]
    option = kubernetes_option(plan)
    groups = render_node_groups(plan, catalog)
    assert groups.eks is None and any("no EKS node groups" in note for note in groups.notes)
    assert groups.compute_class is not None
    priority = groups.compute_class["spec"]["priorities"][0]
    assert priority["machineType"] == option.offer.instance_type
    assert not any("mapped to" in note for note in groups.notes)
    assert _valid([groups.compute_class]) == []


# ---- Cloud Run ----


def test_a_cloud_run_option_is_a_service_as_priced(gcp: tuple[Path, Plan]) -> None:
    plan = gcp[1]
    option = cloud_run_option(plan)
    assert option.replica is not None
    service = render_cloud_run(plan, image=CLOUD_RUN_IMAGE).objects[0]
    assert check_cloud_run(service) == []
    template = service["spec"]["template"]
    container = template["spec"]["containers"][0]
    assert container["resources"]["limits"] == {
        "cpu": str(option.offer.vcpus),
        "memory": f"{int(option.replica.memory_mib)}Mi",
    }
    assert template["spec"]["containerConcurrency"] == 1
    args = container["args"]
    assert args[args.index("--variant") + 1] == option.variant
    assert args[args.index("--max-batch-size") + 1] == "1"
    assert container["ports"] == [{"name": "http1", "containerPort": 8000}]
    scale = template["metadata"]["annotations"]
    assert scale["autoscaling.knative.dev/minScale"] == "0"  # the cold starts the plan priced
    assert scale["autoscaling.knative.dev/maxScale"] == str(option.replicas_max)
    assert scale["run.googleapis.com/cpu-throttling"] == "true"  # request-based billing
    assert service["metadata"]["labels"]["cloud.googleapis.com/location"] == option.offer.region


def test_the_cloud_run_check_catches_what_cloud_run_refuses(gcp: tuple[Path, Plan]) -> None:
    service = render_cloud_run(gcp[1], image=CLOUD_RUN_IMAGE).objects[0]

    def findings(edit: Any) -> list[str]:
        planted = copy.deepcopy(service)
        edit(planted["spec"]["template"])
        return check_cloud_run(planted)

    def typo(t: dict[str, Any]) -> None:
        t["spec"]["containerConcurrencyy"] = 1

    def too_much_memory(t: dict[str, Any]) -> None:
        t["spec"]["containers"][0]["resources"]["limits"]["memory"] = "6Gi"  # with 1 vCPU

    def unknown_annotation(t: dict[str, Any]) -> None:
        t["metadata"]["annotations"]["run.googleapis.com/cpu-throttle"] = "true"

    def bad_scale(t: dict[str, Any]) -> None:
        t["metadata"]["annotations"]["autoscaling.knative.dev/maxScale"] = "many"

    assert any("containerConcurrencyy" in line for line in findings(typo))
    assert any("needs at least 2 vCPUs" in line for line in findings(too_much_memory))
    assert any("unknown revision annotation" in line for line in findings(unknown_annotation))
    assert any("not a whole number" in line for line in findings(bad_scale))


# ---- the vm-group's Auto Scaling group ----


def _serve_yaml(template: dict[str, Any]) -> ServeConfig:
    data = template["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    script = data["UserData"]["Fn::Base64"]["Fn::Sub"]
    text = script.split("<<'YAML'\n", 1)[1].split("\nYAML\n", 1)[0]
    return ServeConfig.model_validate(yaml.safe_load(text))


def test_a_vm_group_is_a_cfn_lint_clean_auto_scaling_group_as_planned(
    aws: tuple[Path, Plan],
) -> None:
    plan = aws[1]
    option = vm_option(plan)
    assert option.replica is not None
    template = render_vm(plan).objects[0]
    assert lint_sam(cloudformation_text(template, region="us-east-1"), region="us-east-1") == []
    resources = template["Resources"]
    group = resources["AutoScalingGroup"]["Properties"]
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (
        str(option.always_on_nodes),
        str(option.nodes_max),
        str(option.always_on_nodes),
    )
    assert option.pricing == "spot" and group["CapacityRebalance"] is True
    mixed = group["MixedInstancesPolicy"]
    assert [o["InstanceType"] for o in mixed["LaunchTemplate"]["Overrides"]] == (
        list(option.spot_types) or [option.offer.instance_type]
    )
    assert mixed["InstancesDistribution"]["SpotAllocationStrategy"] == "capacity-optimized"
    data = resources["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    volume = data["BlockDeviceMappings"][0]["Ebs"]
    assert volume["VolumeType"] == "gp3"
    assert any(f"node disks: {volume['VolumeSize']} GiB" in line.item for line in option.cost.lines)
    assert data["CreditSpecification"] == {"CpuCredits": "unlimited"}  # the plan's prerequisite
    assert resources["TargetGroup"]["Properties"]["HealthCheckPath"] == "/readyz"
    config = _serve_yaml(template)
    assert config.tiers[0].variant == option.variant
    assert config.tiers[0].batching.max_batch_size == option.replica.max_batch_size
    assert config.spot.cloud == "aws"  # the server watches the notice itself on a VM
    drain = (
        config.shutdown.drain_delay_s + config.limits.request_timeout_s + config.shutdown.flush_s
    )
    assert drain < config.shutdown.grace_period_s
    planted = copy.deepcopy(template)
    planted["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]["InstanceTypee"] = (
        "t3.medium"
    )
    with pytest.raises(DeployError, match=r"cfn-lint: .*InstanceTypee"):
        cloudformation_text(planted, region="us-east-1")


def test_an_on_demand_group_that_scales_tracks_the_planned_rate(aws: tuple[Path, Plan]) -> None:
    plan = aws[1]
    option = vm_option(plan)
    assert option.replica is not None
    scaled = _with(plan, option, pricing="on-demand", nodes_max=4, always_on_nodes=2)
    template = render_vm(scaled).objects[0]
    cloudformation_text(template, region="us-east-1")  # cfn-lint clean, or DeployError
    group = template["Resources"]["AutoScalingGroup"]["Properties"]
    assert "MixedInstancesPolicy" not in group and "CapacityRebalance" not in group
    data = template["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert data["InstanceType"] == option.offer.instance_type
    tracking = template["Resources"]["RequestScaling"]["Properties"]["TargetTrackingConfiguration"]
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
        "ALBRequestCountPerTarget"
    )
    assert tracking["TargetValue"] == pytest.approx(option.replica.target_requests_per_s * 60, 0.01)
    assert _serve_yaml(template).spot.cloud is None
    with pytest.raises(DeployError, match="runs one server"):
        render_vm(_with(plan, option, pods_per_node=2))


def test_a_mixed_group_keeps_its_on_demand_base_and_a_gpu_group_its_gpus(
    aws: tuple[Path, Plan], catalog: Catalog
) -> None:
    plan = aws[1]
    option = vm_option(plan)
    assert option.replica is not None
    mixed = _with(plan, option, pricing="mixed", replicas_min=2, always_on_nodes=2, nodes_max=4)
    template = render_vm(mixed).objects[0]
    cloudformation_text(template, region="us-east-1")
    group = template["Resources"]["AutoScalingGroup"]["Properties"]
    assert group["MixedInstancesPolicy"]["InstancesDistribution"]["OnDemandBaseCapacity"] == 2
    g4dn = catalog.offer("g4dn.xlarge", region="us-east-1", provider="aws")
    assert g4dn is not None
    gpu = _with(
        plan,
        option,
        offer=g4dn,
        pricing="on-demand",
        prerequisites=(),
        replica=dataclasses.replace(option.replica, accelerators=1),
    )
    template = render_vm(gpu).objects[0]
    text = cloudformation_text(template, region="us-east-1")
    assert "nvidia-driver-gpu" in template["Parameters"]["ImageId"]["Default"]
    assert "--gpus all" in text and "VolumeSize" not in text  # the GPU AMI's own root size


def test_options_the_renderers_cannot_run_are_one_clear_error(
    aws: tuple[Path, Plan], gcp: tuple[Path, Plan]
) -> None:
    with pytest.raises(DeployError, match="no Cloud Run option"):
        render_cloud_run(aws[1], image=CLOUD_RUN_IMAGE)
    with pytest.raises(DeployError, match="only an AWS Auto Scaling group"):
        render_vm(gcp[1])


# ---- the CLI ----


def test_the_cli_writes_each_alternative_and_rejects_what_it_cannot_render(
    aws: tuple[Path, Plan], gcp: tuple[Path, Plan], tmp_path: Path
) -> None:
    home = tmp_path / "ws"
    k8s = tmp_path / "k8s"
    run(
        "deploy", "render", str(aws[0]), "--out", str(k8s), "--autoscaler", "keda",
        "--crd-schemas", str(CRD_SCHEMAS), home=home,
    )  # fmt: skip
    assert list(k8s.glob("*-scaledobject-*.yaml")) and not list(k8s.glob("*horizontal*"))
    nodes = tmp_path / "node-groups"
    result = run(
        "deploy", "node-groups", str(aws[0]), "--out", str(nodes),
        "--crd-schemas", str(CRD_SCHEMAS), home=home,
    )  # fmt: skip
    assert "cfn-lint clean" in result.stdout and (nodes / "NOTES.md").is_file()
    assert yaml.safe_load((nodes / "eks-node-groups.yaml").read_text())["Resources"]
    vm = tmp_path / "vm" / "template.yaml"
    result = run("deploy", "vm", str(aws[0]), "--out", str(vm), home=home)
    assert "cfn-lint clean" in result.stdout and "AutoScalingGroup" in vm.read_text()
    service = tmp_path / "service.yaml"
    run(
        "deploy", "cloud-run", str(gcp[0]), "--image", CLOUD_RUN_IMAGE, "--out", str(service),
        home=home,
    )  # fmt: skip
    assert check_cloud_run(yaml.safe_load(service.read_text())) == []
    for args in (
        ("cloud-run", str(aws[0]), "--image", CLOUD_RUN_IMAGE, "--out", str(tmp_path / "x")),
        ("vm", str(gcp[0]), "--out", str(tmp_path / "y.yaml")),
    ):
        result = run("deploy", *args, home=home, check=False)
        assert result.returncode == 2
        assert len(result.stderr.strip().splitlines()) == 1 and "plan again" in result.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "y.yaml").exists()
