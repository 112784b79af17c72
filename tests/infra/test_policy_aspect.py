"""The security baseline aspect: every rule fails synth on a violating resource, passes a compliant one, and
honours only suppressions that carry a reason."""

import json

import pytest
from cdktf import App, TerraformResourceLifecycle

from infra.aspects.policy import PolicyAspect, all_suppressions, suppress
from infra.aspects.policy.packs import ALL_PACKS, all_rules
from infra.aspects.stack_aspects import AspectApp, AspectStack
from infra.config import TeamEnv

LOG_ANALYTICS = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/la"
UC_ROLE = "Storage Blob Data Contributor"


def _diagnostics(scope, id, target, categories=()):
    from cdktf_cdktf_provider_azurerm.monitor_diagnostic_setting import (
        MonitorDiagnosticSetting,
        MonitorDiagnosticSettingEnabledLog,
    )

    return MonitorDiagnosticSetting(
        scope,
        id,
        name="to-log-analytics",
        target_resource_id=target,
        log_analytics_workspace_id=LOG_ANALYTICS,
        # A struct, not a dict: jsii drops a dict's snake_case keys (the block would synthesize as `{}`).
        enabled_log=[MonitorDiagnosticSettingEnabledLog(category=c) for c in categories]
        or [MonitorDiagnosticSettingEnabledLog(category_group="allLogs")],
    )


def _firewall(*, default_action="Deny", bypass=("AzureServices",)):
    from cdktf_cdktf_provider_azurerm.storage_account import StorageAccountNetworkRulesPrivateLinkAccess

    return {
        "default_action": default_action,
        "bypass": list(bypass),
        "private_link_access": [StorageAccountNetworkRulesPrivateLinkAccess(endpoint_resource_id="/ac")],
    }


def _storage(scope, *, id="storage", diagnostics="blob", **overrides):
    from cdktf_cdktf_provider_azurerm.storage_account import StorageAccount

    props = dict(
        name=f"st{id}",
        resource_group_name="rg",
        location="westeurope",
        account_tier="Standard",
        account_replication_type="ZRS",
        account_kind="StorageV2",
        is_hns_enabled=True,
        min_tls_version="TLS1_2",
        https_traffic_only_enabled=True,
        allow_nested_items_to_be_public=False,
        shared_access_key_enabled=False,
        infrastructure_encryption_enabled=True,
        public_network_access_enabled=True,
        network_rules=_firewall(),
        blob_properties={
            "delete_retention_policy": {"days": 7},
            "container_delete_retention_policy": {"days": 7},
        },
    )
    props.update(overrides)
    account = StorageAccount(scope, id, **props)
    if diagnostics == "blob":
        _diagnostics(scope, f"{id}-diagnostics", f"{account.id}/blobServices/default")
    elif diagnostics == "account":
        _diagnostics(scope, f"{id}-diagnostics", account.id)
    return account


def _key_vault(scope, *, diagnostics=True, **overrides):
    from cdktf_cdktf_provider_azurerm.key_vault import KeyVault

    props = dict(
        name="kv-compliant",
        resource_group_name="rg",
        location="westeurope",
        tenant_id="00000000-0000-0000-0000-000000000000",
        sku_name="standard",
        rbac_authorization_enabled=True,
        soft_delete_retention_days=90,
        purge_protection_enabled=True,
        network_acls={"default_action": "Deny", "bypass": "AzureServices"},
    )
    props.update(overrides)
    vault = KeyVault(scope, "vault", **props)
    if diagnostics:
        _diagnostics(scope, "vault-diagnostics", vault.id)
    return vault


def _workspace(scope, *, diagnostics=True, custom=None, log_categories=None, **overrides):
    from cdktf_cdktf_provider_azurerm.databricks_workspace import DatabricksWorkspace

    params = dict(
        no_public_ip=True,
        virtual_network_id="/vnet",
        public_subnet_name="host",
        private_subnet_name="container",
        public_subnet_network_security_group_association_id="/host-assoc",
        private_subnet_network_security_group_association_id="/container-assoc",
    )
    params.update(custom or {})
    props = dict(
        name="dbw",
        resource_group_name="rg",
        location="westeurope",
        sku="premium",
        public_network_access_enabled=True,
        network_security_group_rules_required="AllRules",
        infrastructure_encryption_enabled=True,
        custom_parameters=params,
    )
    props.update(overrides)
    workspace = DatabricksWorkspace(scope, "workspace", **props)
    if diagnostics:
        _diagnostics(scope, "workspace-diagnostics", workspace.id, categories=log_categories or ())
    return workspace


def _private_endpoint(scope, target, subresource):
    from cdktf_cdktf_provider_azurerm.private_endpoint import PrivateEndpoint

    return PrivateEndpoint(
        scope,
        f"pe-{subresource}",
        name=f"pe-{subresource}",
        resource_group_name="rg",
        location="westeurope",
        subnet_id="/pe-subnet",
        private_service_connection={
            "name": f"psc-{subresource}",
            "private_connection_resource_id": target.id,
            "is_manual_connection": False,
            "subresource_names": [subresource],
        },
    )


PRIVATE_WORKSPACE = dict(
    public_network_access_enabled=False, network_security_group_rules_required="NoAzureDatabricksRules"
)


def _private_workspace(scope, *, subresources=("databricks_ui_api", "browser_authentication")):
    workspace = _workspace(scope, **PRIVATE_WORKSPACE)
    for subresource in subresources:
        _private_endpoint(scope, workspace, subresource)
    return workspace


def _private_storage(scope, *, endpoints=("dfs", "blob"), cmk=True, **overrides):
    """A prod lake as a private env with a customer-managed key must have it."""
    from cdktf_cdktf_provider_azurerm.storage_account_customer_managed_key import (
        StorageAccountCustomerManagedKeyA,
    )

    props = dict(
        account_replication_type="GRS",
        lifecycle=PROTECTED,
        public_network_access_enabled=False,
        identity={"type": "SystemAssigned"},
    )
    account = _storage(scope, id="lake", **(props | overrides))
    for subresource in endpoints:
        _private_endpoint(scope, account, subresource)
    if cmk:
        StorageAccountCustomerManagedKeyA(
            scope, "lake-cmk", storage_account_id=account.id, key_vault_id="/kv", key_name="cmk"
        )
    return account


def _private_vault(scope, *, endpoint=True, **overrides):
    vault = _key_vault(
        scope, **({"public_network_access_enabled": False, "lifecycle": PROTECTED} | overrides)
    )
    if endpoint:
        _private_endpoint(scope, vault, "vault")
    return vault


