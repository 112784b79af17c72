"""The platform stack (`<team>-<env>-platform`): what each team-env gets in Azure, checked on synthesized JSON."""

import json
import re
import tempfile
from datetime import UTC, date, datetime

import cdktf
import pytest
from cdktf_cdktf_provider_azurerm.consumption_budget_subscription import ConsumptionBudgetSubscription
from cdktf_cdktf_provider_azurerm.databricks_workspace import DatabricksWorkspace
from cdktf_cdktf_provider_azurerm.key_vault import KeyVault
from cdktf_cdktf_provider_azurerm.storage_account import StorageAccount

from infra.aspects.stack_aspects import AspectApp
from infra.config import TeamEnv
from infra.config.egress import Egress
from infra.config.environment import CustomerManagedKey, EnvironmentConfig
from infra.constructs.contracts import LAKE_CONTAINERS
from infra.stacks.platform_stack import PlatformStack
from tests.infra.conftest import SYNTH_TODAY, Synthesized

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


# A customer key in another subscription than the envs' (config: existing_key_id / existing_key_vault_id).
FOREIGN_VAULT = "/subscriptions/99999999-8888-4777-8666-555555555555/resourceGroups/rg-keys/providers/Microsoft.KeyVault/vaults/kv-keys"
FOREIGN_KEY = "https://kv-keys.vault.azure.net/keys/cmk/0123456789abcdef0123456789abcdef"
OPEN_EGRESS = Egress(mode="open", open_reason="no hub firewall without platform.hub_network")


@pytest.fixture(scope="module")
def islands(platform_config, fake_wheel, tmp_path_factory) -> Synthesized:
    """The private prod envs as validate accepts them without platform.hub_network: zones of their own, and an
    existing key (a stack-created one needs the hub), here in another subscription."""
    from infra.app import build_app

    platform = platform_config.platform.model_copy(update={"hub_network": None})
    key = CustomerManagedKey(existing_key_id=FOREIGN_KEY, existing_key_vault_id=FOREIGN_VAULT)
    team_envs = [
        te.model_copy(
            update={
                "platform": platform,
                # Without the hub there is no firewall: open egress, with the reason prod needs.
                "settings": te.settings.model_copy(
                    update={"customer_managed_key": key, "egress": OPEN_EGRESS}
                ),
            }
        )
        for te in platform_config.team_envs
        if te.key in ("churn/prod", "pricing/prod")
    ]
    outdir = tmp_path_factory.mktemp("cdktf.out.islands")
    app = build_app(platform_config, outdir=outdir, wheel=fake_wheel, team_envs=team_envs, today=SYNTH_TODAY)
    app.synth()
    return Synthesized(outdir=outdir, app=app)


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
        assert path.endswith(f"terraform.dbp-{stack}.tfstate"), path
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
    workspace = ref(
        DatabricksWorkspace.TF_RESOURCE_TYPE,
        logical_name(synthesized, stack, DatabricksWorkspace.TF_RESOURCE_TYPE),
        "id",
    )
    assert [
        name
        for name, endpoint in synthesized.resources(stack, "azurerm_private_endpoint").items()
        if endpoint["private_service_connection"]["private_connection_resource_id"] == workspace
    ] == []


def test_private_front_end_in_churn_prod_goes_through_private_link(islands, team_envs):
    """Without a hub: the env's own zone, its own sign-in endpoint (the hub's shape: test_hub_network.py)."""
    synthesized = islands
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
    # the front end (UI/API) and the SSO callback host (browser_authentication): without the second, Entra ID
    # sign-in to a private workspace never completes
    for subresource in ("databricks_ui_api", "browser_authentication"):
        assert has(
            synthesized,
            PROD,
            "azurerm_private_endpoint",
            {
                "subnet_id": ref("azurerm_subnet", endpoint_subnet, "id"),
                "private_service_connection": {
                    "private_connection_resource_id": ref(
                        DatabricksWorkspace.TF_RESOURCE_TYPE, workspace, "id"
                    ),
                    "subresource_names": [subresource],
                    "is_manual_connection": False,
                },
                "private_dns_zone_group": {
                    "private_dns_zone_ids": [ref("azurerm_private_dns_zone", zone, "id")]
                },
            },
        ), subresource
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


