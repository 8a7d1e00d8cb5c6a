"""mlcost audit and mlcost diff: planted waste found and priced, the plan's rendering clean,
SARIF valid, and the diff of today's manifests against the plan's equal to the waterfall's saving."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from mlcost.audit import (
    RULES,
    audit_cluster,
    diff,
    read_cluster,
    read_manifests,
    setup_from_cluster,
    to_sarif,
)
from mlcost.catalog import Catalog, load_shipped
from mlcost.cli.deploy import render_command
from mlcost.cli.plan import plan as plan_command
from mlcost.core import Plan, from_jsonable
from mlcost.cost import HOURS_PER_MONTH
from mlcost.deploy import kubernetes_option

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plan"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from planning_inputs import seed_workspace
from test_cli import run

ROOT = Path(__file__).resolve().parents[2]
WASTEFUL = Path(__file__).resolve().parent / "wasteful"
TODAY = ROOT / "examples" / "today-k8s"
SARIF_SCHEMA = ROOT.parent / "shared" / "data" / "sarif" / "sarif-schema-2.1.0.json"


def cli(home: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    return run(*args, home=home / "home", check=False)


# Every problem planted in tests/audit/wasteful: (rule, object), and whether it is priced.
PLANTED = {
    ("MLC002", "Certificate/api-tls"): False,
    ("MLC101", "Deployment/no-requests"): False,
    ("MLC102", "Deployment/no-requests"): False,
    ("MLC103", "Deployment/no-requests"): False,
    ("MLC105", "HorizontalPodAutoscaler/orphan"): False,
    ("MLC105", "HorizontalPodAutoscaler/debug-svc"): True,
    ("MLC106", "Deployment/no-requests"): False,
    ("MLC201", "NodePool/gpu"): False,
    ("MLC202", "Deployment/api-gateway"): True,
    ("MLC202", "DaemonSet/log-shipper"): True,
    ("MLC204", "Deployment/int8-on-gpu"): True,
    ("MLC205", "Deployment/bert-gpu"): True,
    ("MLC206", "NodePool/gpu"): False,
    ("MLC207", "NodePool/spot-cpu"): False,
    ("MLC208", "Deployment/spot-single"): False,
    ("MLC209", "Deployment/spot-single"): False,
    ("MLC210", "Job/embed-corpus"): False,
    ("MLC211", "Job/finetune-bert"): False,
    ("MLC212", "Job/finetune-bert"): False,
    ("MLC213", "Deployment/debug-svc"): False,
    ("MLC214", "StatefulSet/research-notebook"): True,
    ("MLC216", "Deployment/bert-gpu"): True,
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_shipped()


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Plan, Path]:
    """The reference workload planned on the demo's variants, and its rendering."""
    folder = tmp_path_factory.mktemp("audit")
    home = seed_workspace(folder / "ws")
    out = folder / "plan.json"
    plan_command(ROOT / "examples" / "workload.yaml", out=out, home=home)
    render_command(out, out=folder / "k8s", image="mlcost-serve:test", crd_schemas=None)
    return out, from_jsonable(Plan, json.loads(out.read_text())), folder / "k8s"


def test_broken_and_foreign_files_are_reported_per_file_and_the_rest_is_read() -> None:
    manifests = read_manifests([WASTEFUL, WASTEFUL / "missing.yaml"])
    problems = {Path(p.file).name: (p.line, p.message) for p in manifests.problems}
    assert problems["broken.yaml"][0] == 7 and "malformed YAML" in problems["broken.yaml"][1]
    assert "not a Kubernetes manifest" in problems["values.yaml"][1]
    assert problems["missing.yaml"] == (0, "no such file or folder")
    assert {m.ref for m in manifests.objects} >= {"Deployment/bert-gpu", "Job/finetune-bert"}
    line = next(m.line for m in manifests.objects if m.ref == "Deployment/int8-on-gpu")
    text = (WASTEFUL / "gpu-serving.yaml").read_text().splitlines()
    assert text[line - 1] == "apiVersion: apps/v1" and "int8-on-gpu" in text[line + 2]