def _key(scope, *, rotation=True, lifecycle=None):
    from cdktf_cdktf_provider_azurerm.key_vault_key import KeyVaultKey

    return KeyVaultKey(
        scope,
        "key",
        name="cmk",
        key_vault_id="/kv",
        key_type="RSA-HSM",
        key_size=3072,
        key_opts=["wrapKey", "unwrapKey"],
        rotation_policy=(
            rotation if isinstance(rotation, dict) else {"automatic": {"time_after_creation": "P1Y"}}
        )
        if rotation
        else None,
        lifecycle=lifecycle,
    )


KEY_ID = "https://kv.vault.azure.net/keys/cmk/0123456789abcdef0123456789abcdef"
CMK_WORKSPACE = dict(
    customer_managed_key_enabled=True,
    managed_services_cmk_key_vault_key_id=KEY_ID,
    managed_disk_cmk_key_vault_key_id=KEY_ID,
    managed_disk_cmk_rotation_to_latest_version_enabled=True,
)


def _cmk_workspace(scope, *, dbfs=True, **overrides):
    from cdktf_cdktf_provider_azurerm.databricks_workspace_root_dbfs_customer_managed_key import (
        DatabricksWorkspaceRootDbfsCustomerManagedKey,
    )

    workspace = _private_workspace(scope)
    for key, value in (CMK_WORKSPACE | overrides).items():
        setattr(workspace, key, value)
    if dbfs:
        DatabricksWorkspaceRootDbfsCustomerManagedKey(
            scope, "dbfs-cmk", workspace_id=workspace.id, key_vault_key_id=KEY_ID
        )
    return workspace


def _compliant_private(stack):
    _private_storage(stack)
    _private_vault(stack)
    _cmk_workspace(stack)
    _key(stack, lifecycle=PROTECTED)


def _access_connector(scope, *, grants=((UC_ROLE, "lake"),)):
    """An access connector and its role assignments: (role, "lake" | any other scope string)."""
    from cdktf_cdktf_provider_azurerm.databricks_access_connector import DatabricksAccessConnector
    from cdktf_cdktf_provider_azurerm.role_assignment import RoleAssignment

    lake = _storage(scope, id="lake")
    connector = DatabricksAccessConnector(
        scope,
        "connector",
        name="ac",
        resource_group_name="rg",
        location="westeurope",
        identity={"type": "SystemAssigned"},
    )
    for index, (role, target) in enumerate(grants):
        RoleAssignment(
            scope,
            f"connector-role-{index}",
            scope=lake.id if target == "lake" else target,
            role_definition_name=role,
            principal_id=connector.identity.principal_id,
            principal_type="ServicePrincipal",
        )
    return connector


def _role_assignment(scope, *, role="Key Vault Secrets User"):
    from cdktf_cdktf_provider_azurerm.role_assignment import RoleAssignment

    return RoleAssignment(
        scope,
        "role",
        scope="/subscriptions/0/resourceGroups/rg",
        role_definition_name=role,
        principal_id="11111111-1111-1111-1111-111111111111",
    )


def _log_analytics(scope, *, local_auth=False):
    from cdktf_cdktf_provider_azurerm.log_analytics_workspace import LogAnalyticsWorkspace

    return LogAnalyticsWorkspace(
        scope,
        "log-analytics",
        name="la",
        resource_group_name="rg",
        location="westeurope",
        local_authentication_enabled=local_auth,
    )


def _job(scope, *, run_as=True, policy=True, tasks=(("ingest", None), ("train", "ingest"))):
    """A job with ``tasks``: (task_key, the task_key it depends on or None)."""
    from cdktf_cdktf_provider_databricks.job import (
        Job,
        JobJobCluster,
        JobJobClusterNewCluster,
        JobTask,
        JobTaskDependsOn,
    )

    cluster = JobJobClusterNewCluster(
        spark_version="18.x-cpu-ml-scala2.13", num_workers=1, policy_id="policy-1" if policy else None
    )
    return Job(
        scope,
        "job",
        name="train",
        run_as={"service_principal_name": "app-id"} if run_as else None,
        job_cluster=[JobJobCluster(job_cluster_key="main", new_cluster=cluster)],
        task=[
            JobTask(
                task_key=key,
                job_cluster_key="main",
                depends_on=[JobTaskDependsOn(task_key=after)] if after else None,
            )
            for key, after in tasks
        ],
    )


def _serverless_job(scope):
    """A wheel task with no cluster: it runs on serverless compute (databricks v1.99.0 docs/resources/job.md)."""
    from cdktf_cdktf_provider_databricks.job import Job, JobTask, JobTaskPythonWheelTask

    return Job(
        scope,
        "serverless-job",
        name="score",
        run_as={"service_principal_name": "app-id"},
        task=[
            JobTask(
                task_key="score",
                python_wheel_task=JobTaskPythonWheelTask(package_name="churn", entry_point="churn"),
            )
        ],
    )


def _cluster(scope, *, policy=True):
    from cdktf_cdktf_provider_databricks.cluster import Cluster

    return Cluster(scope, "cluster", spark_version="18.x-cpu-ml-scala2.13", policy_id="p" if policy else None)


def _permissions(scope, *, deployer_level="IS_OWNER", policy=False, team_level="CAN_MANAGE_RUN", extra=()):
    from cdktf_cdktf_provider_databricks.permissions import Permissions, PermissionsAccessControl

    deployer = scope.node.try_get_context("deployer")
    acl = [PermissionsAccessControl(group_name="team-owners", permission_level=team_level)]
    if deployer_level:
        acl.append(PermissionsAccessControl(service_principal_name=deployer, permission_level=deployer_level))
    acl += [PermissionsAccessControl(service_principal_name=deployer, permission_level=lv) for lv in extra]
    target = {"cluster_policy_id": "policy-1"} if policy else {"job_id": "123"}
    return Permissions(scope, f"permissions-{'policy' if policy else 'job'}", access_control=acl, **target)


def _serving_endpoint(scope, *, rate_limit=True, inference_table=True):
    from cdktf_cdktf_provider_databricks.model_serving import (
        ModelServing,
        ModelServingAiGateway,
        ModelServingAiGatewayInferenceTableConfig,
        ModelServingAiGatewayRateLimits,
    )

    gateway = ModelServingAiGateway(
        inference_table_config=ModelServingAiGatewayInferenceTableConfig(
            enabled=inference_table, catalog_name="c", schema_name="ml"
        ),
        rate_limits=[ModelServingAiGatewayRateLimits(calls=100, key="endpoint", renewal_period="minute")]
        if rate_limit
        else None,
    )
    return ModelServing(scope, "endpoint", name="team-champion", ai_gateway=gateway)


