"""Offline checks of the synthesized AWS stacks for what moto accepts and AWS refuses (docs/aws.md, "Checks
moto cannot make"): IAM policy documents linted by parliament (it ships the IAM action catalogue), principals
that must exist, KMS key policies that keep the account root, bucket policies under the public access block, and
VPC endpoint service names against the region's list. Each class also fails on a mutated stack."""

import copy
import json

import pytest

from tests.aws_policy_checks import (
    ACCEPTED,
    PARLIAMENT,
    documents,
    endpoint_service_problems,
    kms_root_problems,
    parliament_findings,
    principal_problems,
    public_policy_problems,
    service_principal_problems,
    unread_policy_problems,
)

ACCOUNT, REGION = "123456789012", "eu-west-1"
STACKS = [f"risk-{env}-{part}" for env in ("dev", "staging", "prod") for part in ("platform", "workspace")]
# Principals of other accounts the stacks trust on purpose (Databricks docs; infra/config/aws.py).
KNOWN_EXTERNAL = frozenset(
    {
        "arn:aws:iam::414351767826:root",
        "arn:aws:iam::414351767826:role/unity-catalog-prod-UCMasterRole-14S5ZJVKOTYTL",
        # SRA's STS endpoint policy (aws/tf/privatelink.tf): the user Databricks reads its sample datasets with.
        "arn:aws:iam::414351767826:user/databricks-datasets-readonly-user-prod",
        # Databricks' audit log delivery (databricks v1.99.0 aws/data_aws_assume_role_policy.go, for_log_delivery)
        "arn:aws:iam::414351767826:role/SaasUsageDeliveryRole-prod-IAMRole-3PLHICCRR1TK",
    }
)


@pytest.fixture(scope="module")
def stacks(synthesized, isolated_synthesized):
    """The committed risk stacks, prod's with isolated egress (conftest.isolated_synthesized): the committed prod
    keeps NAT for its wheel's PyPI packages, and the isolated one carries the most policies and endpoints."""
    return {
        name: (isolated_synthesized if name.startswith("risk-prod-") else synthesized).json(name)
        for name in STACKS
    }


@pytest.fixture(scope="module")
def findings(stacks):
    assert PARLIAMENT.is_file(), f"{PARLIAMENT} is missing: run make setup"
    docs = [doc for stack in stacks.values() for doc in documents(stack, account=ACCOUNT, region=REGION)]
    assert len(docs) >= 6 * 2  # every stack has policy documents: the linter really read them
    return parliament_findings(docs)


def lint(stack):
    return parliament_findings(list(documents(stack, account=ACCOUNT, region=REGION)))


def unaccepted(found):
    return [f for f in found if not any(a.matches(f) for a in ACCEPTED)]


def test_parliament_finds_nothing_beyond_the_accepted_findings(findings):
    assert unaccepted(findings) == []


def test_every_accepted_finding_still_occurs_and_has_a_reason(findings):
    for accepted in ACCEPTED:
        assert accepted.reason
        assert any(accepted.matches(f) for f in findings), f"no longer found, remove it: {accepted}"


def _catalog_role_policy(stack):
    return next(iter(stack["resource"]["aws_iam_role_policy"].values()))


