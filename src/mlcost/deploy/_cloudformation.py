"""A rendered CloudFormation template as the text to write, once cfn-lint finds nothing in it."""

from __future__ import annotations

from typing import Any

from mlcost.core import DeployError
from mlcost.deploy._lambda import lint_sam


def cloudformation_text(template: dict[str, Any], *, region: str) -> str:
    """The template as YAML (user data and other scripts as literal blocks, readable as
    written); raises DeployError naming cfn-lint's first findings for ``region``, so that
    nothing unclean is written."""
    text = dump_template(template)
    problems = lint_sam(text, region=region)  # cfn-lint: SAM or plain CloudFormation alike
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise DeployError("cfn-lint: " + "; ".join(problems[:3]) + more)
    return text


def ec2_role(*policies: str) -> dict[str, Any]:
    """An IAM role EC2 instances assume, with AWS managed ``policies`` attached."""
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
            "ManagedPolicyArns": [
                {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::aws:policy/{policy}"}
                for policy in policies
            ],
        },
    }


def dump_template(template: dict[str, Any]) -> str:
    """The template as YAML, multi-line strings as ``|`` blocks, and a value used twice
    written twice: CloudFormation rejects YAML aliases."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    def _text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _text)
    return yaml.dump(template, Dumper=_Dumper, sort_keys=False)