def _serving_permissions(scope, *, group="team-owners"):
    from cdktf_cdktf_provider_databricks.permissions import Permissions, PermissionsAccessControl

    deployer = scope.node.try_get_context("deployer")
    acl = [
        PermissionsAccessControl(service_principal_name=deployer, permission_level="CAN_MANAGE"),
        PermissionsAccessControl(group_name=group, permission_level="CAN_QUERY"),
    ]
    return Permissions(scope, "permissions-endpoint", serving_endpoint_id="e-1", access_control=acl)


def _mws_workspace(scope):
    from cdktf_cdktf_provider_databricks.mws_workspaces import MwsWorkspaces

    return MwsWorkspaces(
        scope, "mws-workspace", account_id="a", workspace_name="w", aws_region="eu-west-1", credentials_id="c"
    )


def _system_schema(scope):
    from cdktf_cdktf_provider_databricks.system_schema import SystemSchema

    return SystemSchema(scope, "system-schema", schema="access")


def _alert(scope, *, emails=()):
    from cdktf_cdktf_provider_databricks.alert_v2 import AlertV2

    return AlertV2(
        scope,
        "alert",
        display_name="a",
        query_text="SELECT 1 AS events",
        warehouse_id="w",
        evaluation={
            "comparison_operator": "GREATER_THAN",
            "source": {"name": "events"},
            "notification": {"subscriptions": [{"user_email": e} for e in emails]},
        },
        schedule={"quartz_cron_schedule": "0 0 * * * ?", "timezone_id": "UTC"},
    )


def _repo(scope, *, branch: str | None = None):
    """A Git folder; on `branch` it is SAT's own terraform/common/repo.tf (v0.8.0), which tracks `main`."""
    from cdktf_cdktf_provider_databricks.repo import Repo

    pin = {"branch": branch} if branch else {"tag": "v0.8.0"}
    return Repo(scope, "repo", url="https://github.com/o/r.git", path="/Repos/Applications/r", **pin)


def _token(scope):
    from cdktf_cdktf_provider_databricks.token import Token

    return Token(scope, "pat", comment="nope")


def _workspace_conf(scope, *, tokens: str = "false", **keys: str):
    from cdktf_cdktf_provider_databricks.workspace_conf import WorkspaceConf

    config = {"enableTokensConfig": tokens, "enableVerboseAuditLogs": "true", **keys}
    return WorkspaceConf(scope, "workspace-conf", custom_config=config)


HARDENED_CONF = {
    "enableResultsDownloading": "false",
    "enableExportNotebook": "false",
    "enableNotebookTableClipboard": "false",
    "enableIpAccessLists": "true",
}
OFFICE = ["198.51.100.0/24"]


def _hardened_workspace(scope, *, conf=None, leave_out=(), ip_addresses=OFFICE):
    """What the `hardened` env asks for inside its workspace: the conf keys, the settings and the IP list."""
    from cdktf_cdktf_provider_databricks.disable_legacy_access_setting import DisableLegacyAccessSetting
    from cdktf_cdktf_provider_databricks.disable_legacy_dbfs_setting import DisableLegacyDbfsSetting
    from cdktf_cdktf_provider_databricks.ip_access_list import IpAccessList
    from cdktf_cdktf_provider_databricks.restrict_workspace_admins_setting import (
        RestrictWorkspaceAdminsSetting,
    )

    workspace_conf = _workspace_conf(scope, **{**HARDENED_CONF, **(conf or {})})
    if "legacy-access" not in leave_out:
        DisableLegacyAccessSetting(scope, "legacy-access", disable_legacy_access={"value": True})
    if "legacy-dbfs" not in leave_out:
        DisableLegacyDbfsSetting(scope, "legacy-dbfs", disable_legacy_dbfs={"value": True})
    if "admins" not in leave_out:
        RestrictWorkspaceAdminsSetting(
            scope, "admins", restrict_workspace_admins={"status": "RESTRICT_TOKENS_AND_JOB_RUN_AS"}
        )
    IpAccessList(
        scope,
        "ip-list",
        label="allow",
        list_type="ALLOW",
        ip_addresses=ip_addresses,
        depends_on=[workspace_conf],
    )


def _secret(scope):
    from cdktf_cdktf_provider_databricks.secret import Secret

    return Secret(scope, "secret", key="db-password", scope="team", string_value="value-in-state")


def _provider_with_credentials(scope):
    from cdktf_cdktf_provider_databricks.provider import DatabricksProvider

    return DatabricksProvider(
        scope, "databricks-pat", alias="pat", host="https://x", token="not-a-real-token"
    )


def _catalog(scope, *, prevent_destroy):
    from cdktf_cdktf_provider_databricks.catalog import Catalog

    lifecycle = TerraformResourceLifecycle(prevent_destroy=True) if prevent_destroy else None
    return Catalog(scope, "catalog", name="c", lifecycle=lifecycle)


def _bucket(scope, *, flags=None, algorithm="aws:kms", status="Enabled", tls_only=True):
    from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
    from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
    from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
    from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
        S3BucketServerSideEncryptionConfigurationA as Encryption,
    )
    from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
        S3BucketServerSideEncryptionConfigurationRuleA as EncryptionRule,
    )
    from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
        S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA as ByDefault,
    )
    from cdktf_cdktf_provider_aws.s3_bucket_versioning import (
        S3BucketVersioningA,
        S3BucketVersioningVersioningConfiguration,
    )

    bucket = S3Bucket(scope, "bucket", bucket="lake")
    all_blocked = dict.fromkeys(
        ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"), True
    )
    S3BucketPublicAccessBlock(scope, "bucket-pab", bucket=bucket.id, **(all_blocked | (flags or {})))
    by_default = ByDefault(
        sse_algorithm=algorithm, kms_master_key_id="arn:key" if algorithm == "aws:kms" else None
    )
    Encryption(
        scope,
        "bucket-sse",
        bucket=bucket.id,
        rule=[EncryptionRule(apply_server_side_encryption_by_default=by_default)],
    )
    S3BucketVersioningA(
        scope,
        "bucket-versioning",
        bucket=bucket.id,
        versioning_configuration=S3BucketVersioningVersioningConfiguration(status=status),
    )
    condition = (
        {"Bool": {"aws:SecureTransport": "false"}}
        if tls_only
        else {"Bool": {"aws:MultiFactorAuthPresent": "false"}}
    )
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": "*",
        "Condition": condition,
    }
    S3BucketPolicy(scope, "bucket-policy", bucket=bucket.id, policy=json.dumps({"Statement": [statement]}))
    return bucket