def test_parliament_fails_a_misspelt_action_and_a_condition_the_action_lacks(stacks):
    stack = copy.deepcopy(stacks["risk-dev-workspace"])
    policy = _catalog_role_policy(stack)
    document = json.loads(policy["policy"])
    document["Statement"][0]["Action"].append("s3:GetObjekt")
    document["Statement"].append(
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::lake/*",
            "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
        }
    )
    policy["policy"] = json.dumps(document)
    issues = {f.split(": ")[1] for f in unaccepted(lint(stack))}
    assert {"UNKNOWN_ACTION", "UNKNOWN_CONDITION_FOR_ACTION"} <= issues


@pytest.mark.parametrize("stack", STACKS)
def test_trust_and_resource_policies_name_only_principals_that_exist(stacks, stack):
    assert principal_problems(stacks[stack], account=ACCOUNT, known_external=KNOWN_EXTERNAL) == []


def test_a_role_trusting_its_own_not_yet_created_arn_is_caught(stacks):
    # IAM refuses a principal that does not exist yet (the reason the self-trust goes through the account root);
    # moto accepts it.
    stack = copy.deepcopy(stacks["risk-dev-workspace"])
    role = next(iter(stack["resource"]["aws_iam_role"].values()))
    trust = json.loads(role["assume_role_policy"])
    trust["Statement"][1]["Principal"] = {"AWS": f"arn:aws:iam::{ACCOUNT}:role/{role['name']}"}
    role["assume_role_policy"] = json.dumps(trust)
    (problem,) = principal_problems(stack, account=ACCOUNT, known_external=KNOWN_EXTERNAL)
    assert f"role/{role['name']} may not exist" in problem


@pytest.mark.parametrize("stack", STACKS)
def test_service_principals_are_ones_aws_documents(stacks, stack):
    assert service_principal_problems(stacks[stack], region=REGION) == []


@pytest.mark.parametrize(
    "service",
    ["log.eu-west-1.amazonaws.com", "logs.eu-west-2.amazonaws.com", "vpc-flowlogs.amazonaws.com"],
    ids=["misspelt", "other-region", "misspelt-global"],
)
def test_a_service_principal_aws_does_not_know_is_caught(stacks, service):
    # IAM and KMS refuse "Invalid principal" for a service principal that does not exist; moto stores it.
    stack = copy.deepcopy(stacks["risk-dev-platform"])
    key = next(k for k in stack["resource"]["aws_kms_key"].values() if '"Service"' in k["policy"])
    policy = json.loads(key["policy"])
    statement = next(s for s in policy["Statement"] if "Service" in s.get("Principal", {}))
    statement["Principal"]["Service"] = service
    key["policy"] = json.dumps(policy)
    (problem,) = service_principal_problems(stack, region=REGION)
    assert f"service principal {service} is not one AWS documents" in problem


@pytest.mark.parametrize("stack", [s for s in STACKS if s.endswith("-platform")])
def test_key_policies_keep_the_account_root(stacks, stack):
    assert kms_root_problems(stacks[stack], account=ACCOUNT) == []


@pytest.mark.parametrize(
    "mutate",
    [
        lambda statements: statements.pop(0),
        lambda statements: statements[0].update(Action=["kms:Decrypt"]),
        lambda statements: statements[0].update(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:role/admin"}),
        lambda statements: statements[0].update(Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
    ],
    ids=["root-statement-gone", "root-not-kms-star", "role-instead-of-root", "root-conditioned"],
)
def test_a_key_policy_that_locks_the_account_out_is_caught(stacks, mutate):
    stack = copy.deepcopy(stacks["risk-prod-platform"])
    key = next(iter(stack["resource"]["aws_kms_key"].values()))
    policy = json.loads(key["policy"])
    mutate(policy["Statement"])
    key["policy"] = json.dumps(policy)
    (problem,) = kms_root_problems(stack, account=ACCOUNT)
    assert "account lock-out" in problem


@pytest.mark.parametrize("stack", [s for s in STACKS if s.endswith("-platform")])
def test_buckets_are_blocked_and_their_policies_not_public(stacks, stack):
    assert public_policy_problems(stacks[stack]) == []


def test_a_public_bucket_policy_under_block_public_policy_is_caught(stacks):
    stack = copy.deepcopy(stacks["risk-dev-platform"])
    policy = next(iter(stack["resource"]["aws_s3_bucket_policy"].values()))
    document = json.loads(policy["policy"])
    document["Statement"].append(
        {"Sid": "Everyone", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}
    )
    policy["policy"] = json.dumps(document)
    (problem,) = public_policy_problems(stack)
    assert "statement Everyone allows Principal *" in problem


@pytest.mark.parametrize(
    "condition",
    [
        {"Bool": {"aws:SecureTransport": "true"}},
        {"StringLike": {"aws:SourceVpce": "vpce-*"}},
        {"StringNotEquals": {"aws:SourceAccount": ACCOUNT}},
        {"StringEquals": {"aws:SourceArn": "arn:aws:s3:::${aws:username}"}},
    ],
    ids=["transport-only", "wildcard-endpoint", "negated-account", "policy-variable"],
)
def test_a_public_bucket_policy_with_a_condition_that_fixes_no_source_is_caught(stacks, condition):
    # S3 calls an Allow to Principal * public unless a condition pins aws:SourceIp/SourceArn/SourceVpc(e)/
    # SourceOwner/SourceAccount/userid or the KMS key ID to fixed values (S3 API reference,
    # PublicAccessBlockConfiguration): BlockPublicPolicy refuses these policies, and moto stores them.
    stack = copy.deepcopy(stacks["risk-dev-platform"])
    policy = next(iter(stack["resource"]["aws_s3_bucket_policy"].values()))
    document = json.loads(policy["policy"])
    document["Statement"].append(
        {
            "Sid": "Everyone",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Condition": condition,
        }
    )
    policy["policy"] = json.dumps(document)
    (problem,) = public_policy_problems(stack)
    assert "statement Everyone allows Principal *" in problem


def test_an_allow_to_everyone_pinned_to_one_endpoint_is_not_public(stacks):
    # the same statement pinned to this VPC's endpoint is the documented non-public form, and S3 accepts it
    stack = copy.deepcopy(stacks["risk-dev-platform"])
    policy = next(iter(stack["resource"]["aws_s3_bucket_policy"].values()))
    document = json.loads(policy["policy"])
    document["Statement"].append(
        {
            "Sid": "ThisEndpoint",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Condition": {"StringEquals": {"aws:SourceVpce": "${aws_vpc_endpoint.s3.id}"}},
        }
    )
    policy["policy"] = json.dumps(document)
    assert public_policy_problems(stack) == []


def _inline_policy(stack, document):
    role = next(iter(stack["resource"]["aws_iam_role"].values()))
    role["inline_policy"] = [{"name": "extra", "policy": json.dumps(document)}]
    return stack


def test_an_inline_policy_on_a_role_is_linted(stacks):
    # aws_iam_role's inline_policy block (aws provider v5.100.0, website/docs/r/iam_role.html.markdown) holds a
    # policy document too: the checks find documents by shape, not by a list of resource types
    stack = _inline_policy(
        copy.deepcopy(stacks["risk-dev-workspace"]),
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObjekt", "Resource": "*"}],
        },
    )
    found = unaccepted(lint(stack))
    assert any(
        f.startswith("aws_iam_role.") and ".inline_policy[0].policy: UNKNOWN_ACTION" in f for f in found
    )


@pytest.mark.parametrize(
    "value",
    ["${data.aws_iam_policy_document.lake.json}", '${jsonencode({"Statement" = []})}'],
    ids=["policy-document-data-source", "jsonencode"],
)
def test_a_policy_written_only_at_apply_is_refused(stacks, value):
    stack = copy.deepcopy(stacks["risk-dev-workspace"])
    next(iter(stack["resource"]["aws_iam_role_policy"].values()))["policy"] = value
    (problem,) = unread_policy_problems(stack)
    assert "policy is built at apply" in problem and "aws_iam_role_policy." in problem


@pytest.mark.parametrize("stack", STACKS)
def test_every_policy_in_the_stacks_is_a_document_the_checks_read(stacks, stack):
    assert unread_policy_problems(stacks[stack]) == []


def test_a_bucket_without_the_full_public_access_block_is_caught(stacks):
    stack = copy.deepcopy(stacks["risk-dev-platform"])
    next(iter(stack["resource"]["aws_s3_bucket_public_access_block"].values()))["restrict_public_buckets"] = (
        False
    )
    (problem,) = public_policy_problems(stack)
    assert "no public access block with all four settings on" in problem


@pytest.mark.parametrize("stack", [s for s in STACKS if s.endswith("-platform")])
def test_endpoint_services_exist_in_the_region(stacks, stack):
    """S3, STS and Kinesis everywhere; the isolated prod env also the Databricks workspace and relay PrivateLink
    services, whose names the shipped list takes from SRA's table (aws/tf/variables.tf)."""
    endpoints = stacks[stack]["resource"]["aws_vpc_endpoint"]
    assert len(endpoints) == (5 if stack == "risk-prod-platform" else 3)
    assert endpoint_service_problems(stacks[stack], region=REGION) == []


def test_a_databricks_service_of_another_region_is_caught(stacks):
    stack = copy.deepcopy(stacks["risk-prod-platform"])
    relay = next(
        e for e in stack["resource"]["aws_vpc_endpoint"].values() if "relay" in e["//"]["metadata"]["path"]
    )
    relay["service_name"] = "com.amazonaws.vpce.eu-west-2.vpce-svc-0c43b4d4a2e4e8ef6"
    (problem,) = endpoint_service_problems(stack, region=REGION)
    assert "vpce-svc-0c43b4d4a2e4e8ef6 is not an endpoint service of eu-west-1" in problem


@pytest.mark.parametrize(
    ("service", "region"),
    [("com.amazonaws.eu-west-1.kinesis", REGION), ("com.amazonaws.eu-west-2.sts", REGION)],
    ids=["misspelt-service", "other-region"],
)
def test_a_wrong_endpoint_service_name_is_caught(stacks, service, region):
    stack = copy.deepcopy(stacks["risk-dev-platform"])
    endpoint = next(
        e for e in stack["resource"]["aws_vpc_endpoint"].values() if e["vpc_endpoint_type"] == "Interface"
    )
    endpoint["service_name"] = service
    (problem,) = endpoint_service_problems(stack, region=region)
    assert f"{service} is not an endpoint service of {region}" in problem
