"""mlcost deploy render: the plan's Kubernetes option as strict-valid manifests that keep the plan."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlcost.cli.plan import plan as plan_command
from mlcost.core import DeployError, Plan, from_jsonable
from mlcost.deploy import (
    KUBERNETES_VERSION,
    kubernetes_option,
    lambda_option,
    lint_sam,
    render_kubernetes,
    render_sam,
    validate_objects,
    write_manifests,
)
from mlcost.serve import ServeConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plan"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from planning_inputs import seed_workspace
from test_cli import run

ROOT = Path(__file__).resolve().parents[2]
CRD_SCHEMAS = ROOT.parent / "shared" / "data" / "k8s-crd-schemas"
GOLDEN = Path(__file__).resolve().parent / "golden"
IMAGE = "mlcost-serve:test"
# MLCOST_UPDATE_GOLDEN=1 pytest tests/deploy rewrites the golden files from this rendering.
UPDATE_GOLDEN = os.environ.get("MLCOST_UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Plan]:
    """The reference workload planned on the demo's variants and profiles (as compress leaves them)."""
    folder = tmp_path_factory.mktemp("deploy")
    home = seed_workspace(folder / "ws")
    out = folder / "plan.json"
    plan_command(ROOT / "examples" / "workload.yaml", out=out, home=home)
    return out, from_jsonable(Plan, json.loads(out.read_text()))