@pytest.mark.parametrize("stack", [PROD])
def test_every_private_front_end_has_exactly_one_sign_in_endpoint_after_its_ui_endpoint(islands, stack):
    endpoints = islands.resources(stack, "azurerm_private_endpoint")
    by_subresource = {}
    for name, endpoint in endpoints.items():
        [subresource] = endpoint["private_service_connection"]["subresource_names"]
        by_subresource.setdefault(subresource, []).append(name)
    assert len(by_subresource["browser_authentication"]) == 1
    assert len(by_subresource["databricks_ui_api"]) == 1
    [browser], [ui] = by_subresource["browser_authentication"], by_subresource["databricks_ui_api"]
    # both change the workspace's private endpoint connections: created one after the other
    assert endpoints[browser]["depends_on"] == [f"azurerm_private_endpoint.{ui}"]


# Copied from azurerm v4.55.0 internal/services/network/validate/private_link_subresource_name.go: the provider
# checks subresource names only against this pattern (the Databricks names come from the Azure API, and the
# provider's own acceptance tests in internal/services/databricks/databricks_workspace_resource_test.go use
# "databricks_ui_api"); subresource_names is ForceNew (private_endpoint_resource.go), so a typo costs a
# re-created endpoint at apply, not a plan error.
AZURERM_SUBRESOURCE_NAME = re.compile(r"^([a-zA-Z0-9])([\w\.-]{1,61})([a-zA-Z0-9])$")


def test_private_endpoint_subresources_are_names_azure_and_the_provider_accept(synthesized):
    from infra.constructs.azure import databricks_workspace

    assert databricks_workspace.UI_API_SUBRESOURCE == "databricks_ui_api"
    assert databricks_workspace.BROWSER_AUTH_SUBRESOURCE == "browser_authentication"
    for stack in synthesized.stack_names:
        for endpoint in synthesized.resources(stack, "azurerm_private_endpoint").values():
            for name in endpoint["private_service_connection"]["subresource_names"]:
                assert AZURERM_SUBRESOURCE_NAME.match(name), (stack, name)


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
    base = team_envs[DEV]
    unset = base.model_copy(
        update={"platform": base.platform.model_copy(update={"azure_databricks_sp_object_id": None})}
    )
    assert not any(
        a["role_definition_name"] == "Key Vault Secrets User"
        for a in synth_alone(unset)["resource"]["azurerm_role_assignment"].values()
    )
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
            assert config["lifecycle"]["prevent_destroy"] is True, name


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


def test_budget_alerts_at_every_threshold_from_the_synth_month(synthesized, team_envs):
    team_env = team_envs[PROD]
    budget = synthesized.only(PROD, ConsumptionBudgetSubscription.TF_RESOURCE_TYPE)
    assert budget["amount"] == team_env.settings.budget.amount
    assert budget["time_grain"] == "Monthly"
    # the session's synth runs "on" SYNTH_TODAY (tests/infra/conftest.py)
    assert budget["time_period"] == {"start_date": "2026-11-01T00:00:00Z"}
    # a later synth month must not replace the budgets of existing envs
    assert budget["lifecycle"] == {"ignore_changes": ["time_period"]}
    assert [n["threshold"] for n in budget["notification"]] == [50, 80, 100]
    for notification in budget["notification"]:
        assert notification["contact_emails"] == ["churn-team@example.com"]
        assert notification["threshold_type"] == "Actual"
        assert notification["operator"] == "GreaterThanOrEqualTo"


