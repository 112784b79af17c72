"""AWS resources and their tags: the record of which AWS team-envs (ephemeral ones included) still exist.

The AWS counterpart of infra.lifecycle.azure. Azure keeps an env in one resource group whose tags say what it is;
on AWS an env is the set of resources that carry its tags. The Resource Groups Tagging API lists most of them,
but not IAM roles or VPC endpoints, so those are read from IAM and EC2 directly. Resources AWS keeps around for
a while after deletion (NAT gateways in state `deleted`, KMS keys pending deletion) are not counted as live.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from infra.lifecycle.errors import OperationFailed

LOGIN_HINT = (
    " (set AWS_PROFILE or AWS_ACCESS_KEY_ID, or use OIDC through aws-actions/configure-aws-credentials)"
)


@dataclass(frozen=True)
class TaggedResource:
    arn: str
    tags: Mapping[str, str] = field(default_factory=dict)


class TaggedResources(Protocol):
    def list(self, tags: Mapping[str, str]) -> list[TaggedResource]:
        """Every live resource of the region that carries all of ``tags``."""


class AwsTaggedResources:
    """The real TaggedResources: boto3 with the default credential chain (AWS_PROFILE, environment, OIDC web
    identity in CI). AWS_ENDPOINT_URL points every client elsewhere (tests use moto)."""

    def __init__(self, session: Any, region: str) -> None:
        self._client = lambda service: session.client(service, region_name=region)

    @classmethod
    def for_region(cls, region: str) -> AwsTaggedResources:
        import boto3

        return cls(boto3.session.Session(), region)

    def list(self, tags: Mapping[str, str]) -> list[TaggedResource]:
        with _aws_errors("listing tagged resources"):
            found = {r.arn: r for r in self._tagging_api(tags)}
            found |= {r.arn: r for r in self._iam_roles(tags)}
            found |= {r.arn: r for r in self._vpc_endpoints(tags)}
            dead = self._dead_nat_gateways(found) | self._keys_pending_deletion(found)
            return sorted((r for arn, r in found.items() if arn not in dead), key=lambda r: r.arn)

    def _tagging_api(self, tags: Mapping[str, str]) -> Iterator[TaggedResource]:
        pages = self._client("resourcegroupstaggingapi").get_paginator("get_resources")
        filters = [{"Key": key, "Values": [value]} for key, value in tags.items()]
        for page in pages.paginate(TagFilters=filters):
            for mapping in page["ResourceTagMappingList"]:
                yield TaggedResource(mapping["ResourceARN"], _tag_dict(mapping.get("Tags")))

    def _iam_roles(self, tags: Mapping[str, str]) -> Iterator[TaggedResource]:
        iam = self._client("iam")
        for page in iam.get_paginator("list_roles").paginate():
            for role in page["Roles"]:
                # list_roles leaves tags out; list_role_tags has them.
                role_tags = _tag_dict(iam.list_role_tags(RoleName=role["RoleName"])["Tags"])
                if _matches(role_tags, tags):
                    yield TaggedResource(role["Arn"], role_tags)

    def _vpc_endpoints(self, tags: Mapping[str, str]) -> Iterator[TaggedResource]:
        ec2 = self._client("ec2")
        filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in tags.items()]
        for page in ec2.get_paginator("describe_vpc_endpoints").paginate(Filters=filters):
            for endpoint in page["VpcEndpoints"]:
                if endpoint.get("State", "").lower() in ("deleted", "deleting"):
                    continue
                arn = f"vpc-endpoint/{endpoint['VpcEndpointId']}"
                yield TaggedResource(arn, _tag_dict(endpoint.get("Tags")))

    def _dead_nat_gateways(self, found: Mapping[str, TaggedResource]) -> set[str]:
        ids = {arn.rsplit("/", 1)[1]: arn for arn in found if ":natgateway/" in arn}
        if not ids:
            return set()
        gateways = self._client("ec2").describe_nat_gateways(NatGatewayIds=list(ids))["NatGateways"]
        return {ids[g["NatGatewayId"]] for g in gateways if g["State"] in ("deleted", "deleting")}

    def _keys_pending_deletion(self, found: Mapping[str, TaggedResource]) -> set[str]:
        kms = self._client("kms")
        return {
            arn
            for arn in found
            if ":kms:" in arn
            and ":key/" in arn
            and kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"]
            in ("PendingDeletion", "PendingReplicaDeletion")
        }


def _tag_dict(tags: Any) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags or []}


def _matches(have: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    return all(have.get(key) == value for key, value in wanted.items())


@contextmanager
def _aws_errors(doing: str) -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        hint = LOGIN_HINT if isinstance(exc, NoCredentialsError) else ""
        raise OperationFailed(f"AWS, {doing}: {str(exc).splitlines()[0]}{hint}") from None
