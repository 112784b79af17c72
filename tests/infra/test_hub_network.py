"""platform.hub_network: private envs peer with one hub and share its privatelink zones, so one runner in the hub
reaches every private env (new and ephemeral ones too) by name."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from infra.config import ConfigError, parse_config
from infra.lifecycle.ephemeral import cut
from tests.infra.conftest import SYNTH_TODAY, Synthesized

ROOT = Path(__file__).resolve().parents[2]
HUB_SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
HUB_VNET = f"/subscriptions/{HUB_SUBSCRIPTION}/resourceGroups/rg-hub/providers/Microsoft.Network/virtualNetworks/vnet-hub"
HUB_ZONES = f"/subscriptions/{HUB_SUBSCRIPTION}/resourceGroups/rg-hub-dns"
ZONES = (
    "privatelink.azuredatabricks.net",
    "privatelink.dfs.core.windows.net",
    "privatelink.blob.core.windows.net",
    "privatelink.vaultcore.azure.net",
)
PROD, DEV, EPHEMERAL = "churn-prod-platform", "churn-dev-platform", "churn-pr7-platform"


def with_hub(**hub) -> dict:
    config = yaml.safe_load((ROOT / "platform.yaml").read_text())
    config["platform"]["hub_network"] = {
        "virtual_network_id": HUB_VNET,
        "private_dns_zones_resource_group_id": HUB_ZONES,
        **hub,
    }
    return config


@pytest.fixture(scope="module")
def hub_synth(fake_wheel, tmp_path_factory) -> Synthesized:
    from infra.app import build_app

    config = parse_config(yaml.safe_dump(with_hub()))
    envs = {te.key: te for te in config.team_envs}
    ephemeral = cut(envs["churn/prod"], name="pr7", slot=0, owner="ana@example.com",
                    expires_at=datetime.now(UTC) + timedelta(hours=8))  # fmt: skip
    outdir = tmp_path_factory.mktemp("cdktf.out.hub")
    team_envs = [envs["churn/prod"], envs["churn/dev"], ephemeral]
    app = build_app(config, outdir=outdir, wheel=fake_wheel, team_envs=team_envs, today=SYNTH_TODAY)
    app.synth()  # the policy packs run here: a violation would fail the synth
    return Synthesized(outdir=outdir, app=app)


def _hub_provider(synthesized: Synthesized, stack: str) -> dict:
    [hub] = [p for p in synthesized.json(stack)["provider"]["azurerm"] if p.get("alias") == "hub"]
    return hub


@pytest.mark.parametrize("stack", [PROD, EPHEMERAL])
def test_private_envs_peer_with_the_hub_both_ways_through_a_provider_in_the_hubs_subscription(
    hub_synth, stack
):
    hub = _hub_provider(hub_synth, stack)
    assert hub["subscription_id"] == HUB_SUBSCRIPTION
    # the deployer holds network roles only there: registering resource providers would be refused
    assert hub["resource_provider_registrations"] == "none"
    peerings = {p["name"]: p for p in hub_synth.resources(stack, "azurerm_virtual_network_peering").values()}
    vnet = hub_synth.only(stack, "azurerm_virtual_network")["name"]
    to_hub, from_hub = peerings[f"peer-{vnet}-to-hub"], peerings[f"peer-hub-to-{vnet}"]
    assert to_hub["remote_virtual_network_id"] == HUB_VNET and "provider" not in to_hub
    assert to_hub["virtual_network_name"].startswith("${azurerm_virtual_network.")
    assert (from_hub["provider"], from_hub["resource_group_name"], from_hub["virtual_network_name"]) == (
        "azurerm.hub", "rg-hub", "vnet-hub",
    )  # fmt: skip
    assert from_hub["remote_virtual_network_id"].startswith("${azurerm_virtual_network.")
    for peering in (to_hub, from_hub):  # the runner gets the env's endpoints, nothing routes through
        assert peering["allow_forwarded_traffic"] is False and peering["use_remote_gateways"] is False


@pytest.mark.parametrize("stack", [PROD, EPHEMERAL])
def test_private_endpoints_register_in_the_hubs_zones_which_the_env_links_to_its_vnet(hub_synth, stack):
    assert not hub_synth.resources(stack, "azurerm_private_dns_zone")  # no zone of its own
    zone_ids = {
        endpoint["private_service_connection"]["subresource_names"][0]: endpoint["private_dns_zone_group"][
            "private_dns_zone_ids"
        ]
        for endpoint in hub_synth.resources(stack, "azurerm_private_endpoint").values()
    }
    zone_of = {"databricks_ui_api": ZONES[0], "dfs": ZONES[1], "blob": ZONES[2], "vault": ZONES[3]}
    assert zone_ids == {
        subresource: [f"{HUB_ZONES}/providers/Microsoft.Network/privateDnsZones/{zone}"]
        for subresource, zone in zone_of.items()
    }
    links = hub_synth.resources(stack, "azurerm_private_dns_zone_virtual_network_link").values()
    vnet = hub_synth.only(stack, "azurerm_virtual_network")["name"]
    assert sorted(link["private_dns_zone_name"] for link in links) == sorted(ZONES)
    for link in links:
        assert (link["provider"], link["resource_group_name"], link["name"]) == ("azurerm.hub", "rg-hub-dns",
                                                                                 f"link-{vnet}")  # fmt: skip
        assert link["virtual_network_id"].startswith("${azurerm_virtual_network.")


def test_envs_in_the_shared_zone_leave_sign_in_to_the_hubs_web_auth_endpoint(hub_synth):
    subresources = [
        e["private_service_connection"]["subresource_names"][0]
        for e in hub_synth.resources(PROD, "azurerm_private_endpoint").values()
    ]
    # a second browser_authentication endpoint in the shared zone would take over the region's pl-auth record
    assert "browser_authentication" not in subresources and "databricks_ui_api" in subresources


def test_public_envs_stay_off_the_hub(hub_synth):
    assert not hub_synth.resources(DEV, "azurerm_virtual_network_peering")
    assert all(p.get("alias") != "hub" for p in hub_synth.json(DEV)["provider"]["azurerm"])


def test_hub_stacks_pass_checkov(hub_synth):
    from infra.cli.scan import scan

    results = {r.name: r for r in scan(hub_synth.outdir)}
    assert all(results[stack].ok for stack in (PROD, EPHEMERAL, DEV)), {
        name: r.failed for name, r in results.items() if not r.ok
    }


@pytest.mark.parametrize(
    ("hub", "words"),
    [
        ({"virtual_network_id": "vnet-hub"}, "platform.hub_network.virtual_network_id"),
        (
            {
                "private_dns_zones_resource_group_id": "/subscriptions/99999999-2222-3333-4444-555555555555/resourceGroups/dns"
            },
            "private_dns_zones_resource_group_id must be in the hub VNet's subscription",
        ),
        ({"zones": ["x"]}, "platform.hub_network.zones"),
    ],
    ids=["not-an-arm-id", "zones-in-another-subscription", "unknown-key"],
)
def test_a_bad_hub_is_one_line_naming_the_field(hub, words):
    with pytest.raises(ConfigError) as caught:
        parse_config(yaml.safe_dump(with_hub(**hub)), source="platform.yaml")
    lines = caught.value.lines()
    assert len(lines) == 1 and words in lines[0], lines
