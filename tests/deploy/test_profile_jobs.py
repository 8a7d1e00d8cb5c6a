"""mlcost deploy profile-jobs: a Job per machine type the plan estimated, measuring into the store."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import test_render
from test_render import CRD_SCHEMAS, IMAGE, ROOT, run

from mlcost.catalog import load_catalog
from mlcost.core import DB_URL_ENV, DeployError, Plan, PlanOption, Store, Variant
from mlcost.deploy import (
    KUBERNETES_VERSION,
    kubernetes_option,
    render_profile_jobs,
    validate_objects,
)
from mlcost.deploy._kubernetes import eks_allocatable
from mlcost.plan import Unfit, load_workload, plan_serving, replica_speed
from mlcost.runtime import artifact_bytes

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plan"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from planning_inputs import profile as elsewhere_profile
from tiny_model import build_tiny_bert, write_sentiment_csv

planned = test_render.planned  # the demo plan, planned once per module
MLCOST = str(Path(sys.executable).with_name("mlcost"))
MODEL, DATA = "builtin:demo-teacher", "builtin:sentiment"
_TYPE = "node.kubernetes.io/instance-type"


def _jobs(objects: tuple[dict[str, Any], ...]) -> dict[str, dict[str, Any]]:
    """The Jobs by the instance type they select."""
    jobs = [o for o in objects if o["kind"] == "Job"]
    by_type = {j["spec"]["template"]["spec"]["nodeSelector"][_TYPE]: j for j in jobs}
    assert len(by_type) == len(jobs), "two Jobs select one instance type"
    return by_type


def _machine_options(plan: Plan) -> list[PlanOption]:
    return [
        o
        for o in (plan.winner, *plan.platforms, *plan.runners_up, *plan.pareto)
        if o.platform != "serverless"
    ]


def test_every_object_validates_strictly_and_each_estimated_type_gets_one_job(
    planned: tuple[Path, Plan],
) -> None:
    plan = planned[1]
    rendered = render_profile_jobs(plan, image=IMAGE, model=MODEL, data=DATA)
    problems = validate_objects(
        rendered.objects, kubernetes_version=KUBERNETES_VERSION, crd_schemas=CRD_SCHEMAS
    )
    assert problems == []
    jobs = _jobs(rendered.objects)
    options = _machine_options(plan)
    estimated = {o.offer.instance_type for o in options if o.speed_basis == "estimated"}
    kubernetes = {o.offer.instance_type for o in options if o.platform == "kubernetes"}
    assert set(jobs) == estimated | kubernetes
    assert "lambda-x86" not in jobs and any(o.offer.has_accelerator for o in options)
    (pool,) = [o for o in rendered.objects if o["kind"] == "NodePool"]
    requirements = {r["key"]: r["values"] for r in pool["spec"]["template"]["spec"]["requirements"]}
    assert set(requirements[_TYPE]) == set(jobs)
    assert requirements["karpenter.sh/capacity-type"] == ["on-demand"]
    for instance_type, job in jobs.items():
        option = next(o for o in options if o.offer.instance_type == instance_type)
        offer, spec = option.offer, option.replica
        assert spec is not None
        pod = job["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert pod["nodeSelector"]["karpenter.sh/capacity-type"] == "on-demand"
        assert pod["restartPolicy"] == "Never" and pod["securityContext"]["runAsNonRoot"]
        assert job["spec"]["backoffLimit"] <= 2 and job["spec"]["activeDeadlineSeconds"] > 0
        assert job["spec"]["ttlSecondsAfterFinished"] > 0
        assert job["metadata"]["labels"]["mlcost.dev/instance-type"] == instance_type
        assert job["metadata"]["labels"][f"variant.mlcost.dev/{option.variant}"] == "true"
        # The whole node as serving's fitting sizes it: no second pod of the kind fits beside it.
        cpu_m, memory_mib = eks_allocatable(offer)
        resources = container["resources"]
        assert resources["requests"] == {
            "cpu": f"{cpu_m // 10 * 10}m",
            "memory": f"{int(memory_mib)}Mi",
        }
        assert resources["limits"]["cpu"] == f"{offer.vcpus:g}"
        assert cpu_m > offer.vcpus * 1000 / 2
        env = {e["name"]: e for e in container["env"]}
        assert env["MLCOST_INSTANCE_TYPE"]["value"] == instance_type
        assert env[DB_URL_ENV]["valueFrom"]["secretKeyRef"] == {
            "name": "mlcost-store",
            "key": "url",
        }
        args = container["args"]
        assert args[2:4] == ["profile", "measure"] and option.variant in args
        assert args[args.index("--threads") + 1] == str(round(spec.vcpus))
        tolerated = {t["key"] for t in pod["tolerations"]}
        if offer.has_accelerator:
            assert resources["limits"]["nvidia.com/gpu"] == str(spec.accelerators)
            assert "nvidia.com/gpu" in tolerated
            assert args[args.index("--device") + 1] == "cuda"
        else:
            assert "nvidia.com/gpu" not in resources["limits"] and "--device" not in args
        assert "mlcost.dev/profiling" in tolerated


def test_a_plan_with_nothing_to_measure_or_no_pod_specs_is_one_clear_error(
    planned: tuple[Path, Plan],
) -> None:
    plan = planned[1]
    serverless = tuple(o for o in plan.platforms if o.platform == "serverless")
    with pytest.raises(DeployError, match="no machine type this cluster can measure"):
        render_profile_jobs(
            dataclasses.replace(
                plan, winner=serverless[0], platforms=serverless, runners_up=(), pareto=()
            ),
            image=IMAGE,
            model=MODEL,
            data=DATA,
        )
    old = dataclasses.replace(_machine_options(plan)[0], replica=None)
    with pytest.raises(DeployError, match="run mlcost plan again"):
        render_profile_jobs(
            dataclasses.replace(plan, platforms=(old,)), image=IMAGE, model=MODEL, data=DATA
        )


def test_the_cli_writes_a_valid_folder_and_rejects_a_bad_plan(
    planned: tuple[Path, Plan], tmp_path: Path
) -> None:
    out = tmp_path / "k8s-profile"
    args = ("deploy", "profile-jobs", str(planned[0]), "--out", str(out))
    result = run(*args, "--crd-schemas", str(CRD_SCHEMAS), home=tmp_path / "ws")
    assert "profiling Job(s)" in result.stdout and "then plan again" in result.stdout
    written = sorted(p.name for p in out.glob("*.yaml"))
    assert written[0].startswith("01-nodepool-") and len(written) == 1 + len(
        _jobs(render_profile_jobs(planned[1], image=IMAGE, model=MODEL, data=DATA).objects)
    )
    assert (out / "NOTES.md").is_file()
    bad = tmp_path / "bad.json"
    bad.write_text('{"workload": 3}')
    result = run(*args[:2], str(bad), "--out", str(out), home=tmp_path / "ws", check=False)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "run mlcost plan again" in result.stderr
    assert sorted(p.name for p in out.glob("*.yaml")) == written  # the folder from before


@pytest.mark.slow
@pytest.mark.postgres
def test_a_job_s_command_writes_its_profile_to_postgres_and_the_plan_then_takes_it_as_measured(
    postgres_database: str, tmp_path: Path
) -> None:
    model = build_tiny_bert(tmp_path / "model")
    data = write_sentiment_csv(tmp_path / "data.csv", rows=120)
    baseline = Variant(
        name="baseline",
        format="torch",
        precision="fp32",
        method="baseline",
        path=str(model),
        size_bytes=artifact_bytes(model),
        parameter_count=100_000,
        recipe={"key": "tiny", "max_length": 64},
    )
    # The reference workload with room in its SLO for the tail a busy test machine measures.
    example = (ROOT / "examples" / "workload.yaml").read_text()
    assert example.count("latency_ms: 150") == 1
    workload_file = tmp_path / "workload.yaml"
    workload_file.write_text(example.replace("latency_ms: 150", "latency_ms: 1000"))
    workload = load_workload(workload_file)
    with Store.open(postgres_database) as store:
        store.save_variant(baseline)
        # Measured on another machine: every type in the plan is estimated from it.
        store.record_profile(elsewhere_profile("baseline", 25.9, 0.8686))
        catalog = load_catalog(store)
        plan = plan_serving(
            workload, variants=store.variants(), profiles=store.profiles(), catalog=catalog
        )
    option = kubernetes_option(plan)
    assert option.speed_basis == "estimated" and not option.offer.has_accelerator
    instance_type = option.offer.instance_type
    rendered = render_profile_jobs(plan, image=IMAGE, model=str(model), data=str(data))
    (container,) = _jobs(rendered.objects)[instance_type]["spec"]["template"]["spec"]["containers"]
    # The container's command as the pod runs it, with the home on this machine and the
    # store the Secret would hold.
    args = list(container["args"])
    args[args.index("--home") + 1] = str(tmp_path / "home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCOST_")}
    env |= {e["name"]: e["value"] for e in container["env"] if "value" in e}
    env[DB_URL_ENV] = postgres_database
    result = subprocess.run(
        [MLCOST, *args], capture_output=True, text=True, env=env, check=False, timeout=300
    )
    assert result.returncode == 0, result.stderr
    with Store.open(postgres_database) as store:
        profiles = store.profiles()
    (measured,) = [p for p in profiles if p.hardware.instance_type == instance_type]
    assert measured.basis == "measured" and measured.variant_key == "tiny"
    speed = replica_speed(measured, baseline, option.offer)
    assert not isinstance(speed, Unfit)
    assert speed.basis == "measured" and instance_type in speed.method
    # Planned again on that type (and today's, where the waterfall starts) alone, so that its
    # Kubernetes option is in the plan whatever the measurement makes cheapest elsewhere.
    assert workload.current is not None
    kept = {instance_type, workload.current.instance_type}
    offers = tuple(o for o in catalog.offers if o.instance_type in kept)
    replanned = plan_serving(
        workload,
        variants=[baseline],
        profiles=profiles,
        catalog=dataclasses.replace(catalog, offers=offers),
    )
    again = kubernetes_option(replanned)
    assert again.offer.instance_type == instance_type
    assert again.speed_basis == "measured" and again.confirm_by == ""
