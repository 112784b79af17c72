"""The values the account stack of an AWS team-env reads from its platform stack (cross-stack references)."""

from dataclasses import asdict, dataclass


@dataclass(frozen=True, kw_only=True)
class AwsPlatformOutputs:
    vpc_id: str
    subnet_ids: list[str]
    """The two private cluster subnets, in two availability zones."""
    security_group_id: str
    root_bucket: str
    """Name of the workspace root bucket (storage configuration)."""
    cross_account_role_arn: str
    lake_bucket: str
    kms_key_arn: str
    nat_public_ip: str | None = None
    """The NAT gateway's public address (open egress): the clusters reach the control plane from it, so the
    workspace's IP access list must hold it (Databricks, "Configure IP access lists for workspaces")."""
    workspace_storage_key_arn: str | None = None
    """Customer-managed keys of the workspace (envs with customer_managed_key), with their aliases."""
    workspace_storage_key_alias: str | None = None
    managed_services_key_arn: str | None = None
    managed_services_key_alias: str | None = None
    workspace_endpoint_id: str | None = None
    """Isolated egress: the AWS VPC endpoints to the region's Databricks workspace (REST API) and secure cluster
    connectivity relay services, which the account stack registers (back-end PrivateLink)."""
    relay_endpoint_id: str | None = None
    audit_log_bucket: str | None = None
    """Audit log delivery (envs that deliver audit logs): the bucket and the role Databricks' delivery assumes."""
    audit_log_role_arn: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)
