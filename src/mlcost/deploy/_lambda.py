"""A serverless winner on AWS Lambda as an AWS SAM template, linted with cfn-lint.

The function is the same ``mlcost serve`` image as on Kubernetes, run by the
AWS Lambda Web Adapter (an extension in the image, see the Dockerfile): it
forwards each invocation to the server on port 8000 and waits for ``/readyz``
at init. One request at a time reaches an instance, so the server runs with a
batch cap of 1 and no queue delay (the billed duration the plan priced). The
memory size, architecture and function URL are the plan's.
"""

from __future__ import annotations

from typing import Any

from mlcost.core import DeployError, Plan, PlanOption
from mlcost.deploy._kubernetes import SERVE_PORT, Rendered

# Lambda's own limit on one invocation here: the server's request timeout and its start.
TIMEOUT_S = 30
BAKED_HOME = "/opt/mlcost-home"


def lambda_option(plan: Plan) -> PlanOption:
    """The plan's Lambda option: the winner if it is one, else the best serverless one weighed."""
    for option in (plan.winner, *plan.platforms):
        if option.platform == "serverless" and option.offer.provider == "aws":
            return option
    raise DeployError(
        "the plan weighed no AWS Lambda option; allow serverless in platform.allowed and plan again"
    )


def render_sam(plan: Plan) -> Rendered:
    """The SAM template (one object) that runs the plan's Lambda option, and its notes."""
    option = lambda_option(plan)
    spec = option.replica
    if spec is None:
        raise DeployError(
            "plan.json predates mlcost deploy (its options carry no pod spec); run mlcost plan again"
        )
    arch = "arm64" if "arm" in option.offer.instance_type else "x86_64"
    name = (
        "".join(part.capitalize() for part in plan.workload.replace("_", "-").split("-"))
        or "Mlcost"
    )
    command = [
        "--home", BAKED_HOME, "serve", "--variant", option.variant,
        "--host", "127.0.0.1", "--port", str(SERVE_PORT), "--max-batch-size", "1",
    ]  # fmt: skip
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": f"{plan.workload}: {option.label} (mlcost plan)",
        "Parameters": {
            "ImageUri": {
                "Type": "String",
                "Description": "The mlcost serve image in ECR (docker build with the Dockerfile)",
            }
        },
        "Resources": {
            name: {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "PackageType": "Image",
                    "ImageUri": {"Ref": "ImageUri"},
                    "ImageConfig": {"Command": command},
                    "MemorySize": int(spec.memory_mib),
                    "Architectures": [arch],
                    "Timeout": TIMEOUT_S,
                    "Environment": {
                        "Variables": {
                            "AWS_LWA_PORT": str(SERVE_PORT),
                            "AWS_LWA_READINESS_CHECK_PATH": "/readyz",
                        }
                    },
                    "FunctionUrlConfig": {"AuthType": "NONE"},
                    "Tags": {"mlcost:workload": plan.workload, "mlcost:variant": option.variant},
                },
            }
        },
        "Outputs": {
            "Url": {
                "Description": "The function URL (POST /v1/predict)",
                "Value": {"Fn::GetAtt": [f"{name}Url", "FunctionUrl"]},
            }
        },
    }
    notes = (
        f"rendering {option.label} (${option.monthly_usd:,.2f}/month as planned)",
        f"{int(spec.memory_mib)} MB, {arch}, function URL without auth (as priced: put auth in "
        "front or set AuthType AWS_IAM)",
        "one request per instance: the server runs with a batch cap of 1 and no queue delay",
    )
    return Rendered((template,), notes)


def lint_sam(text: str, *, region: str) -> list[str]:
    """cfn-lint's findings on a template's text, one line each (empty: clean)."""
    try:
        from cfnlint.api import ManualArgs, lint
    except ImportError as exc:
        from mlcost.core import MissingDependencyError

        raise MissingDependencyError(
            "linting the SAM template needs cfn-lint: pip install 'mlcost[deploy]'"
        ) from exc
    matches = lint(text, config=ManualArgs(regions=[region]))
    return [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches]
