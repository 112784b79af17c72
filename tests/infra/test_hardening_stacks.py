"""Workspace hardening in the committed envs' stacks: prod carries every control, dev only verbose audit logs."""

import pytest

from infra.constructs.databricks.workspace_settings import workspace_conf

SETTINGS = (
    "databricks_disable_legacy_access_setting",
    "databricks_disable_legacy_dbfs_setting",
    "databricks_restrict_workspace_admins_setting",
)
AWS_SETTINGS = (
    "databricks_compliance_security_profile_workspace_setting",
    "databricks_enhanced_security_monitoring_workspace_setting",
    "databricks_automatic_cluster_update_workspace_setting",
)


@pytest.mark.parametrize("stack", ["churn-prod-workspace", "pricing-prod-workspace", "risk-prod-workspace"])
def test_prod_workspaces_turn_legacy_off_and_restrict_admins(synthesized, stack):
    assert synthesized.only(stack, "databricks_disable_legacy_access_setting")["disable_legacy_access"] == {
        "value": True
    }
    assert synthesized.only(stack, "databricks_disable_legacy_dbfs_setting")["disable_legacy_dbfs"] == {
        "value": True
    }
    restrict = synthesized.only(stack, "databricks_restrict_workspace_admins_setting")
    assert restrict["restrict_workspace_admins"] == {"status": "RESTRICT_TOKENS_AND_JOB_RUN_AS"}
    conf = synthesized.only(stack, "databricks_workspace_conf")["custom_config"]
    assert conf["enableVerboseAuditLogs"] == "true"
    assert conf["enableResultsDownloading"] == conf["enableExportNotebook"] == "false"
    assert conf["enableNotebookTableClipboard"] == "false"


@pytest.mark.parametrize("stack", ["churn-dev-workspace", "risk-dev-workspace"])
def test_dev_stays_cheap(synthesized, stack):
    for resource_type in (*SETTINGS, *AWS_SETTINGS, "databricks_ip_access_list"):
        assert synthesized.resources(stack, resource_type) == {}
    conf = synthesized.only(stack, "databricks_workspace_conf")["custom_config"]
    assert conf["enableVerboseAuditLogs"] == "true" and conf["enableResultsDownloading"] == "true"
    assert conf["enableIpAccessLists"] == "false"


def test_azure_prod_workspace_has_the_compliance_profile_on_the_workspace(synthesized):
    """azurerm v4.55.0 databricks_workspace_resource.go: the profile needs monitoring and cluster update on; the
    settings are the workspace's, so the Azure workspace stack creates no settings resource for them."""
    workspace = synthesized.only("churn-prod-platform", "azurerm_databricks_workspace")
    assert workspace["enhanced_security_compliance"] == {
        "automatic_cluster_update_enabled": True,
        "compliance_security_profile_enabled": True,
        "enhanced_security_monitoring_enabled": True,
    }
    for resource_type in AWS_SETTINGS:
        assert synthesized.resources("churn-prod-workspace", resource_type) == {}
    dev = synthesized.only("churn-dev-platform", "azurerm_databricks_workspace")
    assert not any(dev["enhanced_security_compliance"].values())


def test_aws_prod_gets_the_settings_resources_and_the_enterprise_tier(synthesized):
    """databricks v1.99.0 settings/resource_compliance_security_profile_setting.go: compliance_standards is
    required; the profile needs the Enterprise tier, which a workspace gets only at creation."""
    profile = synthesized.only(
        "risk-prod-workspace", "databricks_compliance_security_profile_workspace_setting"
    )
    assert profile["compliance_security_profile_workspace"] == {
        "is_enabled": True,
        "compliance_standards": ["NONE"],
    }
    # The profile turns monitoring and cluster update on and keeps them on (databricks v1.99.0
    # docs/resources/enhanced_security_monitoring_setting.md; SRA aws/tf/main.tf). Declared beside it, their
    # destroy would send is_enabled/enabled false (settings/resource_*_setting.go deleteFunc) under the profile.
    for resource_type in AWS_SETTINGS[1:]:
        assert synthesized.resources("risk-prod-workspace", resource_type) == {}
    assert synthesized.only("risk-prod-account", "databricks_mws_workspaces")["pricing_tier"] == "ENTERPRISE"
    assert synthesized.only("risk-dev-account", "databricks_mws_workspaces")["pricing_tier"] == "PREMIUM"