def _kms_key(scope, *, rotation=True):
    from cdktf_cdktf_provider_aws.kms_key import KmsKey

    return KmsKey(scope, "key", enable_key_rotation=rotation)


def _vpc(scope, *, flow_log=True):
    from cdktf_cdktf_provider_aws.flow_log import FlowLog
    from cdktf_cdktf_provider_aws.vpc import Vpc

    vpc = Vpc(scope, "vpc", cidr_block="10.0.0.0/22")
    if flow_log:
        FlowLog(
            scope,
            "flow-log",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination="arn:group",
            iam_role_arn="arn:role",
        )
    return vpc


def _sg_rule(scope, *, direction, cidr="0.0.0.0/0", ports=(443, 443)):
    from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
    from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule

    rule = VpcSecurityGroupIngressRule if direction == "ingress" else VpcSecurityGroupEgressRule
    return rule(
        scope,
        f"{direction}-{ports[0]}",
        security_group_id="sg-1",
        ip_protocol="tcp",
        from_port=ports[0],
        to_port=ports[1],
        cidr_ipv4=cidr,
    )


def _security_groups(scope, *, default_rules=False, inline_rules=False):
    from cdktf_cdktf_provider_aws.default_security_group import (
        DefaultSecurityGroup,
        DefaultSecurityGroupIngress,
    )
    from cdktf_cdktf_provider_aws.security_group import SecurityGroup, SecurityGroupIngress

    all_tcp = {"from_port": 0, "to_port": 65535, "protocol": "tcp", "cidr_blocks": ["10.0.0.0/22"]}
    DefaultSecurityGroup(
        scope,
        "default-sg",
        vpc_id="vpc-1",
        ingress=[DefaultSecurityGroupIngress(**all_tcp)] if default_rules else None,
    )
    SecurityGroup(
        scope,
        "sg",
        vpc_id="vpc-1",
        description="clusters",
        ingress=[SecurityGroupIngress(**all_tcp)] if inline_rules else None,
    )


def _nat_gateway(scope):
    from cdktf_cdktf_provider_aws.nat_gateway import NatGateway

    return NatGateway(scope, "nat", allocation_id="eipalloc-1", subnet_id="subnet-1")


def _vpc_endpoint(scope, *, policy=("s3:GetObject", "arn:aws:s3:::lake/*")):
    from cdktf_cdktf_provider_aws.vpc_endpoint import VpcEndpoint

    document = None
    if policy is not None:
        action, resource = policy
        statement = {"Effect": "Allow", "Principal": "*", "Action": action, "Resource": resource}
        document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    return VpcEndpoint(
        scope, "s3-endpoint", vpc_id="vpc-1", service_name="com.amazonaws.eu-west-1.s3", policy=document
    )


def _subnet_following_the_zone_list(scope):
    from cdktf import Fn
    from cdktf_cdktf_provider_aws.data_aws_availability_zones import DataAwsAvailabilityZones
    from cdktf_cdktf_provider_aws.subnet import Subnet

    zones = DataAwsAvailabilityZones(scope, "zones", state="available")
    Subnet(
        scope,
        "subnet",
        vpc_id="vpc-1",
        cidr_block="10.0.0.0/24",
        availability_zone=Fn.element(zones.names, 0),
    )


def _role(scope, *, external_id=True, actions=("s3:GetObject",)):
    from cdktf_cdktf_provider_aws.iam_role import IamRole
    from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy

    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::414351767826:root"},
        "Action": "sts:AssumeRole",
    }
    if external_id:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": "databricks-account"}}
    role = IamRole(scope, "iam-role", assume_role_policy=json.dumps({"Statement": [statement]}))
    grant = {"Effect": "Allow", "Action": list(actions), "Resource": "*"}
    IamRolePolicy(scope, "iam-role-policy", role=role.id, policy=json.dumps({"Statement": [grant]}))
    return role


def _synth(team_env: TeamEnv, build, tmp_path):
    app = AspectApp(outdir=str(tmp_path), context={"deployer": team_env.platform.deployer_principal})
    stack = AspectStack(app, "policy-under-test")
    from cdktf_cdktf_provider_aws.provider import AwsProvider
    from cdktf_cdktf_provider_azurerm.provider import AzurermProvider
    from cdktf_cdktf_provider_databricks.provider import DatabricksProvider

    AzurermProvider(stack, "azurerm", features=[{}])
    DatabricksProvider(stack, "databricks")
    AwsProvider(stack, "aws", region="eu-west-1")
    build(stack)
    stack.add_aspect(PolicyAspect(team_env=team_env, packs=ALL_PACKS))
    app.synth()
    return app


@pytest.fixture(scope="module")
def dev(platform_config) -> TeamEnv:
    return next(te for te in platform_config.team_envs if te.key == "churn/dev")


@pytest.fixture(scope="module")
def private(platform_config) -> TeamEnv:
    """churn/prod as committed (private front end, private lake and vault, customer-managed key), with DNS zones
    of its own: without the hub it joins in platform.yaml (the hub's shape has its own test below)."""
    team_env = next(te for te in platform_config.team_envs if te.key == "churn/prod")
    assert team_env.settings.network_isolation == "private" and team_env.customer_managed_key is not None
    from infra.config.hardening import Hardening
    from infra.config.serverless import Serverless

    # Without prod's hardening and restricted serverless egress, which have rules of their own (the `hardened`
    # and `restricted` envs).
    return team_env.model_copy(
        update={
            "platform": team_env.platform.model_copy(update={"hub_network": None}),
            "settings": team_env.settings.model_copy(
                update={"hardening": Hardening(), "serverless": Serverless()}
            ),
        }
    )


@pytest.fixture(scope="module")
def prod(private) -> TeamEnv:
    """A prod env on service endpoints without a customer-managed key, for the rules that do not concern those."""
    settings = private.settings.model_copy(
        update={"network_isolation": "service_endpoints", "customer_managed_key": None}
    )
    return private.model_copy(update={"settings": settings})


@pytest.fixture(scope="module")
def hardened(dev) -> TeamEnv:
    """churn/dev with prod's hardening defaults and an IP access list on its public front end."""
    from infra.config.hardening import PROD_HARDENING, Hardening

    hardening = Hardening(**PROD_HARDENING, ip_access_list=OFFICE)
    return dev.model_copy(update={"settings": dev.settings.model_copy(update={"hardening": hardening})})


@pytest.fixture(scope="module")
def restricted(dev) -> TeamEnv:
    """churn/dev with prod's restricted serverless egress (PLAT-DBX-SERVERLESS-2)."""
    from infra.config.serverless import Serverless

    serverless = Serverless(restricted_egress=True)
    return dev.model_copy(update={"settings": dev.settings.model_copy(update={"serverless": serverless})})


