"""The platform stack (`<team>-<env>-platform`): what each team-env gets in Azure, checked on synthesized JSON."""

import json
import re
import tempfile

import cdktf
import pytest
from cdktf_cdktf_provider_azurerm.consumption_budget_resource_group import ConsumptionBudgetResourceGroup
from cdktf_cdktf_provider_azurerm.databricks_workspace import DatabricksWorkspace
from cdktf_cdktf_provider_azurerm.key_vault import KeyVault
from cdktf_cdktf_provider_azurerm.storage_account import StorageAccount

from infra.aspects.stack_aspects import AspectApp
from infra.config import TeamEnv
from infra.config.model import EnvironmentConfig
from infra.constructs.contracts import LAKE_CONTAINERS
from infra.stacks.platform_stack import PlatformStack

DEV, PROD = "churn-dev-platform", "churn-prod-platform"
PUBLIC_PROD = "pricing-prod-platform"  # prod with the default public front end
REFERENCE = re.compile(r"^\$\{(\w+)\.([\w-]+)\.([\w\[\]\.]+)\}$")


def has(synthesized, stack: str, resource_type: str, properties: dict) -> bool:
    return cdktf.Testing.to_have_resource_with_properties(synthesized.text(stack), resource_type, properties)


def ref(resource_type: str, logical_name: str, attribute: str) -> str:
    return "${" + f"{resource_type}.{logical_name}.{attribute}" + "}"


def without_metadata(config: dict) -> dict:
    return {k: v for k, v in config.items() if k != "//"}


def resolve(stack, value):
    """Tokens as they synthesize in the stack that owns them, e.g. ``${azurerm_key_vault.x.id}``."""
    return cdktf.Tokenization.resolve(
        value, scope=stack, resolver=cdktf.DefaultTokenResolver(cdktf.StringConcat()), preparing=False
    )


def logical_name(synthesized, stack: str, resource_type: str, **match) -> str:
    found = [
        name
        for name, config in synthesized.resources(stack, resource_type).items()
        if all(config.get(k) == v for k, v in match.items())
    ]
    assert len(found) == 1, f"{stack}: expected one {resource_type} matching {match}, found {found}"
    return found[0]


@pytest.fixture(scope="module")
def team_envs(platform_config) -> dict[str, TeamEnv]:
    return {te.names.platform_stack: te for te in platform_config.team_envs if te.team.cloud == "azure"}


def synth_alone(team_env: TeamEnv) -> dict:
    """One platform stack synthesized on its own (for env shapes the committed config does not have)."""
    with tempfile.TemporaryDirectory() as outdir:
        app = AspectApp(outdir=outdir)
        return json.loads(
            cdktf.Testing.synth(PlatformStack(app, team_env.names.platform_stack, team_env=team_env))
        )


@pytest.fixture(scope="module")
def ephemeral(platform_config) -> TeamEnv:
    team = platform_config.team("churn")
    # Cut from prod's settings on purpose: an ephemeral env must stay destroyable whatever it was cut from.
    settings = EnvironmentConfig(
        network="10.10.64.0/24",
        budget=team.ephemeral.budget,
        compute=team.ephemeral.compute,
        prevent_destroy=True,
        public_network_access=True,
    )
    return TeamEnv(
        platform=platform_config.platform,
        team=team,
        env="pr42",
        kind="ephemeral",
        settings=settings,
        owner="alice@example.com",
        expires_at="2026-12-02T08:00:00Z",
        base_env="prod",
    )


@pytest.fixture(scope="module")
def ephemeral_json(ephemeral) -> dict:
    return synth_alone(ephemeral)


# --- every team-env, provider, backend ---------------------------------------------------------------------


def test_every_team_env_has_a_platform_stack(synthesized, team_envs):
    assert set(team_envs) <= set(synthesized.stack_names)
    for stack in team_envs:
        assert len(synthesized.resources(stack, "azurerm_databricks_workspace")) == 1