@pytest.mark.parametrize(
    ("stack", "addresses", "nat"),
    [
        ("pricing-prod-workspace", ["198.51.100.0/24", "203.0.113.10"], 1),
        # isolated egress: no NAT, the clusters reach the control plane through back-end PrivateLink
        ("risk-prod-workspace", ["198.51.100.0/24", "203.0.113.20"], 0),
    ],
)
def test_public_prod_front_ends_get_their_ip_access_list_after_the_switch(synthesized, stack, addresses, nat):
    """databricks v1.99.0 docs/resources/ip_access_list.md: lists apply once enableIpAccessLists is on, so the list
    depends on the workspace_conf: created after it, destroyed before deleting the conf resets the key. The
    configured ranges come first; after them the clusters' NAT address where they have one (test_a_list_allows_...)."""
    ip_list = synthesized.only(stack, "databricks_ip_access_list")
    assert ip_list["list_type"] == "ALLOW" and ip_list["ip_addresses"][: len(addresses)] == addresses
    assert len(ip_list["ip_addresses"]) == len(addresses) + nat
    conf_address = next(iter(synthesized.resources(stack, "databricks_workspace_conf")))
    assert ip_list["depends_on"] == [f"databricks_workspace_conf.{conf_address}"]
    assert (
        synthesized.only(stack, "databricks_workspace_conf")["custom_config"]["enableIpAccessLists"] == "true"
    )


def test_a_private_front_end_gets_no_ip_access_list(synthesized):
    assert synthesized.resources("churn-prod-workspace", "databricks_ip_access_list") == {}
    conf = synthesized.only("churn-prod-workspace", "databricks_workspace_conf")["custom_config"]
    assert conf["enableIpAccessLists"] == "false"


def test_workspace_conf_keeps_the_token_switch(platform_config):
    dev = next(te for te in platform_config.team_envs if te.key == "churn/dev")
    assert workspace_conf(dev)["enableTokensConfig"] == "false"


def test_aws_monitoring_and_cluster_update_without_the_profile_are_settings_resources(fake_wheel, tmp_path):
    """Without the profile they are settings of their own, switched off again on destroy (not permanent)."""
    import json

    import yaml

    from infra.app import build_app
    from infra.config import parse_config
    from tests.infra.test_config_deploy_runner import committed
    from tests.infra.test_config_hardening import team

    config = committed()
    team(config, "risk")["environments"]["dev"]["hardening"] = {
        "enhanced_security_monitoring": True,
        "automatic_cluster_update": True,
    }
    parsed = parse_config(yaml.safe_dump(config))
    team_env = next(te for te in parsed.team_envs if te.key == "risk/dev")
    build_app(parsed, outdir=tmp_path, wheel=fake_wheel, team_envs=[team_env]).synth()
    stack = json.loads((tmp_path / "stacks" / "risk-dev-workspace" / "cdk.tf.json").read_text())["resource"]
    assert "databricks_compliance_security_profile_workspace_setting" not in stack
    (esm,) = stack["databricks_enhanced_security_monitoring_workspace_setting"].values()
    assert esm["enhanced_security_monitoring_workspace"] == {"is_enabled": True}
    (acu,) = stack["databricks_automatic_cluster_update_workspace_setting"].values()
    assert acu["automatic_cluster_update_workspace"] == {"enabled": True}


@pytest.mark.parametrize("team_name", ["pricing", "risk"])
def test_a_list_allows_the_clusters_nat_address(fake_wheel, tmp_path, team_name):
    """Databricks docs, "Configure IP access lists for workspaces": the compute plane's public IPs must be on an
    allow list or no classic cluster launches. With NAT egress (egress: open) that address exists only once the
    platform stack has created it (an Azure public IP, an AWS Elastic IP), so the workspace stack lists it by
    reference beside the configured ranges."""
    import json

    import yaml

    from infra.app import build_app
    from infra.config import parse_config
    from tests.infra.test_config_deploy_runner import committed
    from tests.infra.test_config_hardening import team

    config = committed()
    dev = team(config, team_name)["environments"]["dev"]
    dev["deploy_runner"] = ["self-hosted", "office"]
    dev["hardening"] = {"ip_access_list": ["198.51.100.0/24"]}
    parsed = parse_config(yaml.safe_dump(config))
    team_env = next(te for te in parsed.team_envs if te.key == f"{team_name}/dev")
    build_app(parsed, outdir=tmp_path, wheel=fake_wheel, team_envs=[team_env]).synth()
    stack = json.loads((tmp_path / "stacks" / f"{team_name}-dev-workspace" / "cdk.tf.json").read_text())
    (ip_list,) = stack["resource"]["databricks_ip_access_list"].values()
    configured, nat = ip_list["ip_addresses"]
    assert configured == "198.51.100.0/24"
    assert nat.startswith("${data.terraform_remote_state.")
    assert ("egress-ip" if team_name == "pricing" else "nat-address") in nat.replace("_", "-")


def test_a_firewall_envs_list_allows_the_hub_firewalls_public_address(synthesized):
    """pricing/prod leaves through the hub firewall: its public address, named in
    platform.hub_network.firewall.public_ip_addresses, is on the workspace's list beside the configured ranges."""
    (ip_list,) = synthesized.json("pricing-prod-workspace")["resource"]["databricks_ip_access_list"].values()
    assert ip_list["ip_addresses"][-1] == "203.0.113.50"