@pytest.mark.parametrize("stack", [DEV, PROD])
def test_budget_counts_the_clusters_in_the_workspaces_managed_resource_group(synthesized, team_envs, stack):
    """Cluster VMs run in the workspace's managed resource group: a budget on the env's own group never sees
    them. The subscription budget filters on both groups (azurerm v4.55.0
    internal/services/consumption/consumption_budget_base.go: filter.dimension, name ResourceGroupName, In)."""
    names = team_envs[stack].names
    budget = synthesized.only(stack, ConsumptionBudgetSubscription.TF_RESOURCE_TYPE)
    rg = logical_name(synthesized, stack, "azurerm_resource_group")
    workspace = synthesized.only(stack, DatabricksWorkspace.TF_RESOURCE_TYPE)
    assert workspace["managed_resource_group_name"] == names.managed_resource_group
    assert budget["filter"] == {
        "dimension": [
            {
                "name": "ResourceGroupName",
                "operator": "In",
                "values": [ref("azurerm_resource_group", rg, "name"), names.managed_resource_group],
            }
        ]
    }
    # subscription_id unset in the committed config: the deploy's own subscription, as ARM's ID
    assert budget["subscription_id"] == "/subscriptions/${data.azurerm_client_config.current.subscription_id}"
    assert not synthesized.resources(stack, "azurerm_consumption_budget_resource_group")


def _budget_start_of(stack_json: dict) -> str:
    budget = next(iter(stack_json["resource"][ConsumptionBudgetSubscription.TF_RESOURCE_TYPE].values()))
    return budget["time_period"]["start_date"]


@pytest.mark.parametrize(
    ("today", "configured", "start"),
    [
        # "Past start date should be selected within the timegrain period" (azurerm v4.55.0
        # website/docs/r/consumption_budget_resource_group.html.markdown, the Consumption API's rule): a new
        # env deployed months after a fixed config date must start in the deploy's month.
        (date(2027, 3, 17), None, "2027-03-01T00:00:00Z"),
        (date(2027, 3, 17), date(2026, 11, 1), "2027-03-01T00:00:00Z"),
        (date(2027, 3, 17), date(2027, 6, 1), "2027-06-01T00:00:00Z"),  # a later configured month still wins
    ],
)
def test_no_budget_starts_before_the_month_it_is_deployed_in(team_envs, today, configured, start):
    settings = team_envs[DEV].platform.model_copy(update={"budget_start": configured})
    team_env = team_envs[DEV].model_copy(update={"platform": settings})
    with tempfile.TemporaryDirectory() as outdir:
        stack = PlatformStack(AspectApp(outdir=outdir), "budget-check", team_env=team_env, today=today)
        assert _budget_start_of(json.loads(cdktf.Testing.synth(stack))) == start


def test_synth_date_can_be_pinned(team_envs, monkeypatch):
    from infra.constructs.azure.budget import utc_today

    monkeypatch.setenv("PLATFORM_SYNTH_DATE", "2027-03-17")
    assert utc_today() == date(2027, 3, 17)
    monkeypatch.setenv("PLATFORM_SYNTH_DATE", "yesterday")
    with pytest.raises(ValueError, match="PLATFORM_SYNTH_DATE must be a date"):
        utc_today()


def test_committed_config_deploys_a_budget_today(team_envs, monkeypatch):
    """The workflows pin SOURCE_DATE_EPOCH to 1980 for a reproducible wheel: the budget must not follow it."""
    monkeypatch.delenv("PLATFORM_SYNTH_DATE", raising=False)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "315532800")
    # what `platform synth` writes now, on the real clock: never a month Azure refuses
    this_month = datetime.now(UTC).date().replace(day=1)
    start = _budget_start_of(synth_alone(team_envs[DEV]))
    assert date.fromisoformat(start[:10]) >= this_month


def test_ephemeral_budget_starts_in_its_expiry_month(ephemeral_json):
    # expires 2026-12-02: December, unless the test runs later (never a month before the deploy's)
    this_month = datetime.now(UTC).date().replace(day=1)
    assert _budget_start_of(ephemeral_json) == f"{max(date(2026, 12, 1), this_month).isoformat()}T00:00:00Z"


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


# --- network isolation and customer-managed keys (prod: private + CMK; dev: service endpoints, no key) -------


def _by_subresource(synthesized, stack) -> dict[str, dict]:
    return {
        endpoint["private_service_connection"]["subresource_names"][0]: endpoint
        for endpoint in synthesized.resources(stack, "azurerm_private_endpoint").values()
    }


