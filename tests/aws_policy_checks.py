"""Offline checks of what moto accepts but AWS refuses or should: IAM policy documents linted by parliament, KMS
key policies that must keep the account root, bucket policies under the public access block, and VPC endpoint
service names against the region's list. Each check reads one synthesized stack (cdk.tf.json as a dict) and returns
one line per problem.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PARLIAMENT = ROOT / ".venv-parliament" / "bin" / "python"
LINT = ROOT / "tools" / "parliament" / "lint.py"
ENDPOINT_SERVICES = Path(__file__).resolve().parent / "data" / "aws_endpoint_services.json"

# Arguments that hold an IAM policy document under their own name. Documents are found by shape anywhere in an
# aws_* resource (an aws_iam_role's inline_policy block, a queue or topic policy, ...); these names only decide
# which arguments must be a document the checks can read (unread_policy_problems).
POLICY_ARGUMENTS = frozenset({"assume_role_policy", "policy"})
_TOKEN = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True, kw_only=True)
class Accepted:
    """A parliament finding the stacks keep on purpose, and why."""

    where: str
    """Construct path fragment of the resource (`cross-account_policy`), matched inside the finding's address."""
    issue: str
    detail: str
    """Fragment of the finding's detail."""
    reason: str

    def matches(self, finding: str) -> bool:
        address, issue, detail = finding.split(": ", 2)
        return self.where in address and issue == self.issue and self.detail in detail


ACCEPTED = (
    Accepted(
        where="assume_role_policy",
        issue="MALFORMED",
        detail="neither Resource nor NotResource",
        reason="a trust policy names no Resource (IAM refuses one); parliament reads it as an identity policy",
    ),
    Accepted(
        where="cross-account_policy",
        issue="RESOURCE_STAR",
        detail="ec2:CreateFleet",
        reason="the actions Databricks' restricted cross-account policy leaves on * (databricks v1.99.0 "
        "aws/data_aws_crossaccount_policy.go): describes, fleets, launch templates, spot requests, tags; "
        "RunInstances, TerminateInstances and the volume and security group actions are scoped (PLAT-AWS-IAM-3)",
    ),
    Accepted(
        where="cross-account_policy",
        issue="RESOURCE_MISMATCH",
        detail="'action': 'ec2:RunInstances'",
        reason="the restricted policy grants RunInstances per resource type, one statement each (instances and "
        "volumes by request tag, network interfaces, subnets and security groups by ec2:vpc, the rest by "
        "NotResource); IAM checks each resource of the call against all statements. Its image/* ARN names the "
        "account, which Databricks' AMIs lack, so they pass through the NotResource statement, as in the data source",
    ),
    Accepted(
        where="cross-account_policy",
        issue="MISMATCHED_TYPE_BUT_USABLE",
        detail="StringEquals requires a value of type String but given Arn",
        reason="ec2:vpc compared with StringEquals to the VPC's ARN, as the restricted policy writes it",
    ),
    Accepted(
        where="cross-account_policy",
        issue="UNKNOWN_CONDITION_FOR_ACTION",
        detail="iam:AWSServiceName for action iam:PutRolePolicy",
        reason="Databricks' documented statement (spot service-linked role); the condition only narrows further",
    ),
    Accepted(
        where="_sts_",
        issue="RESOURCE_STAR",
        detail="sts:AssumeRole",
        reason="SRA's STS endpoint policy (aws/tf/privatelink.tf): it narrows by principal (the env's account, "
        "Databricks'); which roles a principal may assume stays with IAM and the roles' trust policies",
    ),
    Accepted(
        where="aws_kms_key.",
        issue="RESOURCE_STAR",
        detail="kms:",
        reason="in a key policy Resource * means this key; it is the only form KMS accepts",
    ),
    Accepted(
        where="aws_kms_key.",
        issue="UNKNOWN_CONDITION_FOR_ACTION",
        detail="kms:EncryptionContext:aws:logs:arn for action kms:DescribeKey",
        reason="the CloudWatch Logs key policy statement as AWS documents it (encrypt log data with AWS KMS)",
    ),
    Accepted(
        where="aws_kms_key.",
        issue="MISMATCHED_TYPE",
        detail="ArnEquals requires a value of type Arn",
        reason="the log group ARN (with '/' in its name) is an ARN; AWS documents ArnEquals for this key",
    ),
)


@dataclass(frozen=True)
class Document:
    where: str
    """`type.name.argument` in the stack."""
    text: str