def test_provider_uses_entra_id_for_storage_and_never_the_storage_data_plane(synthesized):
    provider = synthesized.json(DEV)["provider"]["azurerm"][0]
    assert provider["storage_use_azuread"] is True
    assert provider["features"][0]["storage"] == [{"data_plane_available": False}]


def test_provider_takes_subscription_and_tenant_from_the_environment_when_config_leaves_them_unset(
    synthesized, platform_config
):
    assert platform_config.platform.subscription_id is None
    provider = synthesized.json(DEV)["provider"]["azurerm"][0]
    assert "subscription_id" not in provider and "tenant_id" not in provider
    # The vault's tenant then comes from the deploying identity.
    vault = synthesized.only(DEV, KeyVault.TF_RESOURCE_TYPE)
    assert vault["tenant_id"] == "${data.azurerm_client_config.current.tenant_id}"


def test_provider_pins_configured_subscription_and_tenant(team_envs):
    base = team_envs[DEV]
    ids = {
        "subscription_id": "11111111-2222-3333-4444-555555555555",
        "tenant_id": "66666666-7777-8888-9999-000000000000",
    }
    pinned = base.model_copy(update={"platform": base.platform.model_copy(update=ids)})
    stack = synth_alone(pinned)
    provider = stack["provider"]["azurerm"][0]
    assert {k: provider[k] for k in ids} == ids
    assert next(iter(stack["resource"]["azurerm_key_vault"].values()))["tenant_id"] == ids["tenant_id"]


def test_permanent_envs_never_purge_on_destroy(synthesized):
    features = synthesized.json(PROD)["provider"]["azurerm"][0]["features"][0]
    assert features["key_vault"] == [
        {"purge_soft_delete_on_destroy": False, "recover_soft_deleted_key_vaults": True}
    ]
    assert features["resource_group"] == [{"prevent_deletion_if_contains_resources": True}]
    assert features["databricks_workspace"] == [{"force_delete": False}]


def test_ephemeral_envs_purge_soft_deleted_vaults_and_force_delete_on_destroy(ephemeral_json):
    features = ephemeral_json["provider"]["azurerm"][0]["features"][0]
    assert features["key_vault"][0]["purge_soft_delete_on_destroy"] is True
    assert features["log_analytics_workspace"] == [{"permanently_delete_on_destroy": True}]
    assert features["databricks_workspace"] == [{"force_delete": True}]
    assert features["resource_group"] == [{"prevent_deletion_if_contains_resources": False}]


def test_local_state_is_a_relative_path_per_stack(synthesized):
    paths = {stack: synthesized.json(stack)["terraform"]["backend"]["local"]["path"] for stack in (DEV, PROD)}
    for stack, path in paths.items():
        # Relative: the synthesized JSON must not carry a machine path.
        assert not path.startswith("/") and ":" not in path, path
        assert path.endswith(f"terraform.{stack}.tfstate"), path
    assert len(set(paths.values())) == len(paths)


# --- network ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", [DEV, PROD])
def test_databricks_subnets_are_delegated_with_a_storage_service_endpoint(synthesized, team_envs, stack):
    team_env = team_envs[stack]
    for name, cidr in (
        (team_env.names.host_subnet, team_env.host_subnet_cidr),
        (team_env.names.container_subnet, team_env.container_subnet_cidr),
    ):
        assert has(
            synthesized,
            stack,
            "azurerm_subnet",
            {
                "name": name,
                "address_prefixes": [cidr],
                "service_endpoints": ["Microsoft.Storage"],
                "delegation": [{"service_delegation": {"name": "Microsoft.Databricks/workspaces"}}],
            },
        ), name


def test_nsg_has_no_inline_rules_so_databricks_managed_rules_survive_applies(synthesized):
    nsg = synthesized.only(DEV, "azurerm_network_security_group")
    assert "security_rule" not in nsg