@pytest.fixture(scope="module")
def ephemeral(dev) -> TeamEnv:
    return dev.model_copy(update={"env": "pr42", "kind": "ephemeral", "base_env": "dev"})


PROTECTED = TerraformResourceLifecycle(prevent_destroy=True)


def _workspace_subnet(scope):
    """A Databricks workspace subnet with no route at all (prod egresses through the hub's firewall)."""
    from cdktf_cdktf_provider_azurerm.subnet import (
        Subnet,
        SubnetDelegation,
        SubnetDelegationServiceDelegation,
    )

    delegation = SubnetDelegation(
        name="databricks",
        service_delegation=SubnetDelegationServiceDelegation(name="Microsoft.Databricks/workspaces"),
    )
    Subnet(scope, "host", name="snet-host", resource_group_name="rg", virtual_network_name="vnet",
           address_prefixes=["10.10.8.0/24"], delegation=[delegation])  # fmt: skip


# rule id -> (env, builder of resources that violate exactly that rule in that env)
VIOLATIONS = {
    "PLAT-AZ-EGRESS-1": ("prod", _workspace_subnet),
    "PLAT-WS-1": ("dev", lambda s: _workspace(s, sku="standard")),
    "PLAT-WS-2": (
        "dev",
        lambda s: _workspace(s, custom={"private_subnet_network_security_group_association_id": None}),
    ),
    "PLAT-WS-3": ("dev", lambda s: _workspace(s, custom={"no_public_ip": False})),
    "PLAT-WS-4": ("dev", lambda s: _workspace(s, public_network_access_enabled=False)),
    "PLAT-WS-5": ("dev", lambda s: _workspace(s, infrastructure_encryption_enabled=False)),
    # private front end without the SSO endpoint: nobody can sign in through the browser
    "PLAT-WS-6": ("prod", lambda s: _private_workspace(s, subresources=("databricks_ui_api",))),
    "PLAT-ST-1": ("dev", lambda s: _storage(s, is_hns_enabled=False)),
    "PLAT-ST-2": ("dev", lambda s: _storage(s, min_tls_version="TLS1_0")),
    "PLAT-ST-3": ("dev", lambda s: _storage(s, https_traffic_only_enabled=False)),
    "PLAT-ST-4": ("dev", lambda s: _storage(s, allow_nested_items_to_be_public=True)),
    "PLAT-ST-5": ("dev", lambda s: _storage(s, shared_access_key_enabled=True)),
    "PLAT-ST-6": (
        "dev",
        lambda s: _storage(s, network_rules=_firewall(default_action="Allow")),
    ),
    "PLAT-ST-7": ("dev", lambda s: _storage(s, infrastructure_encryption_enabled=False)),
    "PLAT-ST-8": ("dev", lambda s: _storage(s, blob_properties={"delete_retention_policy": {"days": 7}})),
    "PLAT-ST-9": ("dev", lambda s: _storage(s, network_rules=_firewall(bypass=[]))),
    "PLAT-ST-10": ("prod", lambda s: _storage(s, account_replication_type="LRS", lifecycle=PROTECTED)),
    "PLAT-KV-1": ("dev", lambda s: _key_vault(s, rbac_authorization_enabled=False)),
    "PLAT-KV-2": ("dev", lambda s: _key_vault(s, purge_protection_enabled=False)),
    "PLAT-KV-3": (
        "dev",
        lambda s: _key_vault(s, network_acls={"default_action": "Allow", "bypass": "AzureServices"}),
    ),
    "PLAT-KV-4": ("dev", lambda s: _key_vault(s, soft_delete_retention_days=30)),
    # a private env whose vault still answers on its public endpoint
    "PLAT-KV-5": ("private", lambda s: _private_vault(s, public_network_access_enabled=True)),
    "PLAT-KV-6": ("dev", lambda s: _key(s, rotation=False)),
    "PLAT-ST-11": ("private", lambda s: _private_storage(s, endpoints=("dfs",))),
    "PLAT-ST-12": ("private", lambda s: _private_storage(s, cmk=False)),
    "PLAT-WS-7": ("private", lambda s: _cmk_workspace(s, dbfs=False)),
    "PLAT-MON-1": ("dev", lambda s: _key_vault(s, diagnostics=False)),
    "PLAT-MON-2": ("dev", lambda s: _log_analytics(s, local_auth=True)),
    "PLAT-IAM-1": (
        "dev",
        lambda s: _access_connector(s, grants=[(UC_ROLE, "lake"), ("Storage Blob Data Owner", "lake")]),
    ),
    "PLAT-IAM-2": ("dev", lambda s: _role_assignment(s, role="Owner")),
    "PLAT-DATA-1": ("dev", lambda s: _catalog(s, prevent_destroy=True)),
    "PLAT-DBX-1": ("dev", _token),
    "PLAT-DBX-2": ("dev", lambda s: _job(s, run_as=False)),
    "PLAT-DBX-3": ("dev", lambda s: _job(s, policy=False)),
    # the scoring job as it was: score runs before monitor, but the provider reads [monitor, score] back
    "PLAT-DBX-8": ("dev", lambda s: _job(s, tasks=(("score", None), ("monitor", "score")))),
    "PLAT-DBX-4": ("dev", lambda s: _cluster(s, policy=False)),
    "PLAT-DBX-5": ("dev", lambda s: _permissions(s, policy=True, team_level="CAN_USE", deployer_level=None)),
    # The deployer listed twice: the provider-added owner clashes with its other entry (one level each).
    "PLAT-DBX-7": ("dev", lambda s: _permissions(s, extra=["CAN_MANAGE"])),
    "PLAT-DBX-6": ("dev", lambda s: _workspace_conf(s, tokens="true")),
    "PLAT-SEC-1": ("dev", _provider_with_credentials),
    "PLAT-AWS-S3-1": ("dev", lambda s: _bucket(s, flags={"restrict_public_buckets": False})),
    "PLAT-AWS-S3-2": ("dev", lambda s: _bucket(s, algorithm="AES256")),
    "PLAT-AWS-S3-3": ("dev", lambda s: _bucket(s, status="Suspended")),
    "PLAT-AWS-S3-4": ("dev", lambda s: _bucket(s, tls_only=False)),
    "PLAT-AWS-KMS-1": ("dev", lambda s: _kms_key(s, rotation=False)),
    "PLAT-AWS-VPC-1": ("dev", lambda s: _vpc(s, flow_log=False)),
    "PLAT-AWS-VPC-2": ("dev", lambda s: _sg_rule(s, direction="ingress", ports=(22, 22))),
    "PLAT-AWS-VPC-3": ("dev", lambda s: _sg_rule(s, direction="egress", ports=(0, 65535))),
    "PLAT-AWS-VPC-4": ("dev", lambda s: _security_groups(s, default_rules=True)),
    "PLAT-AWS-VPC-5": ("dev", lambda s: _security_groups(s, inline_rules=True)),
    "PLAT-AWS-VPC-6": ("dev", _subnet_following_the_zone_list),
    # open egress in prod without a stated reason (egress.open_reason); dev may keep its NAT (_compliant)
    "PLAT-AWS-EGRESS-1": ("prod", _nat_gateway),
    "PLAT-AWS-EGRESS-2": ("dev", lambda s: _vpc_endpoint(s, policy=None)),
    "PLAT-AWS-IAM-1": ("dev", lambda s: _role(s, external_id=False)),
    "PLAT-AWS-IAM-2": ("dev", lambda s: _role(s, actions=("*",))),
    # the cross-account policy as it was: Databricks' EC2 actions for a customer-managed VPC, on "*"
    "PLAT-AWS-IAM-3": ("dev", lambda s: _role(s, actions=("ec2:DescribeInstances", "ec2:RunInstances"))),
    "PLAT-SEC-2": ("dev", _secret),
    "PLAT-SRV-1": ("dev", lambda s: _serving_endpoint(s, rate_limit=False)),
    "PLAT-SRV-2": ("dev", lambda s: _serving_endpoint(s, inference_table=False)),
    "PLAT-SRV-3": ("dev", lambda s: _serving_permissions(s, group="users")),
    # a prod workspace stack (its workspace conf) without the audit alerts
    "PLAT-AUDIT-1": ("prod", _workspace_conf),
    "PLAT-AUDIT-2": ("prod", _mws_workspace),
    "PLAT-AUDIT-3": ("prod", _system_schema),
    "PLAT-AUDIT-4": ("dev", _alert),
    "PLAT-AUDIT-5": ("dev", lambda s: _workspace(s, log_categories=("accounts", "clusters"))),
    "PLAT-AUDIT-6": ("dev", lambda s: _repo(s, branch="main")),
    # dev runs its jobs on job clusters (serverless.jobs is off)
    "PLAT-DBX-SERVERLESS-1": ("dev", _serverless_job),
    "PLAT-DBX-HARDEN-1": (
        "hardened",
        lambda s: _hardened_workspace(s, conf={"enableExportNotebook": "true"}),
    ),
    "PLAT-DBX-HARDEN-2": ("hardened", lambda s: _hardened_workspace(s, leave_out=("legacy-access",))),
    "PLAT-DBX-HARDEN-3": ("hardened", lambda s: _hardened_workspace(s, ip_addresses=["0.0.0.0/1"])),
    "PLAT-DBX-HARDEN-4": ("hardened", _workspace),
    # a workspace with no network policy attached keeps the account's default-policy
    "PLAT-DBX-SERVERLESS-2": ("restricted", _workspace),
}