def test_private_prod_reaches_lake_and_vault_only_through_private_endpoints(islands):
    synthesized = islands  # the env's own zones; in the hub's: test_hub_network.py
    account = logical_name(synthesized, PROD, StorageAccount.TF_RESOURCE_TYPE)
    vault = logical_name(synthesized, PROD, KeyVault.TF_RESOURCE_TYPE)
    lake = synthesized.only(PROD, StorageAccount.TF_RESOURCE_TYPE)
    assert lake["public_network_access_enabled"] is False
    # subnet rules mean nothing without a public endpoint; the connector rule and the bypass stay
    assert "virtual_network_subnet_ids" not in lake["network_rules"]
    assert lake["network_rules"]["bypass"] == ["AzureServices"]
    assert synthesized.only(PROD, KeyVault.TF_RESOURCE_TYPE)["public_network_access_enabled"] is False
    endpoints = _by_subresource(synthesized, PROD)
    zones = {
        config["name"]: name
        for name, config in synthesized.resources(PROD, "azurerm_private_dns_zone").items()
    }
    for subresource, target, zone in (
        ("dfs", ref("azurerm_storage_account", account, "id"), "privatelink.dfs.core.windows.net"),
        ("blob", ref("azurerm_storage_account", account, "id"), "privatelink.blob.core.windows.net"),
        ("vault", ref("azurerm_key_vault", vault, "id"), "privatelink.vaultcore.azure.net"),
    ):
        endpoint = endpoints[subresource]
        assert endpoint["private_service_connection"]["private_connection_resource_id"] == target
        assert endpoint["private_dns_zone_group"]["private_dns_zone_ids"] == [
            ref("azurerm_private_dns_zone", zones[zone], "id")
        ]
    vnet = ref("azurerm_virtual_network", logical_name(synthesized, PROD, "azurerm_virtual_network"), "id")
    links = synthesized.resources(PROD, "azurerm_private_dns_zone_virtual_network_link").values()
    linked = {link["private_dns_zone_name"] for link in links if link["virtual_network_id"] == vnet}
    assert linked == {ref("azurerm_private_dns_zone", name, "name") for name in zones.values()}


def test_dev_keeps_the_service_endpoint_lake(synthesized):
    lake = synthesized.only(DEV, StorageAccount.TF_RESOURCE_TYPE)
    assert lake["public_network_access_enabled"] is True
    assert len(lake["network_rules"]["virtual_network_subnet_ids"]) == 2
    assert "identity" not in lake


def _role_grants(synthesized, stack) -> dict[str, set[tuple[str, str]]]:
    grants: dict[str, set[tuple[str, str]]] = {}
    for a in synthesized.resources(stack, "azurerm_role_assignment").values():
        grants.setdefault(a["principal_id"], set()).add((a["role_definition_name"], a["scope"]))
    return grants


def _waits(synthesized, stack) -> dict[str, str]:
    """time_sleep address -> the role assignment address it follows (its one trigger)."""
    found = {}
    for name, wait in synthesized.resources(stack, "time_sleep").items():
        [grant] = wait["triggers"].values()
        found[f"time_sleep.{name}"] = REFERENCE.match(grant).group(1, 2)
    return {wait: ".".join(grant) for wait, grant in found.items()}


def _wait_after(synthesized, stack, grant: str) -> str:
    [wait] = [w for w, g in _waits(synthesized, stack).items() if g == grant]
    return wait