def _stand_in(expression: str, account: str, region: str) -> str:
    """A value of the right shape for a Terraform expression that resolves only at apply."""
    if "aws_kms_key" in expression or "kms_key_arn" in expression:
        return f"arn:aws:kms:{region}:{account}:key/00000000-0000-4000-8000-000000000000"
    if "aws_cloudwatch_log_group" in expression:
        return f"arn:aws:logs:{region}:{account}:log-group:stand-in"
    if "aws_s3_bucket" in expression:
        return "arn:aws:s3:::stand-in-bucket"
    if "aws_iam_role" in expression and expression.endswith(".arn"):
        return f"arn:aws:iam::{account}:role/stand-in"
    return "stand-in"  # IDs issued at apply (a credential's external ID)


def documents(stack: dict[str, Any], *, account: str, region: str) -> Iterator[Document]:
    """Every IAM policy document in the stack, its apply-time references replaced by stand-ins of their shape."""
    for doc in _raw_documents(stack):
        resolved = _TOKEN.sub(lambda m: _stand_in(m.group(1), account, region), doc.text)
        yield Document(doc.where, resolved)


def parliament_findings(docs: list[Document]) -> list[str]:
    """parliament's findings, one line each; it runs from its own venv (make setup, tools/parliament/)."""
    if not PARLIAMENT.exists():
        raise FileNotFoundError(
            f"{PARLIAMENT} is missing: run `make setup` (tools/parliament/requirements.txt)"
        )
    payload = json.dumps([{"where": d.where, "document": d.text} for d in docs])
    done = subprocess.run(
        [str(PARLIAMENT), str(LINT)], input=payload, capture_output=True, text=True, check=True, timeout=300
    )
    return [f"{f['where']}: {f['issue']}: {f['detail']}" for f in json.loads(done.stdout)]