def test_every_rule_has_a_violation_case():
    assert set(VIOLATIONS) == {rule.id for rule in all_rules()}


@pytest.mark.parametrize("rule_id", sorted(VIOLATIONS))
def test_violation_fails_synth_with_the_rule_id(rule_id, dev, prod, private, hardened, restricted, tmp_path):
    env, build = VIOLATIONS[rule_id]
    envs = {"dev": dev, "prod": prod, "private": private, "hardened": hardened, "restricted": restricted}
    with pytest.raises(RuntimeError, match=rule_id) as failed:
        _synth(envs[env], build, tmp_path)
    other_rules = [r.id for r in all_rules() if r.id != rule_id and f"{r.id}:" in str(failed.value)]
    assert other_rules == [], "the violating resource should break only its own rule"


def _compliant(stack):
    _storage(stack)
    _key_vault(stack)
    _workspace(stack)
    _access_connector(stack)
    _role_assignment(stack)
    _log_analytics(stack)
    _job(stack)
    _cluster(stack)
    _permissions(stack)
    _permissions(stack, policy=True, deployer_level="CAN_USE")
    _catalog(stack, prevent_destroy=False)
    _workspace_conf(stack)
    _bucket(stack)
    _kms_key(stack)
    _vpc(stack)
    _sg_rule(stack, direction="egress", ports=(8443, 8451))
    _sg_rule(stack, direction="ingress", cidr="10.0.0.0/22", ports=(0, 65535))
    _security_groups(stack)
    _nat_gateway(stack)
    _vpc_endpoint(stack)
    _role(stack)
    _serving_endpoint(stack)
    _serving_permissions(stack)
    _system_schema(stack)
    _alert(stack, emails=("team@example.com",))
    _repo(stack)


def test_compliant_resources_synthesize(dev, tmp_path):
    _synth(dev, _compliant, tmp_path)
    assert (tmp_path / "stacks" / "policy-under-test" / "cdk.tf.json").exists()


def test_tokens_may_be_enabled_only_when_the_platform_config_allows_them(dev, tmp_path):
    allowing = dev.model_copy(
        update={"platform": dev.platform.model_copy(update={"personal_access_tokens": True})}
    )
    _synth(allowing, lambda s: _workspace_conf(s, tokens="true"), tmp_path / "allowed")
    with pytest.raises(RuntimeError, match=r"PLAT-DBX-6: .*asks for 'true'"):
        _synth(allowing, _workspace_conf, tmp_path / "mismatch")


def test_prod_storage_is_geo_redundant_and_other_envs_may_stay_local(dev, prod, tmp_path):
    _synth(prod, lambda s: _storage(s, account_replication_type="GRS", lifecycle=PROTECTED), tmp_path / "p")
    _synth(dev, lambda s: _storage(s, account_replication_type="LRS"), tmp_path / "d")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda s: _storage(s, diagnostics="account"), "/blobServices/default to a Log Analytics"),
        (lambda s: _storage(s, diagnostics=None), "/blobServices/default to a Log Analytics"),
        (lambda s: _workspace(s, diagnostics=False), "azurerm_databricks_workspace.workspace"),
    ],
)
def test_diagnostics_must_target_the_resource_that_logs(build, message, dev, tmp_path):
    # storage logs live on its blob service: a setting on the account itself does not capture lake reads
    with pytest.raises(RuntimeError, match=f"PLAT-MON-1: .*{message}"):
        _synth(dev, build, tmp_path)


