"""mlcost deploy train-job: a training workload as a spot Indexed Job that validates strictly,
restarts a preempted pod without counting it, and stops within the spot notice."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from mlcost.catalog import load_catalog
from mlcost.cli import _app
from mlcost.core import DeployError, Offer, TrainingWorkload
from mlcost.deploy import KUBERNETES_VERSION, render_training_job, validate_objects
from mlcost.plan import load_training_workload
from mlcost.serve import NOTICE_WINDOW_S
from mlcost.train import EXIT_PREEMPTED

ROOT = Path(__file__).resolve().parents[2]
MLCOST = str(Path(sys.executable).with_name("mlcost"))
IMAGE = "mlcost-serve:test"
URL = "s3://training-bucket/sentiment"


@pytest.fixture(scope="module")
def workload() -> TrainingWorkload:
    """examples/training.yaml: 2 x g5.xlarge (one A10G each) in aws us-east-1."""
    return load_training_workload(ROOT / "examples" / "training.yaml")


def offer_for(workload: TrainingWorkload) -> Offer:
    spec = workload.training
    return load_catalog().require_offer(
        spec.instance_type, region=spec.region, provider=spec.provider
    )


def on(workload: TrainingWorkload, **changes: Any) -> TrainingWorkload:
    """The workload with its training section changed."""
    return workload.model_copy(update={"training": workload.training.model_copy(update=changes)})


def render(workload: TrainingWorkload, **kwargs: Any) -> tuple[dict[str, Any], ...]:
    kwargs.setdefault("checkpoint_url", URL)
    return render_training_job(workload, offer_for(workload), image=IMAGE, **kwargs).objects


def by_kind(objects: tuple[dict[str, Any], ...], kind: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind]
    return found


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_every_object_validates_strictly_and_a_planted_error_is_caught(
    workload: TrainingWorkload,
) -> None:
    objects = render(workload, train_args=["--epochs", "3"])
    assert [o["kind"] for o in objects] == ["ServiceAccount", "Service", "Job"]
    assert validate_objects(objects, kubernetes_version=KUBERNETES_VERSION, crd_schemas=None) == []
    cpu = render(on(workload, instance_type="c6i.2xlarge"))
    assert validate_objects(cpu, kubernetes_version=KUBERNETES_VERSION, crd_schemas=None) == []
    # kubernetes-validate stops at an object's first problem: one planted in each.
    planted = copy.deepcopy(list(objects))
    planted[1]["spec"]["publishNotReadyAddresses"] = "yes"
    job = planted[2]["spec"]
    job["podFailurePolicy"]["rules"][0]["onExitCodes"]["containerNamee"] = "trainer"
    problems = validate_objects(planted, kubernetes_version=KUBERNETES_VERSION, crd_schemas=None)
    assert len(problems) == 2, problems
    assert any("'containerNamee' was unexpected" in line for line in problems)
    assert any("publishNotReadyAddresses: 'yes'" in line for line in problems)


def test_a_preempted_or_evicted_pod_is_recreated_without_counting_as_a_failure(
    workload: TrainingWorkload,
) -> None:
    job = by_kind(render(workload), "Job")["spec"]
    assert job["completionMode"] == "Indexed"
    assert job["completions"] == job["parallelism"] == workload.training.nodes
    assert job["template"]["spec"]["restartPolicy"] == "Never"
    assert job["podReplacementPolicy"] == "Failed"  # never two pods of one node rank
    assert 0 < job["backoffLimit"] <= 5
    rules = job["podFailurePolicy"]["rules"]
    container = job["template"]["spec"]["containers"][0]["name"]
    preempted = {"containerName": container, "operator": "In", "values": [EXIT_PREEMPTED]}
    assert {"action": "Ignore", "onExitCodes": preempted} in rules
    evicted = [{"type": "DisruptionTarget", "status": "True"}]
    assert {"action": "Ignore", "onPodConditions": evicted} in rules
    # Everything else counts, and the rule that counts comes after the ones that ignore.
    assert rules[-1]["action"] == "Count"
    assert rules[-1]["onExitCodes"] == {
        "containerName": container,
        "operator": "NotIn",
        "values": [0, EXIT_PREEMPTED],
    }


def test_each_pod_runs_torchrun_under_the_wrapper_and_meets_at_pod_0(
    workload: TrainingWorkload,
) -> None:
    objects = render(workload, train_args=["--epochs", "3", "--batch-size", "16"])
    job, service = by_kind(objects, "Job"), by_kind(objects, "Service")
    pod = job["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    # The image's entrypoint is mlcost: `mlcost torchrun`, the command that keeps exit 75.
    assert args[0] == "torchrun"
    assert "torchrun" in typer.main.get_command(_app.app).commands  # type: ignore[attr-defined]
    assert option(args, "--nnodes") == str(workload.training.nodes)
    assert option(args, "--nproc-per-node") == "1"  # one A10G per g5.xlarge
    assert option(args, "--max-restarts") == "0"
    assert option(args, "--node-rank") == "$(NODE_RANK)"
    (rank,) = [e for e in pod["containers"][0]["env"] if e["name"] == "NODE_RANK"]
    assert "job-completion-index" in rank["valueFrom"]["fieldRef"]["fieldPath"]
    # Pod 0's DNS name: the Job's hostname in the headless Service's subdomain.
    name = job["metadata"]["name"]
    assert option(args, "--master-addr") == f"{name}-0.{service['metadata']['name']}"
    assert pod["subdomain"] == service["metadata"]["name"]
    assert service["spec"]["clusterIP"] == "None"
    assert (
        service["spec"]["selector"].items() <= job["spec"]["template"]["metadata"]["labels"].items()
    )
    train = args[args.index("train") :]
    assert option(train, "--checkpoint-url") == URL
    assert train[-4:] == ["--epochs", "3", "--batch-size", "16"]
    assert pod["nodeSelector"] == {
        "karpenter.sh/capacity-type": "spot",
        "node.kubernetes.io/instance-type": "g5.xlarge",
    }
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True


def test_the_stop_chain_fits_the_notice_and_a_slow_checkpoint_is_refused(
    workload: TrainingWorkload,
) -> None:
    pod = by_kind(render(workload, step_s=12), "Job")["spec"]["template"]["spec"]
    shutdown_s = int(option(pod["containers"][0]["args"], "--shutdown-timeout"))
    grace_s = pod["terminationGracePeriodSeconds"]
    assert 12 + workload.training.checkpoint_write_s < shutdown_s < grace_s
    assert grace_s < NOTICE_WINDOW_S["aws"]
    # GCP warns 30 s ahead: a 60 s checkpoint write cannot be saved in time.
    gcp = on(workload, provider="gcp", region="us-central1", instance_type="g2-standard-4")
    with pytest.raises(DeployError, match="does not fit gcp's 30 s spot notice"):
        render(gcp)
    assert render(on(gcp, checkpoint_write_s=5), step_s=5)  # 5 + 5 + headroom fits


def test_gpu_nodes_get_their_gpus_and_cpu_nodes_none(workload: TrainingWorkload) -> None:
    gpu = by_kind(render(on(workload, instance_type="g5.12xlarge")), "Job")
    pod = gpu["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "4"
    assert option(container["args"], "--nproc-per-node") == "4"
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    assert {"name": "shm", "mountPath": "/dev/shm"} in container["volumeMounts"]
    cpu = by_kind(render(on(workload, instance_type="c6i.2xlarge")), "Job")
    pod = cpu["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert "nvidia.com/gpu" not in container["resources"]["limits"] and "tolerations" not in pod
    assert option(container["args"], "--nproc-per-node") == "1"
    # The whole node: the request is what an 8-vCPU node leaves after the kubelet's share.
    assert 7000 < int(container["resources"]["requests"]["cpu"].removesuffix("m")) < 8000


def test_inputs_the_job_cannot_run_are_refused(workload: TrainingWorkload) -> None:
    with pytest.raises(DeployError, match="not object storage"):
        render(workload, checkpoint_url="runs/checkpoints")
    with pytest.raises(DeployError, match="--out is set by the Job"):
        render(workload, train_args=["--out=/elsewhere"])
    with pytest.raises(DeployError, match=r"the workload runs on g5\.xlarge"):
        render_training_job(
            workload,
            offer_for(on(workload, instance_type="c6i.2xlarge")),
            image=IMAGE,
            checkpoint_url=URL,
        )


def mlcost(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLCOST_DB_URL", "MLCOST_DEBUG")}
    return subprocess.run(
        [MLCOST, *args],
        capture_output=True,
        text=True,
        env={**env, "MLCOST_HOME": str(home)},
        timeout=60,
        check=False,
    )


def test_the_cli_writes_a_valid_folder_and_bad_input_is_one_line(tmp_path: Path) -> None:
    out, home = tmp_path / "k8s-train", tmp_path / "ws"
    training = str(ROOT / "examples" / "training.yaml")
    result = mlcost(
        "deploy", "train-job", training, "--checkpoint-url", URL, "--out", str(out),
        "--", "--epochs", "3", home=home,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "3 manifests written" in result.stdout and "stop chain" in result.stdout
    files = sorted(out.glob("*.yaml"))
    assert [f.name for f in files] == [
        "01-serviceaccount-sentiment-finetune-trainer.yaml",
        "02-service-sentiment-finetune-rdzv.yaml",
        "03-job-sentiment-finetune.yaml",
    ]
    objects = [yaml.safe_load(f.read_text()) for f in files]
    assert validate_objects(objects, kubernetes_version=KUBERNETES_VERSION, crd_schemas=None) == []
    assert "exit chain" in (out / "NOTES.md").read_text()
    for bad, says in (
        (["--checkpoint-url", URL, "--", "--epoch", "3"], "No such option: --epoch"),
        (["--checkpoint-url", URL, "--", "--epochs", "0"], "--epochs"),
        (["--checkpoint-url", "./ckpt"], "not object storage"),
        (["--checkpoint-url", URL, "--step-s", "90"], "does not fit aws's 120 s spot notice"),
    ):
        result = mlcost("deploy", "train-job", training, *bad, "--out", str(out), home=home)
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and says in result.stderr
    assert sorted(out.glob("*.yaml")) == files  # the folder from before is intact