def _by_kind(objects: tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def test_every_rendered_object_validates_strictly(planned: tuple[Path, Plan]) -> None:
    rendered = render_kubernetes(planned[1], image=IMAGE)
    kinds = {o["kind"] for o in rendered.objects}
    assert {"Deployment", "Service", "Ingress", "HorizontalPodAutoscaler"} <= kinds
    assert {"PodDisruptionBudget", "ServiceMonitor", "NodePool", "EC2NodeClass"} <= kinds
    assert (
        validate_objects(
            rendered.objects, kubernetes_version=KUBERNETES_VERSION, crd_schemas=CRD_SCHEMAS
        )
        == []
    )


def test_validation_catches_unknown_fields_and_bad_values(planned: tuple[Path, Plan]) -> None:
    objects = copy.deepcopy(list(render_kubernetes(planned[1], image=IMAGE).objects))
    _by_kind(tuple(objects), "Deployment")[0]["spec"]["template"]["spec"]["containers"][0][
        "memoryy"
    ] = "1Gi"
    _by_kind(tuple(objects), "NodePool")[0]["spec"]["disruption"]["consolidationPolicy"] = "Never"
    _by_kind(tuple(objects), "ServiceMonitor")[0]["spec"]["endpoints"][0]["portt"] = "http"
    problems = validate_objects(
        objects, kubernetes_version=KUBERNETES_VERSION, crd_schemas=CRD_SCHEMAS
    )
    assert len(problems) == 3
    for planted in ("'memoryy' was unexpected", "'Never' is not one of", "'portt' was unexpected"):
        assert sum(planted in line for line in problems) == 1, problems
    # Without a CRD folder the built-in kinds (networking.k8s.io's Ingress too) are still checked.
    _by_kind(tuple(objects), "Ingress")[0]["spec"]["rulez"] = []
    unchecked = validate_objects(objects, kubernetes_version=KUBERNETES_VERSION, crd_schemas=None)
    assert len(unchecked) == 2
    assert any("memoryy" in line for line in unchecked) and any(
        "rulez" in line for line in unchecked
    )
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert (
        "no CRD schema"
        in validate_objects(
            [unknown], kubernetes_version=KUBERNETES_VERSION, crd_schemas=CRD_SCHEMAS
        )[0]
    )


def test_the_pod_keeps_the_plan_and_the_drain_chain(planned: tuple[Path, Plan]) -> None:
    plan = planned[1]
    option = kubernetes_option(plan)
    spec = option.replica
    assert spec is not None
    rendered = render_kubernetes(plan, image=IMAGE)
    deployment = _by_kind(rendered.objects, "Deployment")[0]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    resources = container["resources"]
    # Memory: request = limit, above the measured peak.
    assert resources["requests"]["memory"] == resources["limits"]["memory"]
    assert int(resources["requests"]["memory"].removesuffix("Mi")) > spec.memory_mib
    # CPU: request fitted to the node, below the limit.
    request_m = int(resources["requests"]["cpu"].removesuffix("m"))
    assert request_m < float(resources["limits"]["cpu"]) * 1000 <= option.offer.vcpus * 1000
    assert [
        p["httpGet"]["path"] for p in (container["readinessProbe"], container["livenessProbe"])
    ] == [
        "/readyz",
        "/livez",
    ]
    assert deployment["spec"]["replicas"] == option.replicas_min
    assert pod["nodeSelector"] == {"karpenter.sh/nodepool": "sentiment-api-serving"}
    # The serve.yaml the pod runs: the plan's variant and batching, and a drain inside the grace.
    config = ServeConfig.model_validate(
        yaml.safe_load(_by_kind(rendered.objects, "ConfigMap")[0]["data"]["serve.yaml"])
    )
    assert config.tiers[0].variant == option.variant
    assert config.tiers[0].batching.max_batch_size == spec.max_batch_size
    assert config.host == "0.0.0.0"
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    chain = pre_stop + config.limits.request_timeout_s + config.shutdown.flush_s
    grace = pod["terminationGracePeriodSeconds"]
    assert config.shutdown.grace_period_s == grace
    pool = next(o for o in rendered.objects if o["metadata"]["name"] == "sentiment-api-serving")
    karpenter = int(pool["spec"]["template"]["spec"]["terminationGracePeriod"].removesuffix("s"))
    assert chain < grace <= karpenter < 120
    # The autoscaler holds the per-pod request rate the plan simulated.
    hpa = _by_kind(rendered.objects, "HorizontalPodAutoscaler")[0]["spec"]
    assert hpa["minReplicas"] == option.replicas_min
    target = hpa["metrics"][0]["pods"]["target"]["averageValue"]
    assert int(target) == int(spec.target_requests_per_s)
    # Spot as planned, and the note that too few types stop spot-to-spot consolidation.
    requirements = {r["key"]: r["values"] for r in pool["spec"]["template"]["spec"]["requirements"]}
    capacity = requirements["karpenter.sh/capacity-type"]
    assert capacity == (["spot"] if option.pricing == "spot" else ["on-demand"])
    if option.pricing == "spot" and len(option.spot_types) < 15:
        assert any("15 or more" in note for note in rendered.notes)


def test_a_gpu_option_gets_a_tainted_pool_and_only_its_pods_tolerate_it(
    planned: tuple[Path, Plan],
) -> None:
    plan = planned[1]
    option = kubernetes_option(plan)
    assert option.replica is not None
    gpu = dataclasses.replace(option, replica=dataclasses.replace(option.replica, accelerators=1))
    rendered = render_kubernetes(dataclasses.replace(plan, winner=gpu), image=IMAGE)
    pod = _by_kind(rendered.objects, "Deployment")[0]["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    pool = next(o for o in rendered.objects if o["metadata"]["name"] == "sentiment-api-serving")
    assert pool["spec"]["template"]["spec"]["taints"][0]["key"] == "nvidia.com/gpu"
    assert pool["spec"]["disruption"]["consolidationPolicy"] == "WhenEmpty"
    assert (
        validate_objects(
            rendered.objects, kubernetes_version=KUBERNETES_VERSION, crd_schemas=CRD_SCHEMAS
        )
        == []
    )


def test_a_plan_without_kubernetes_or_pod_specs_is_one_clear_error(
    planned: tuple[Path, Plan],
) -> None:
    plan = planned[1]
    others = tuple(o for o in plan.platforms if o.platform != "kubernetes")
    serverless = next(o for o in others if o.platform == "serverless")
    with pytest.raises(DeployError, match="allow kubernetes"):
        kubernetes_option(dataclasses.replace(plan, winner=serverless, platforms=others))
    old = dataclasses.replace(kubernetes_option(plan), replica=None)
    with pytest.raises(DeployError, match="run mlcost plan again"):
        render_kubernetes(dataclasses.replace(plan, winner=old), image=IMAGE)


def test_the_demo_plan_renders_as_its_golden_files(
    planned: tuple[Path, Plan], tmp_path: Path
) -> None:
    rendered = render_kubernetes(planned[1], image=IMAGE)
    files = write_manifests(tmp_path / "k8s", rendered.objects, rendered.notes)
    if UPDATE_GOLDEN:
        for old in GOLDEN.glob("*"):
            old.unlink()
        GOLDEN.mkdir(exist_ok=True)
        for path in [*files, tmp_path / "k8s" / "NOTES.md"]:
            (GOLDEN / path.name).write_text(path.read_text())
    expected = sorted(p.name for p in GOLDEN.glob("*"))
    assert sorted(p.name for p in (tmp_path / "k8s").iterdir()) == expected, (
        "the rendering changed; review it, then MLCOST_UPDATE_GOLDEN=1 pytest tests/deploy"
    )
    for name in expected:
        assert (tmp_path / "k8s" / name).read_text() == (GOLDEN / name).read_text(), (
            f"{name} changed; review it, then MLCOST_UPDATE_GOLDEN=1 pytest tests/deploy"
        )


def test_the_cli_writes_a_valid_folder_and_rejects_a_bad_plan(
    planned: tuple[Path, Plan], tmp_path: Path
) -> None:
    out = tmp_path / "k8s"
    result = run(
        "deploy",
        "render",
        str(planned[0]),
        "--out",
        str(out),
        "--crd-schemas",
        str(CRD_SCHEMAS),
        home=tmp_path / "ws",
    )
    assert "custom resources against their CRD schemas" in result.stdout
    assert len(list(out.glob("*.yaml"))) >= 10 and (out / "NOTES.md").is_file()
    bad = tmp_path / "bad.json"
    bad.write_text('{"workload": 3}')
    result = run("deploy", "render", str(bad), "--out", str(out), home=tmp_path / "ws", check=False)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "run mlcost plan again" in result.stderr
    assert len(list(out.glob("*.yaml"))) >= 10  # the folder from before is intact


def test_the_dockerfile_installs_exactly_as_make_does() -> None:
    """The image cannot be built here (no container daemon): its install is checked instead."""
    makefile = (ROOT / "Makefile").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    make_install = re.findall(r"^\tbash scripts/install\.sh \S+ \S+ (.+)$", makefile, re.M)
    docker_install = re.findall(r"^RUN bash scripts/install\.sh \S+ \S+ (\S+)", dockerfile, re.M)
    assert make_install == ["-e '.[dev]'"] and docker_install == ["'.[serve]'"]
    # The same pinned constraints go in, and the script is the only install step in either.
    assert "COPY pyproject.toml constraints.txt" in dockerfile
    assert "pip install" not in dockerfile and "pip install" not in makefile
    assert "USER 10001" in dockerfile  # non-root, the uid the Deployment runs as


def test_a_lambda_option_is_a_cfn_lint_clean_sam_template_as_priced(
    planned: tuple[Path, Plan], tmp_path: Path
) -> None:
    plan = planned[1]
    option = lambda_option(plan)
    assert option.replica is not None
    template = render_sam(plan).objects[0]
    function = next(iter(template["Resources"].values()))["Properties"]
    assert function["MemorySize"] == int(option.replica.memory_mib)
    assert function["FunctionUrlConfig"] == {"AuthType": "NONE"}  # the free door the plan priced
    command = function["ImageConfig"]["Command"]
    assert command[command.index("--variant") + 1] == option.variant
    assert command[command.index("--max-batch-size") + 1] == "1"  # one request per instance
    text = yaml.safe_dump(template, sort_keys=False)
    assert lint_sam(text, region=option.offer.region) == []
    function["MemorySizee"] = 2048  # a typo cfn-lint must catch
    assert any(
        "MemorySizee" in line for line in lint_sam(yaml.safe_dump(template), region="us-east-1")
    )
    out = tmp_path / "lambda" / "template.yaml"
    result = run("deploy", "sam", str(planned[0]), "--out", str(out), home=tmp_path / "ws")
    assert "cfn-lint clean" in result.stdout and yaml.safe_load(out.read_text()) is not None


def test_the_single_variant_server_takes_a_batch_cap_of_one_without_delay() -> None:
    from mlcost.serve import single_variant_config

    config = single_variant_config("int8-dynamic", "127.0.0.1", 8000, max_batch_size=1)
    assert config.tiers[0].batching.max_batch_size == 1
    assert config.tiers[0].batching.max_queue_delay_ms == 0.0
    default = single_variant_config("int8-dynamic", "127.0.0.1", 8000)
    assert default.tiers[0].batching.max_queue_delay_ms > 0