def test_every_planted_problem_is_found_with_its_saving(catalog: Catalog) -> None:
    cluster = read_cluster(read_manifests([WASTEFUL]), catalog)
    findings = audit_cluster(cluster, catalog)
    found = {(f.rule.id, f.object): f for f in findings}
    missing = set(PLANTED) - set(found)
    assert not missing, missing
    for key, priced in PLANTED.items():
        saving = found[key].saving_usd_per_month
        assert (saving is not None and saving > 0) == priced, (key, saving)
        assert found[key].fix
    assert sum(1 for f in findings if f.rule.id == "MLC001") == 2


def test_savings_are_priced_from_the_catalog(catalog: Catalog) -> None:
    """Four replicas of a 2 GiB model, one T4 each: four share one GPU, three nodes saved."""
    findings = audit_cluster(read_cluster(read_manifests([WASTEFUL]), catalog), catalog)
    sharing = next(f for f in findings if f.rule.id == "MLC205")
    t4 = catalog.require_offer("g4dn.xlarge", region="us-east-1")
    assert sharing.saving_usd_per_month == pytest.approx(
        4 * t4.on_demand_usd_per_hour * HOURS_PER_MONTH * 0.75, abs=0.01
    )
    spot = next(f for f in findings if f.rule.id == "MLC216" and f.object == "Deployment/bert-gpu")
    assert t4.spot_usd_per_hour is not None
    assert spot.saving_usd_per_month is not None
    assert spot.saving_usd_per_month < 4 * t4.on_demand_usd_per_hour * HOURS_PER_MONTH


def test_the_plans_rendering_has_nothing_above_info(
    planned: tuple[Path, Plan, Path], catalog: Catalog
) -> None:
    findings = audit_cluster(read_cluster(read_manifests([planned[2]]), catalog), catalog)
    assert [f for f in findings if f.severity != "info"] == []