@pytest.mark.parametrize(
    ("grants", "message"),
    [
        ([], "holds no Storage Blob Data Contributor"),
        ([(UC_ROLE, "/subscriptions/0/resourceGroups/rg")], "on /subscriptions/0/resourceGroups/rg"),
        (
            [
                (
                    UC_ROLE,
                    "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st/x",
                )
            ],
            "on /subscriptions/0/.*/storageAccounts/st/x",
        ),
        ([("Storage Queue Data Contributor", "lake")], "also gets Storage Queue Data Contributor"),
    ],
)
def test_access_connector_gets_exactly_the_unity_catalog_role_on_storage(grants, message, dev, tmp_path):
    with pytest.raises(RuntimeError, match=f"PLAT-IAM-1: .*{message}"):
        _synth(dev, lambda s: _access_connector(s, grants=grants), tmp_path)


def test_access_connector_may_use_an_existing_storage_account(dev, tmp_path):
    existing = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/stshared"
    _synth(dev, lambda s: _access_connector(s, grants=[(UC_ROLE, existing)]), tmp_path)


def test_deployer_must_keep_the_top_level_of_each_object(dev, tmp_path):
    # CAN_VIEW keeps the deployer in the list but would lock it out of managing the job on the next apply;
    # jobs are owned by the deployer
    with pytest.raises(RuntimeError, match=r"PLAT-DBX-5: .*at IS_OWNER .*it has CAN_VIEW"):
        _synth(dev, lambda s: _permissions(s, deployer_level="CAN_VIEW"), tmp_path / "job")
    # cluster policies only know CAN_USE
    with pytest.raises(RuntimeError, match=r"PLAT-DBX-5: .*at CAN_USE "):
        _synth(dev, lambda s: _permissions(s, policy=True, deployer_level="CAN_MANAGE"), tmp_path / "policy")


def test_private_front_end_needs_the_private_nsg_rule_mode(prod, tmp_path):
    def bad(stack):
        workspace = _workspace(stack, public_network_access_enabled=False)
        for subresource in ("databricks_ui_api", "browser_authentication"):
            _private_endpoint(stack, workspace, subresource)

    with pytest.raises(RuntimeError, match="PLAT-WS-4: NSG rule mode"):
        _synth(prod, bad, tmp_path / "bad")
    _synth(prod, _private_workspace, tmp_path / "ok")


def test_private_front_end_needs_both_endpoints_on_its_own_workspace(prod, tmp_path):
    with pytest.raises(
        RuntimeError, match=r"PLAT-WS-6: .*needs private endpoints for databricks_ui_api, browser"
    ):
        _synth(prod, lambda s: _private_workspace(s, subresources=()), tmp_path / "none")

    def endpoints_on_another_resource(stack):
        _workspace(stack, **PRIVATE_WORKSPACE)
        other = _storage(stack, id="other")
        for subresource in ("databricks_ui_api", "browser_authentication"):
            _private_endpoint(stack, other, subresource)

    with pytest.raises(RuntimeError, match="PLAT-WS-6"):
        _synth(prod, endpoints_on_another_resource, tmp_path / "other")


def test_in_the_hubs_shared_zones_a_private_front_end_has_no_sign_in_endpoint_of_its_own(prod, tmp_path):
    from infra.config.platform_settings import HubNetwork

    subscription = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups"
    hub = HubNetwork(
        virtual_network_id=f"{subscription}/rg-hub/providers/Microsoft.Network/virtualNetworks/vnet-hub",
        private_dns_zones_resource_group_id=f"{subscription}/rg-hub-dns",
    )
    in_hub = prod.model_copy(update={"platform": prod.platform.model_copy(update={"hub_network": hub})})
    # the region's one browser_authentication endpoint is the hub's: a second one would take over its record
    with pytest.raises(RuntimeError, match=r"PLAT-WS-6: .*must not have its own browser_authentication"):
        _synth(in_hub, lambda s: _private_workspace(s), tmp_path / "both")
    with pytest.raises(RuntimeError, match=r"PLAT-WS-6: .*needs private endpoints for databricks_ui_api"):
        _synth(in_hub, lambda s: _private_workspace(s, subresources=()), tmp_path / "none")
    _synth(in_hub, lambda s: _private_workspace(s, subresources=("databricks_ui_api",)), tmp_path / "ui")


def test_private_cmk_env_synthesizes_when_everything_is_in_place(private, tmp_path):
    _synth(private, _compliant_private, tmp_path)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda s: _private_storage(s, public_network_access_enabled=True),
            "PLAT-ST-11: a private lake must",
        ),
        (lambda s: _private_storage(s, identity=None), "PLAT-ST-12: .*system-assigned identity"),
        (
            lambda s: _cmk_workspace(s, customer_managed_key_enabled=False),
            "PLAT-WS-7: .*customer_managed_key_en",
        ),
        (
            lambda s: _cmk_workspace(s, managed_disk_cmk_rotation_to_latest_version_enabled=False),
            "PLAT-WS-7: managed disks must follow",
        ),
        (lambda s: _private_vault(s, endpoint=False), "PLAT-KV-5: a private vault needs private endpoints"),
    ],
)
def test_private_and_cmk_rules_name_what_is_missing(build, message, private, tmp_path):
    with pytest.raises(RuntimeError, match=message):
        _synth(private, build, tmp_path)


def test_vault_keeps_the_trusted_services_path_of_the_secret_scope_in_every_mode(dev, private, tmp_path):
    # the Key Vault-backed secret scope is read by the AzureDatabricks app as a trusted service: without the
    # bypass the scope breaks, with public access disabled or not
    open_acls = {"default_action": "Deny", "bypass": "None"}
    with pytest.raises(RuntimeError, match="PLAT-KV-5: key vault firewall must let trusted Azure services"):
        _synth(dev, lambda s: _key_vault(s, network_acls=open_acls), tmp_path / "dev")
    with pytest.raises(RuntimeError, match="PLAT-KV-5: key vault firewall must let trusted Azure services"):
        _synth(private, lambda s: _private_vault(s, network_acls=open_acls), tmp_path / "private")


def test_key_rotation_must_not_set_an_expiry_the_provider_turns_into_a_replacement(dev, tmp_path):
    # azurerm v4.55.0 internal/services/keyvault/key_vault_key_resource.go: Read sets expiration_date from the
    # latest version's Expires; CustomizeDiff ForceNewIfChange("expiration_date") replaces the key when that is
    # set but config has none. A rotation policy's expire_after sets Expires on every version.
    expiring = {
        "automatic": {"time_after_creation": "P1Y"},
        "expire_after": "P2Y",
        "notify_before_expiry": "P30D",
    }
    with pytest.raises(
        RuntimeError, match=r"PLAT-KV-6: rotation_policy\.expire_after without expiration_date"
    ):
        _synth(dev, lambda s: _key(s, rotation=expiring), tmp_path)