def test_prod_key_is_hsm_backed_rotated_protected_and_created_through_the_hub(synthesized):
    key = synthesized.only(PROD, "azurerm_key_vault_key")
    vault = logical_name(synthesized, PROD, KeyVault.TF_RESOURCE_TYPE)
    assert synthesized.only(PROD, KeyVault.TF_RESOURCE_TYPE)["sku_name"] == "premium"  # RSA-HSM needs premium
    assert (key["key_type"], key["key_vault_id"]) == ("RSA-HSM", ref("azurerm_key_vault", vault, "id"))
    assert key["rotation_policy"] == {"automatic": {"time_after_creation": "P1Y"}}
    assert "expiration_date" not in key and "expire_after" not in key["rotation_policy"]
    assert key["lifecycle"] == {"prevent_destroy": True}
    grants = _role_grants(synthesized, PROD)
    creator = grants["${data.azurerm_client_config.current.object_id}"]
    assert creator == {("Key Vault Crypto Officer", ref("azurerm_key_vault", vault, "id"))}
    # The runner in the hub creates the key through the vault's data plane: the role in effect there (the wait),
    # the endpoint with its A record, the vault zone's link to the env's VNet and both peerings come first.
    [vault_endpoint] = [
        n
        for n, e in synthesized.resources(PROD, "azurerm_private_endpoint").items()
        if e["private_service_connection"]["subresource_names"] == ["vault"]
    ]
    [creator_assignment] = [
        n
        for n, a in synthesized.resources(PROD, "azurerm_role_assignment").items()
        if a["role_definition_name"] == "Key Vault Crypto Officer"
    ]
    [vault_link] = [
        n
        for n, link in synthesized.resources(PROD, "azurerm_private_dns_zone_virtual_network_link").items()
        if link["private_dns_zone_name"] == "privatelink.vaultcore.azure.net"
    ]
    peerings = [
        f"azurerm_virtual_network_peering.{n}"
        for n in synthesized.resources(PROD, "azurerm_virtual_network_peering")
    ]
    assert len(peerings) == 2
    assert sorted(key["depends_on"]) == sorted(
        [
            _wait_after(synthesized, PROD, f"azurerm_role_assignment.{creator_assignment}"),
            f"azurerm_private_endpoint.{vault_endpoint}",
            f"azurerm_private_dns_zone_virtual_network_link.{vault_link}",
            *peerings,
        ]
    )


def test_prod_lake_workspace_and_dbfs_use_the_key_once_their_roles_are_in_effect(
    synthesized, platform_config
):
    key = logical_name(synthesized, PROD, "azurerm_key_vault_key")
    account = logical_name(synthesized, PROD, StorageAccount.TF_RESOURCE_TYPE)
    workspace_name = logical_name(synthesized, PROD, DatabricksWorkspace.TF_RESOURCE_TYPE)
    vault = ref("azurerm_key_vault", logical_name(synthesized, PROD, KeyVault.TF_RESOURCE_TYPE), "id")
    key_scope = ref("azurerm_key_vault_key", key, "resource_versionless_id")
    grants = _role_grants(synthesized, PROD)
    user = ("Key Vault Crypto Service Encryption User", key_scope)
    waits = {
        a["principal_id"]: _wait_after(synthesized, PROD, f"azurerm_role_assignment.{n}")
        for n, a in synthesized.resources(PROD, "azurerm_role_assignment").items()
        if a["role_definition_name"] == user[0]
    }
    lake_identity = ref("azurerm_storage_account", account, "identity[0].principal_id")
    disk_identity = ref(
        DatabricksWorkspace.TF_RESOURCE_TYPE, workspace_name, "managed_disk_identity[0].principal_id"
    )
    dbfs_identity = ref(
        DatabricksWorkspace.TF_RESOURCE_TYPE, workspace_name, "storage_account_identity[0].principal_id"
    )
    databricks_app = str(platform_config.platform.azure_databricks_sp_object_id)
    for principal in (lake_identity, disk_identity, dbfs_identity, databricks_app):
        assert user in grants[principal], principal

    # storage CMK as its own resource with the account's system identity: in azurerm v4.55.0
    # (internal/services/storage/storage_account_resource.go) the inline customer_managed_key block requires
    # user_assigned_identity_id; the account ignores the block, as the provider docs of the separate resource say
    lake = synthesized.only(PROD, StorageAccount.TF_RESOURCE_TYPE)
    assert lake["identity"] == {"type": "SystemAssigned"}
    assert lake["lifecycle"]["ignore_changes"] == ["customer_managed_key"]
    lake_key = synthesized.only(PROD, "azurerm_storage_account_customer_managed_key")
    assert lake_key["storage_account_id"] == ref("azurerm_storage_account", account, "id")
    assert lake_key["key_name"] == ref("azurerm_key_vault_key", key, "name")
    assert "key_version" not in lake_key  # follows rotation
    assert lake_key["depends_on"] == [waits[lake_identity]]

    # the workspace's key IDs must be versioned: azurerm v4.55.0 databricks_workspace_resource.go and
    # databricks_workspace_root_dbfs_customer_managed_key_resource.go parse them with ParseNestedItemID, which
    # fails without a version (internal/services/keyvault/parse/nested_item.go)
    workspace = synthesized.only(PROD, DatabricksWorkspace.TF_RESOURCE_TYPE)
    versioned = ref("azurerm_key_vault_key", key, "id")
    assert (
        workspace["customer_managed_key_enabled"] is True
    )  # the DBFS key resource refuses the workspace without
    assert workspace["managed_services_cmk_key_vault_key_id"] == versioned
    assert workspace["managed_disk_cmk_key_vault_key_id"] == versioned
    assert (
        workspace["managed_services_cmk_key_vault_id"] == workspace["managed_disk_cmk_key_vault_id"] == vault
    )
    assert workspace["managed_disk_cmk_rotation_to_latest_version_enabled"] is True
    assert waits[databricks_app] in workspace["depends_on"]  # wraps managed services at creation
    dbfs = synthesized.only(PROD, "azurerm_databricks_workspace_root_dbfs_customer_managed_key")
    assert dbfs["workspace_id"] == ref(DatabricksWorkspace.TF_RESOURCE_TYPE, workspace_name, "id")
    assert (dbfs["key_vault_key_id"], dbfs["key_vault_id"]) == (versioned, vault)
    ui_api = logical_name(
        synthesized, PROD, "azurerm_private_endpoint", name="pe-" + workspace["name"] + "-ui-api"
    )
    # its PUT rewrites the workspace: not while the workspace's private endpoint is being created; and the apply
    # ends only once the disks' key role is honoured too (clusters encrypt their disks from the first start)
    assert sorted(dbfs["depends_on"]) == sorted(
        [waits[dbfs_identity], waits[disk_identity], f"azurerm_private_endpoint.{ui_api}"]
    )