def test_both_databricks_subnets_get_the_nsg_and_the_nat_gateway(synthesized):
    nsg = logical_name(synthesized, DEV, "azurerm_network_security_group")
    subnets = synthesized.resources(DEV, "azurerm_subnet")
    nsg_links = {
        (a["subnet_id"], a["network_security_group_id"])
        for a in synthesized.resources(DEV, "azurerm_subnet_network_security_group_association").values()
    }
    nat_links = {
        a["subnet_id"] for a in synthesized.resources(DEV, "azurerm_subnet_nat_gateway_association").values()
    }
    assert len(subnets) == 2  # public front end: no private endpoint subnet
    for subnet in subnets:
        subnet_id = ref("azurerm_subnet", subnet, "id")
        assert (subnet_id, ref("azurerm_network_security_group", nsg, "id")) in nsg_links
        assert subnet_id in nat_links


def test_nat_gateway_has_a_static_standard_public_ip(synthesized):
    assert has(synthesized, DEV, "azurerm_public_ip", {"allocation_method": "Static", "sku": "Standard"})
    assert has(synthesized, DEV, "azurerm_nat_gateway", {"sku_name": "Standard"})
    assert len(synthesized.resources(DEV, "azurerm_nat_gateway_public_ip_association")) == 1


# --- workspace ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", [DEV, PROD, PUBLIC_PROD])
def test_workspace_is_premium_vnet_injected_without_public_ips(synthesized, team_envs, stack):
    names = team_envs[stack].names
    assert has(
        synthesized,
        stack,
        DatabricksWorkspace.TF_RESOURCE_TYPE,
        {
            "name": names.databricks_workspace,
            "sku": "premium",
            "managed_resource_group_name": names.managed_resource_group,
            "infrastructure_encryption_enabled": True,
            "custom_parameters": {"no_public_ip": True},
        },
    )


def test_workspace_references_the_nsg_associations_so_destroy_removes_it_first(synthesized, team_envs):
    names = team_envs[DEV].names
    params = synthesized.only(DEV, DatabricksWorkspace.TF_RESOURCE_TYPE)["custom_parameters"]
    host = logical_name(synthesized, DEV, "azurerm_subnet", name=names.host_subnet)
    container = logical_name(synthesized, DEV, "azurerm_subnet", name=names.container_subnet)
    associations = {
        a["subnet_id"]: ref("azurerm_subnet_network_security_group_association", name, "id")
        for name, a in synthesized.resources(DEV, "azurerm_subnet_network_security_group_association").items()
    }
    assert params["public_subnet_name"] == ref("azurerm_subnet", host, "name")
    assert params["private_subnet_name"] == ref("azurerm_subnet", container, "name")
    assert (
        params["public_subnet_network_security_group_association_id"]
        == associations[ref("azurerm_subnet", host, "id")]
    )
    assert (
        params["private_subnet_network_security_group_association_id"]
        == associations[ref("azurerm_subnet", container, "id")]
    )
    vnet = logical_name(synthesized, DEV, "azurerm_virtual_network")
    assert params["virtual_network_id"] == ref("azurerm_virtual_network", vnet, "id")


def test_workspace_waits_for_cluster_egress(synthesized):
    workspace = synthesized.only(DEV, DatabricksWorkspace.TF_RESOURCE_TYPE)
    egress = {
        f"azurerm_subnet_nat_gateway_association.{n}"
        for n in synthesized.resources(DEV, "azurerm_subnet_nat_gateway_association")
    }
    assert set(workspace["depends_on"]) == egress


@pytest.mark.parametrize("stack", [DEV, PUBLIC_PROD])
def test_public_front_end_keeps_databricks_nsg_rules_and_needs_no_private_link(synthesized, stack):
    assert has(
        synthesized,
        stack,
        DatabricksWorkspace.TF_RESOURCE_TYPE,
        {"public_network_access_enabled": True, "network_security_group_rules_required": "AllRules"},
    )
    assert synthesized.resources(stack, "azurerm_private_endpoint") == {}