def test_service_endpoint_lakes_keep_their_public_endpoint(dev, tmp_path):
    with pytest.raises(RuntimeError, match="PLAT-ST-11: service-endpoint lakes keep"):
        _synth(dev, lambda s: _storage(s, public_network_access_enabled=False), tmp_path)


def test_ephemeral_vaults_may_keep_deleted_secrets_a_week(ephemeral, tmp_path):
    _synth(
        ephemeral,
        lambda s: _key_vault(s, soft_delete_retention_days=7, purge_protection_enabled=False),
        tmp_path,
    )


def test_prod_data_must_be_protected_and_ephemeral_data_must_not_be(prod, ephemeral, tmp_path):
    with pytest.raises(RuntimeError, match="PLAT-DATA-1: data resource of an env with prevent_destroy"):
        _synth(prod, lambda s: _catalog(s, prevent_destroy=False), tmp_path / "prod")
    _synth(prod, lambda s: _catalog(s, prevent_destroy=True), tmp_path / "prod-ok")
    with pytest.raises(RuntimeError, match="PLAT-KV-2: purge protection must be off in ephemeral envs"):
        _synth(ephemeral, _key_vault, tmp_path / "ephemeral")


def test_suppression_with_a_reason_lets_synth_pass_and_is_listed(dev, tmp_path):
    reason = "Dev sandbox key vault is reached from a build agent without a fixed IP"

    def build(stack):
        vault = _key_vault(stack, network_acls={"default_action": "Allow", "bypass": "AzureServices"})
        suppress(vault, rule_id="PLAT-KV-3", reason=reason)

    app = _synth(dev, build, tmp_path)
    listed = all_suppressions(app)
    assert [(s.rule_id, s.reason) for s in listed] == [("PLAT-KV-3", reason)]
    assert listed[0].path.endswith("/vault")
    # written next to the resource in cdk.tf.json (Terraform ignores "//"), where `platform scan` reads it
    stack = json.loads((tmp_path / "stacks" / "policy-under-test" / "cdk.tf.json").read_text())
    vault = next(iter(stack["resource"]["azurerm_key_vault"].values()))
    assert vault["//"]["policy_suppressions"] == [
        {"rule": "PLAT-KV-3", "reason": reason, "scope": "policy-under-test/vault"}
    ]
    assert "metadata" in vault["//"], "cdktf's own metadata survives"
    assert "policy_suppressions" not in json.dumps(stack["resource"]["azurerm_monitor_diagnostic_setting"])


def test_suppression_of_one_rule_does_not_hide_another(dev, tmp_path):
    def build(stack):
        vault = _key_vault(
            stack,
            rbac_authorization_enabled=False,
            network_acls={"default_action": "Allow", "bypass": "None"},
        )
        suppress(vault, rule_id="PLAT-KV-3", reason="Temporarily open while migrating the build agents")

    with pytest.raises(RuntimeError, match="PLAT-KV-1"):
        _synth(dev, build, tmp_path)


@pytest.mark.parametrize(
    ("rule_id", "reason", "message"),
    [
        ("PLAT-KV-3", "", "needs a reason"),
        ("PLAT-KV-3", "because", "needs a reason"),
        ("NOPE-1", "x" * 40, "unknown"),
    ],
)
def test_suppression_without_reason_or_known_rule_is_refused(rule_id, reason, message, tmp_path):
    app = AspectApp(outdir=str(tmp_path))
    stack = AspectStack(app, "s")
    with pytest.raises(ValueError, match=message):
        suppress(stack, rule_id=rule_id, reason=reason)


def test_suppression_outside_an_aspect_stack_is_refused(tmp_path):
    from cdktf import TerraformStack

    stack = TerraformStack(App(outdir=str(tmp_path)), "plain")
    with pytest.raises(ValueError, match="AspectStack"):
        suppress(stack, rule_id="PLAT-KV-3", reason="Open while the build agents move to a fixed range")


def test_every_violation_of_a_stack_is_reported_with_its_construct_path(dev, tmp_path):
    def build(stack):
        _key_vault(
            stack,
            rbac_authorization_enabled=False,
            network_acls={"default_action": "Allow", "bypass": "AzureServices"},
        )

    with pytest.raises(RuntimeError) as failure:
        _synth(dev, build, tmp_path)
    lines = [line for line in str(failure.value).splitlines() if line.startswith("[")]
    assert [line.split("]")[0] for line in lines] == ["[policy-under-test/vault"] * 2
    assert sorted(line.split("] ")[1].split(":")[0] for line in lines) == ["PLAT-KV-1", "PLAT-KV-3"]
    assert not (tmp_path / "stacks" / "policy-under-test" / "cdk.tf.json").exists(), "nothing written"
    assert not (tmp_path / "manifest.json").exists(), "no manifest for cdktf deploy --skip-synth to follow"


def test_a_job_has_exactly_one_owner(dev, tmp_path):
    """databricks 1.99 permissions/permission_definitions.go: a job ACL without IS_OWNER gets the caller added
    as IS_OWNER (addOwnerPermissionIfNeeded); two owners are refused by the backend."""
    with pytest.raises(RuntimeError, match=r"PLAT-DBX-7: job permissions must name exactly one IS_OWNER"):
        _synth(dev, lambda s: _permissions(s, team_level="IS_OWNER"), tmp_path / "two")
    with pytest.raises(RuntimeError, match=r"PLAT-DBX-7: job permissions must name exactly one IS_OWNER"):
        _synth(dev, lambda s: _permissions(s, deployer_level="CAN_MANAGE"), tmp_path / "none")


def test_synthesized_jobs_declare_their_tasks_in_the_order_the_provider_reads_them(synthesized):
    """databricks v1.99.0 jobs/resource_job.go (adjustTasks -> sortTasksByKey) sorts the tasks it reads back by
    task_key: a job declared in another order plans an update forever. Every job of every workspace stack is in
    that order (the scoring job runs score before monitor through depends_on, not through its position)."""
    checked = 0
    for stack in synthesized.stack_names:
        for name, job in synthesized.resources(stack, "databricks_job").items():
            keys = [task["task_key"] for task in job["task"]]
            assert keys == sorted(keys), f"{stack}: {name} {keys}"
            checked += len(keys) > 1
    assert checked, "no multi-task job synthesized"
    scoring = next(
        job
        for stack in synthesized.stack_names
        for job in synthesized.resources(stack, "databricks_job").values()
        if job["name"].endswith("-scoring")
    )
    monitor = next(t for t in scoring["task"] if t["task_key"] == "monitor")
    assert [d["task_key"] for d in monitor["depends_on"]] == ["score"]