def test_a_customer_key_in_another_subscription_is_looked_up_there(islands):
    """azurerm v4.55.0 internal/services/databricks/databricks_workspace_resource.go and
    databricks_workspace_root_dbfs_customer_managed_key_resource.go resolve a key's vault from its URL in the
    subscription of *_key_vault_id, or in the workspace's when it is unset: a key elsewhere is then not found."""
    for stack in (PROD, PUBLIC_PROD):
        workspace = islands.only(stack, DatabricksWorkspace.TF_RESOURCE_TYPE)
        assert workspace["managed_services_cmk_key_vault_key_id"] == FOREIGN_KEY
        assert workspace["managed_services_cmk_key_vault_id"] == FOREIGN_VAULT
        assert workspace["managed_disk_cmk_key_vault_id"] == FOREIGN_VAULT
        dbfs = islands.only(stack, "azurerm_databricks_workspace_root_dbfs_customer_managed_key")
        assert (dbfs["key_vault_key_id"], dbfs["key_vault_id"]) == (FOREIGN_KEY, FOREIGN_VAULT)
        assert "azurerm_key_vault_key" not in islands.json(stack)["resource"]


def test_ephemeral_env_cut_from_prod_gets_no_key_its_vault_could_not_protect(ephemeral, team_envs):
    # Azure requires purge protection on a CMK's vault; ephemeral vaults have none so they can be purged
    settings = team_envs[PROD].settings.model_copy(update={"network": ephemeral.settings.network})
    assert settings.customer_managed_key is not None and settings.network_isolation == "private"
    resources = synth_alone(ephemeral.model_copy(update={"settings": settings}))["resource"]
    for resource_type in (
        "azurerm_key_vault_key",
        "azurerm_storage_account_customer_managed_key",
        "azurerm_databricks_workspace_root_dbfs_customer_managed_key",
    ):
        assert resource_type not in resources
    # the private network path is kept: it costs a few endpoints for a few hours
    assert next(iter(resources["azurerm_storage_account"].values()))["public_network_access_enabled"] is False