def test_private_front_end_in_churn_prod_goes_through_private_link(synthesized, team_envs):
    assert team_envs[PROD].settings.public_network_access is False
    assert has(
        synthesized,
        PROD,
        DatabricksWorkspace.TF_RESOURCE_TYPE,
        {
            "public_network_access_enabled": False,
            "network_security_group_rules_required": "NoAzureDatabricksRules",
        },
    )
    workspace = logical_name(synthesized, PROD, DatabricksWorkspace.TF_RESOURCE_TYPE)
    zone = logical_name(synthesized, PROD, "azurerm_private_dns_zone", name="privatelink.azuredatabricks.net")
    endpoint_subnet = logical_name(synthesized, PROD, "azurerm_subnet", address_prefixes=["10.10.10.0/24"])
    assert has(
        synthesized,
        PROD,
        "azurerm_private_endpoint",
        {
            "subnet_id": ref("azurerm_subnet", endpoint_subnet, "id"),
            "private_service_connection": {
                "private_connection_resource_id": ref(DatabricksWorkspace.TF_RESOURCE_TYPE, workspace, "id"),
                "subresource_names": ["databricks_ui_api"],
                "is_manual_connection": False,
            },
            "private_dns_zone_group": {"private_dns_zone_ids": [ref("azurerm_private_dns_zone", zone, "id")]},
        },
    )
    vnet = logical_name(synthesized, PROD, "azurerm_virtual_network")
    assert has(
        synthesized,
        PROD,
        "azurerm_private_dns_zone_virtual_network_link",
        {"virtual_network_id": ref("azurerm_virtual_network", vnet, "id")},
    )
    # Scanner rule: every subnet has an NSG, the endpoint subnet too.
    linked = {
        a["subnet_id"]
        for a in synthesized.resources(PROD, "azurerm_subnet_network_security_group_association").values()
    }
    assert ref("azurerm_subnet", endpoint_subnet, "id") in linked


# --- lake storage -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", [DEV, PROD])
def test_lake_storage_meets_the_baseline(synthesized, team_envs, stack):
    assert has(
        synthesized,
        stack,
        StorageAccount.TF_RESOURCE_TYPE,
        {
            "name": team_envs[stack].names.storage_account,
            "account_kind": "StorageV2",
            "is_hns_enabled": True,
            "min_tls_version": "TLS1_2",
            "https_traffic_only_enabled": True,
            "allow_nested_items_to_be_public": False,
            "shared_access_key_enabled": False,
            "default_to_oauth_authentication": True,
            "infrastructure_encryption_enabled": True,
            "network_rules": {"default_action": "Deny", "bypass": ["AzureServices"]},
        },
    )


def test_lake_storage_keeps_deleted_blobs_and_containers_and_does_not_ask_for_versioning(synthesized):
    for stack, days in ((DEV, 7), (PROD, 30)):
        blob = synthesized.only(stack, StorageAccount.TF_RESOURCE_TYPE)["blob_properties"]
        assert blob["delete_retention_policy"] == {"days": days}
        assert blob["container_delete_retention_policy"] == {"days": days}
        # Azure rejects blob versioning on hierarchical-namespace accounts.
        assert "versioning_enabled" not in blob


def test_lake_storage_replication_is_geo_redundant_in_prod_only(synthesized):
    assert synthesized.only(PROD, StorageAccount.TF_RESOURCE_TYPE)["account_replication_type"] == "GRS"
    assert synthesized.only(DEV, StorageAccount.TF_RESOURCE_TYPE)["account_replication_type"] == "LRS"