def test_sarif_output_validates_against_the_oasis_schema(catalog: Catalog) -> None:
    findings = audit_cluster(read_cluster(read_manifests([WASTEFUL]), catalog), catalog)
    sarif = to_sarif(findings, base=ROOT)
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.Draft4Validator(schema).validate(sarif)
    results = sarif["runs"][0]["results"]
    assert len(results) == len(findings)
    assert {r["level"] for r in results} == {"note", "warning", "error"}
    uri = results[-1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri.startswith("tests/audit/wasteful/")
    broken = sarif.copy()
    broken["runs"] = [{**sarif["runs"][0], "results": [{**results[0], "level": "severe"}]}]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(schema).validate(broken)


def test_cli_exit_code_follows_fail_on(tmp_path: Path, planned: tuple[Path, Plan, Path]) -> None:
    assert cli(tmp_path, ["audit", str(WASTEFUL), "--fail-on", "never"]).returncode == 0
    assert cli(tmp_path, ["audit", str(WASTEFUL)]).returncode == 1  # errors (MLC001, MLC209)
    clean = cli(tmp_path, ["audit", str(planned[2]), "--fail-on", "warning"])
    assert clean.returncode == 0, clean.stdout + clean.stderr
    out = tmp_path / "audit.sarif"
    result = cli(tmp_path, ["audit", str(WASTEFUL), "--format", "sarif", "--out", str(out)])
    assert result.returncode == 1 and json.loads(out.read_text())["version"] == "2.1.0"
    bad = cli(tmp_path, ["audit", str(WASTEFUL), "--fail-on", "critical"])
    assert bad.returncode == 2 and "critical" in bad.stdout + bad.stderr


def test_helm_template_output_on_stdin_is_read(catalog: Catalog) -> None:
    """`helm template chart | mlcost audit -`: one stream, `# Source:` comments between objects."""
    text = "".join(
        f"---\n# Source: chart/templates/{path.name}\n{path.read_text()}"
        for path in sorted(TODAY.glob("*.yaml"))
    )
    result = subprocess.run(
        [sys.executable, "-m", "mlcost", "audit", "-", "--format", "json"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    body = json.loads(result.stdout)
    assert result.returncode == 0
    assert {f["rule"] for f in body["findings"]} == {"MLC104", "MLC216"}
    assert {f["file"] for f in body["findings"]} == {"<stdin>"}


def test_cross_region_data_is_priced_from_the_workload_file(tmp_path: Path) -> None:
    workload = (ROOT / "examples" / "workload.yaml").read_text()
    path = tmp_path / "workload.yaml"
    head, tail = workload.split("\ndata_location:", 1)
    assert tail.splitlines()[2] == "  region: us-east-1"
    path.write_text(head + "\ndata_location:" + tail.replace("us-east-1", "eu-west-1", 1))
    result = cli(tmp_path, ["audit", str(TODAY), "--workload", str(path), "--format", "json"])
    cross = [f for f in json.loads(result.stdout)["findings"] if f["rule"] == "MLC215"]
    assert len(cross) == 1 and cross[0]["saving_usd_per_month"] > 0
    assert "eu-west-1" in cross[0]["message"]


def test_docs_list_every_rule_beside_its_peers() -> None:
    text = (ROOT / "docs" / "audit.md").read_text()
    for rule in RULES:
        assert f"| {rule.id} " in text, rule.id
        assert rule.name in text


def test_diff_of_todays_manifests_and_the_plans_is_the_waterfalls_saving(
    planned: tuple[Path, Plan, Path], catalog: Catalog
) -> None:
    """From the manifests' side, today -> the plan's Kubernetes option saves what the plan says.

    Both sides leave out the same traffic-driven lines (LCU, transfer) and the waterfall bills
    today's storage and transfer as the plan's; what remains is the model artifact's size
    in object storage (fp32 today, the plan's variant after), under a cent."""
    _, plan, rendered = planned
    today_bar = plan.waterfall[0]
    option = kubernetes_option(plan)
    expected = today_bar.monthly_usd - option.monthly_usd
    old = setup_from_cluster(read_cluster(read_manifests([TODAY]), catalog), "today")
    new = setup_from_cluster(read_cluster(read_manifests([rendered]), catalog), "plan")
    result = diff(old, new)
    assert -result.delta_usd == pytest.approx(expected, abs=0.01)
    assert result.lines[0].key == "compute: sentiment-api-serving"
    assert result.workloads[0][0] == "Deployment/sentiment-api"
    assert (
        "g4dn.xlarge" in result.workloads[0][1]
        and option.offer.instance_type in result.workloads[0][2]
    )


def test_diff_cli_prints_markdown_and_fails_above_the_threshold(
    tmp_path: Path, planned: tuple[Path, Plan, Path]
) -> None:
    plan_file, _, rendered = planned
    down = cli(tmp_path, ["diff", str(TODAY), str(rendered), "--fail-above-usd", "0"])
    assert down.returncode == 0 and down.stdout.startswith("### mlcost diff: $2,1")
    up = cli(
        tmp_path,
        [
            "diff",
            str(rendered),
            str(TODAY),
            "--fail-above-usd",
            "100",
            "--out",
            str(tmp_path / "c.md"),
        ],
    )
    assert up.returncode == 1 and "above --fail-above-usd 100" in up.stderr
    assert (tmp_path / "c.md").read_text() == up.stdout
    plans = cli(tmp_path, ["diff", str(plan_file), str(plan_file)])
    assert plans.returncode == 0 and "$0.00" in plans.stdout
    missing = cli(tmp_path, ["diff", str(tmp_path / "nope"), str(rendered)])
    assert missing.returncode == 2 and "not found" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = cli(tmp_path, ["diff", str(tmp_path / "empty"), str(rendered)])
    assert empty.returncode == 2 and "no Kubernetes objects" in empty.stderr


def test_a_pool_that_names_no_instance_type_is_priced_at_the_cheapest_it_allows(
    tmp_path: Path, catalog: Catalog
) -> None:
    (tmp_path / "pool.yaml").write_text(
        """apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: general}
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
        - {key: karpenter.k8s.aws/instance-family, operator: In, values: [c6i, c7i]}
        - {key: karpenter.k8s.aws/instance-cpu, operator: Gt, values: ["2"]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 3
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
        - {name: api, image: api:1, resources: {requests: {cpu: "3", memory: 4Gi}}}
"""
    )
    cluster = read_cluster(read_manifests([tmp_path]), catalog)
    pool = cluster.pool("general")
    assert pool is not None and pool.offer is not None
    allowed = [
        o
        for o in catalog.offers
        if o.region == "us-east-1"
        and o.instance_type.split(".")[0] in ("c6i", "c7i")
        and o.vcpus > 2
    ]
    assert (
        pool.offer.instance_type
        == min(allowed, key=lambda o: o.on_demand_usd_per_hour).instance_type
    )
    assert cluster.nodes["general"] == 3
    assert any("names no instance type" in note for note in cluster.cost.assumptions)