def _statements(text: str) -> list[dict[str, Any]]:
    statements = json.loads(text).get("Statement", [])
    return [statements] if isinstance(statements, dict) else statements


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _aws_principals(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal", {})
    if principal == "*":
        return ["*"]
    return (
        [str(p) for p in _listed(principal.get("AWS", [])) if isinstance(principal, dict)]
        if principal
        else []
    )


def principal_problems(stack: dict[str, Any], *, account: str, known_external: frozenset[str]) -> list[str]:
    """IAM refuses a trust or resource policy that names a principal which does not exist when it is written
    (moto accepts it). Allowed: account roots, the known principals of other accounts (Databricks), and
    references to roles created in the same stack (they exist before the policy that names them)."""
    problems = []
    for doc in _raw_documents(stack):
        for statement in _statements(doc.text):
            for arn in _aws_principals(statement):
                if arn.startswith("${") or arn == "*" or re.fullmatch(r"arn:aws:iam::\d{12}:root", arn):
                    continue
                if arn not in known_external:
                    problems.append(f"{doc.where}: principal {arn} may not exist when the policy is written")
    return problems


# Service principals the stacks trust, with where AWS documents each; IAM and KMS refuse a policy naming a service
# principal that does not exist ("Invalid principal"), moto stores it. A new one is added here with its source.
SERVICE_PRINCIPALS = {
    "vpc-flow-logs.amazonaws.com": "VPC user guide, IAM role for publishing flow logs to CloudWatch Logs",
    "logs.{region}.amazonaws.com": "CloudWatch Logs user guide, Encrypt log data in CloudWatch Logs using AWS KMS",
}


def service_principal_problems(stack: dict[str, Any], *, region: str) -> list[str]:
    """Every `Principal: {"Service": ...}` in the stack is a documented service principal (regional ones of the
    stack's region)."""
    known = {name.format(region=region) for name in SERVICE_PRINCIPALS}
    return [
        f"{doc.where}: service principal {service} is not one AWS documents for this use in {region}"
        for doc in _raw_documents(stack)
        for statement in _statements(doc.text)
        if isinstance(statement.get("Principal"), dict)
        for service in _listed(statement["Principal"].get("Service", []))
        if service not in known
    ]


def kms_root_problems(stack: dict[str, Any], *, account: str) -> list[str]:
    """A key policy without `kms:*` for the account root locks IAM out of the key for good (AWS: the default key
    policy; moto does not evaluate key policies)."""
    root = f"arn:aws:iam::{account}:root"
    problems = []
    for name, key in stack.get("resource", {}).get("aws_kms_key", {}).items():
        keeps_root = any(
            s.get("Effect") == "Allow"
            and root in _aws_principals(s)
            and set(_listed(s.get("Action"))) & {"kms:*", "*"}
            and s.get("Resource") == "*"
            and not s.get("Condition")
            for s in _statements(key.get("policy") or '{"Statement": []}')
        )
        if not keeps_root:
            problems.append(
                f"aws_kms_key.{name}: policy does not give {root} kms:* on the key (account lock-out)"
            )
    return problems


def public_policy_problems(stack: dict[str, Any]) -> list[str]:
    """Every bucket has a public access block with all four settings on, and under BlockPublicPolicy no bucket
    policy allows Principal "*" without a condition (S3 refuses such a policy; moto stores it)."""
    resources = stack.get("resource", {})
    blocks = {
        _bucket_of(block["bucket"]): block
        for block in resources.get("aws_s3_bucket_public_access_block", {}).values()
    }
    problems = []
    for name in resources.get("aws_s3_bucket", {}):
        block = blocks.get(name)
        settings = (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        )
        if block is None or not all(block.get(s) is True for s in settings):
            problems.append(f"aws_s3_bucket.{name}: no public access block with all four settings on")
    for name, policy in resources.get("aws_s3_bucket_policy", {}).items():
        block = blocks.get(_bucket_of(policy["bucket"]), {})
        if not block.get("block_public_policy"):
            continue
        for statement in _statements(policy["policy"]):
            if statement.get("Effect") == "Allow" and _is_public(statement):
                problems.append(
                    f"aws_s3_bucket_policy.{name}: statement {statement.get('Sid', '?')} allows Principal * "
                    "without a fixed source or principal condition under BlockPublicPolicy (S3 refuses the policy)"
                )
    return problems


# What makes an Allow to Principal "*" non-public for S3: a condition pinning one of these keys to fixed values
# (no wildcard, no policy variable). Any other condition (aws:SecureTransport, a date, a tag) leaves it public and
# BlockPublicPolicy refuses it (S3 API reference, PublicAccessBlockConfiguration; S3 user guide, "The meaning of
# 'public'").
NON_PUBLIC_CONDITION_KEYS = frozenset(
    {
        "aws:sourceip",
        "aws:sourcearn",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceowner",
        "aws:sourceaccount",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
        "aws:userid",
    }
)


def _is_public(statement: dict[str, Any]) -> bool:
    if "NotPrincipal" in statement:
        return True  # everyone but the named principals
    if "*" not in _aws_principals(statement):
        return False
    for operator, tests in (statement.get("Condition") or {}).items():
        if "Not" in operator or operator.startswith("ForAnyValue:") or operator.endswith("IfExists"):
            continue  # a negation, or a test a request without the key passes, restricts nothing to fixed values
        for key, values in tests.items():
            # ${...} without a colon is a Terraform reference (fixed at apply); ${aws:...} is an IAM variable
            fixed = all(
                isinstance(v, str) and v and not re.search(r"[*?]|\$\{[^}]*:", v) for v in _listed(values)
            )
            if key.lower() in NON_PUBLIC_CONDITION_KEYS and fixed:
                return False
    return True


def _bucket_of(reference: str) -> str:
    """`${aws_s3_bucket.NAME.id}` -> NAME."""
    match = re.fullmatch(r"\$\{aws_s3_bucket\.([^.}]+)\.(id|bucket)\}", reference)
    return match.group(1) if match else reference


def endpoint_service_problems(stack: dict[str, Any], *, region: str) -> list[str]:
    """Every VPC endpoint names a service the region offers (the shipped list, tests/data/aws_endpoint_services.json);
    moto creates an endpoint for any name."""
    offered = set(endpoint_services()["regions"].get(region, []))
    problems = []
    for name, endpoint in stack.get("resource", {}).get("aws_vpc_endpoint", {}).items():
        service = endpoint["service_name"]
        if service not in offered:
            problems.append(f"aws_vpc_endpoint.{name}: {service} is not an endpoint service of {region}")
    return problems


@cache
def endpoint_services() -> dict[str, Any]:
    return json.loads(ENDPOINT_SERVICES.read_text())


def _raw_documents(stack: dict[str, Any]) -> Iterator[Document]:
    """Every string in an aws_* resource that is a JSON policy document (has a Statement), at any depth."""
    for where, value in _aws_strings(stack):
        if _is_document(value):
            yield Document(where, value)


def _aws_strings(stack: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for rtype, resources in stack.get("resource", {}).items():
        if rtype.startswith("aws_"):
            for name, config in resources.items():
                yield from _strings(f"{rtype}.{name}", config)


def _strings(where: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key != "//":  # cdktf's construct metadata
                yield from _strings(f"{where}.{key}", item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(f"{where}[{index}]", item)


def _is_document(text: str) -> bool:
    try:
        parsed = json.loads(text)
    except ValueError:
        return False
    return isinstance(parsed, dict) and "Statement" in parsed


def unread_policy_problems(stack: dict[str, Any]) -> list[str]:
    """A policy argument whose value is not a JSON document in the stack (a data.aws_iam_policy_document's json, a
    jsonencode(...), a file) is written at apply and escapes every check here: the stacks must not have one."""
    return [
        f"{where}: policy is built at apply ({value[:60]}), so no offline check reads it: write it as a document"
        for where, value in _aws_strings(stack)
        if where.rsplit(".", 1)[-1] in POLICY_ARGUMENTS and not _is_document(value)
    ]