def test_lake_firewall_admits_databricks_subnets_and_the_access_connector(synthesized, team_envs):
    names = team_envs[DEV].names
    rules = synthesized.only(DEV, StorageAccount.TF_RESOURCE_TYPE)["network_rules"]
    subnets = [
        logical_name(synthesized, DEV, "azurerm_subnet", name=n)
        for n in (names.host_subnet, names.container_subnet)
    ]
    assert sorted(rules["virtual_network_subnet_ids"]) == sorted(
        ref("azurerm_subnet", s, "id") for s in subnets
    )
    connector = logical_name(synthesized, DEV, "azurerm_databricks_access_connector")
    assert rules["private_link_access"] == [
        {"endpoint_resource_id": ref("azurerm_databricks_access_connector", connector, "id")}
    ]


def test_lake_containers_are_created_through_the_control_plane(synthesized):
    account = logical_name(synthesized, DEV, StorageAccount.TF_RESOURCE_TYPE)
    containers = synthesized.resources(DEV, "azurerm_storage_container").values()
    assert sorted(c["name"] for c in containers) == sorted(LAKE_CONTAINERS)
    for container in containers:
        assert container["storage_account_id"] == ref(StorageAccount.TF_RESOURCE_TYPE, account, "id")
        assert "storage_account_name" not in container  # would go through the blocked data plane
        assert container["container_access_type"] == "private"


def test_access_connector_gets_exactly_the_storage_role_unity_catalog_needs(synthesized):
    connector = logical_name(synthesized, DEV, "azurerm_databricks_access_connector")
    assert synthesized.only(DEV, "azurerm_databricks_access_connector")["identity"] == {
        "type": "SystemAssigned"
    }
    account = logical_name(synthesized, DEV, StorageAccount.TF_RESOURCE_TYPE)
    grants = [
        without_metadata(a)
        for a in synthesized.resources(DEV, "azurerm_role_assignment").values()
        if a["principal_id"]
        == ref("azurerm_databricks_access_connector", connector, "identity[0].principal_id")
    ]
    assert grants == [
        {
            "principal_id": ref("azurerm_databricks_access_connector", connector, "identity[0].principal_id"),
            "principal_type": "ServicePrincipal",
            "role_definition_name": "Storage Blob Data Contributor",
            "scope": ref(StorageAccount.TF_RESOURCE_TYPE, account, "id"),
        }
    ]


# --- key vault ----------------------------------------------------------------------------------------------


def test_key_vault_uses_rbac_purge_protection_and_a_deny_firewall_for_trusted_services(
    synthesized, team_envs
):
    assert has(
        synthesized,
        PROD,
        KeyVault.TF_RESOURCE_TYPE,
        {
            "name": team_envs[PROD].names.key_vault,
            "rbac_authorization_enabled": True,
            "purge_protection_enabled": True,
            "soft_delete_retention_days": 90,
            "network_acls": {"default_action": "Deny", "bypass": "AzureServices"},
        },
    )
    assert "enable_rbac_authorization" not in synthesized.only(
        PROD, KeyVault.TF_RESOURCE_TYPE
    )  # deprecated in 4.x


def test_ephemeral_key_vault_can_be_purged(ephemeral_json):
    vault = next(iter(ephemeral_json["resource"]["azurerm_key_vault"].values()))
    assert vault["purge_protection_enabled"] is False
    assert vault["soft_delete_retention_days"] == 7


def test_databricks_app_gets_secret_read_access_only_when_its_object_id_is_configured(synthesized, team_envs):
    assert not any(
        a["role_definition_name"] == "Key Vault Secrets User"
        for a in synthesized.resources(DEV, "azurerm_role_assignment").values()
    )
    base = team_envs[DEV]
    object_id = "0f0e0d0c-0b0a-4998-8776-655443322110"
    configured = base.model_copy(
        update={"platform": base.platform.model_copy(update={"azure_databricks_sp_object_id": object_id})}
    )
    resources = synth_alone(configured)["resource"]
    vault = next(iter(resources["azurerm_key_vault"]))
    readers = [
        without_metadata(a)
        for a in resources["azurerm_role_assignment"].values()
        if a["principal_id"] == object_id
    ]
    assert readers == [
        {
            "principal_id": object_id,
            "principal_type": "ServicePrincipal",
            "role_definition_name": "Key Vault Secrets User",
            "scope": ref("azurerm_key_vault", vault, "id"),
        }
    ]


# --- data protection ----------------------------------------------------------------------------------------

DATA_TYPES = (StorageAccount.TF_RESOURCE_TYPE, KeyVault.TF_RESOURCE_TYPE, "azurerm_storage_container")


def test_prod_data_resources_are_protected_from_destroy(synthesized):
    for resource_type in DATA_TYPES:
        for name, config in synthesized.resources(PROD, resource_type).items():
            assert config.get("lifecycle") == {"prevent_destroy": True}, name


def test_dev_data_resources_stay_destroyable(synthesized):
    for resource_type in DATA_TYPES:
        for name, config in synthesized.resources(DEV, resource_type).items():
            assert "lifecycle" not in config, name


def test_ephemeral_data_resources_stay_destroyable_even_when_cut_from_prod(ephemeral, ephemeral_json):
    assert ephemeral.settings.prevent_destroy is True
    for resource_type in DATA_TYPES:
        for name, config in ephemeral_json["resource"][resource_type].items():
            assert "lifecycle" not in config, name


# --- monitoring and budget ----------------------------------------------------------------------------------


def test_workspace_storage_and_key_vault_send_diagnostics_to_log_analytics(synthesized):
    workspace = logical_name(synthesized, DEV, DatabricksWorkspace.TF_RESOURCE_TYPE)
    account = logical_name(synthesized, DEV, StorageAccount.TF_RESOURCE_TYPE)
    vault = logical_name(synthesized, DEV, KeyVault.TF_RESOURCE_TYPE)
    law = logical_name(synthesized, DEV, "azurerm_log_analytics_workspace")
    settings = {
        s["target_resource_id"]: s
        for s in synthesized.resources(DEV, "azurerm_monitor_diagnostic_setting").values()
    }
    assert set(settings) == {
        ref(DatabricksWorkspace.TF_RESOURCE_TYPE, workspace, "id"),
        ref(StorageAccount.TF_RESOURCE_TYPE, account, "id") + "/blobServices/default",
        ref(KeyVault.TF_RESOURCE_TYPE, vault, "id"),
    }
    for setting in settings.values():
        assert setting["log_analytics_workspace_id"] == ref("azurerm_log_analytics_workspace", law, "id")
        assert setting["enabled_log"] == [{"category_group": "allLogs"}]
        assert "metric" not in setting  # deprecated block in 4.x
    # Databricks workspaces export no platform metrics; asking for one fails the apply.
    assert "enabled_metric" not in settings[ref(DatabricksWorkspace.TF_RESOURCE_TYPE, workspace, "id")]


def test_log_analytics_retention_comes_from_config(synthesized, platform_config):
    assert has(
        synthesized,
        DEV,
        "azurerm_log_analytics_workspace",
        {"sku": "PerGB2018", "retention_in_days": platform_config.platform.log_retention_days},
    )


def test_log_analytics_accepts_entra_id_only(synthesized):
    # the 4.x name; `local_authentication_disabled` is deprecated. Diagnostic settings do not use the keys.
    workspace = synthesized.only(DEV, "azurerm_log_analytics_workspace")
    assert workspace["local_authentication_enabled"] is False
    assert "local_authentication_disabled" not in workspace


def test_budget_alerts_at_every_threshold_from_the_configured_month(synthesized, team_envs):
    team_env = team_envs[PROD]
    rg = logical_name(synthesized, PROD, "azurerm_resource_group")
    budget = synthesized.only(PROD, ConsumptionBudgetResourceGroup.TF_RESOURCE_TYPE)
    assert budget["resource_group_id"] == ref("azurerm_resource_group", rg, "id")
    assert budget["amount"] == team_env.settings.budget.amount
    assert budget["time_grain"] == "Monthly"
    assert budget["time_period"] == {"start_date": f"{team_env.platform.budget_start.isoformat()}T00:00:00Z"}
    # a later budget_start (needed for new envs) must not replace the budgets of existing ones
    assert budget["lifecycle"] == {"ignore_changes": ["time_period"]}
    assert [n["threshold"] for n in budget["notification"]] == [50, 80, 100]
    for notification in budget["notification"]:
        assert notification["contact_emails"] == ["churn-team@example.com"]
        assert notification["threshold_type"] == "Actual"
        assert notification["operator"] == "GreaterThanOrEqualTo"


def test_ephemeral_budget_starts_in_its_expiry_month(ephemeral_json):
    budget = next(iter(ephemeral_json["resource"]["azurerm_consumption_budget_resource_group"].values()))
    assert budget["time_period"] == {"start_date": "2026-12-01T00:00:00Z"}


# --- outputs for the workspace stack ------------------------------------------------------------------------


def test_outputs_point_at_the_platform_resources(synthesized):
    stack = synthesized.app.node.find_child(DEV)
    resolved = {k: resolve(stack, v) for k, v in vars(stack.outputs).items()}
    workspace = logical_name(synthesized, DEV, DatabricksWorkspace.TF_RESOURCE_TYPE)
    vault = logical_name(synthesized, DEV, KeyVault.TF_RESOURCE_TYPE)
    connector = logical_name(synthesized, DEV, "azurerm_databricks_access_connector")
    assert resolved["workspace_url"] == "https://" + ref(
        DatabricksWorkspace.TF_RESOURCE_TYPE, workspace, "workspace_url"
    )
    assert resolved["workspace_resource_id"] == ref(DatabricksWorkspace.TF_RESOURCE_TYPE, workspace, "id")
    assert resolved["workspace_id"] == ref(DatabricksWorkspace.TF_RESOURCE_TYPE, workspace, "workspace_id")
    assert resolved["access_connector_id"] == ref("azurerm_databricks_access_connector", connector, "id")
    assert resolved["key_vault_id"] == ref(KeyVault.TF_RESOURCE_TYPE, vault, "id")
    assert resolved["key_vault_uri"] == ref(KeyVault.TF_RESOURCE_TYPE, vault, "vault_uri")


def test_lake_urls_map_every_container_to_its_abfss_root(synthesized):
    stack = synthesized.app.node.find_child(DEV)
    account = logical_name(synthesized, DEV, StorageAccount.TF_RESOURCE_TYPE)
    containers = {c["name"] for c in synthesized.resources(DEV, "azurerm_storage_container").values()}
    urls = resolve(stack, stack.outputs.lake_urls)
    assert set(urls) == set(LAKE_CONTAINERS) == containers
    dfs_host = ref(StorageAccount.TF_RESOURCE_TYPE, account, "primary_dfs_host")
    for name, url in urls.items():
        assert url == f"abfss://{name}@{dfs_host}/"


def test_every_output_the_workspace_stack_reads_exists_in_the_platform_stack(synthesized, team_envs):
    for platform_stack, team_env in team_envs.items():
        outputs = synthesized.json(platform_stack).get("output", {})
        workspace_text = synthesized.text(team_env.names.workspace_stack)
        read = set(re.findall(r"terraform_remote_state\.[\w-]+\.outputs\.([\w-]+)", workspace_text))
        assert read, f"{team_env.names.workspace_stack} reads nothing from {platform_stack}"
        assert read <= set(outputs), sorted(read - set(outputs))


def test_platform_stack_holds_no_secret_material(synthesized, team_envs):
    for stack in team_envs:
        text = synthesized.text(stack)
        assert not re.search(r"(?i)(client_secret|access_key|sas_token|password)\"\s*:", text), stack
