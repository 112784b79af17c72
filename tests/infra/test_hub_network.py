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
HUB_FIREWALL = {
    "private_ip_address": "10.0.1.4",
    "policy_id": f"/subscriptions/{HUB_SUBSCRIPTION}/resourceGroups/rg-hub/providers/Microsoft.Network/"
    "firewallPolicies/afwp-hub",
}
# Without the hub's firewall, prod egress is open: with the reason validate asks for (infra/config/egress.py).
OPEN_EGRESS = {"mode": "open", "open_reason": "no hub firewall in this test's platform"}
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
        "firewall": HUB_FIREWALL,
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
    for peering in (to_hub, from_hub):  # no gateway transit either way
        assert peering["use_remote_gateways"] is False and peering["allow_gateway_transit"] is False
    # Only what the hub's firewall forwards back into the env (prod egresses through it: test_egress_azure.py).
    assert from_hub["allow_forwarded_traffic"] is False and to_hub["allow_forwarded_traffic"] is True


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


def test_public_envs_stay_off_the_hub_but_keep_its_provider(hub_synth):
    """An env that turns public (or whose hub is removed) still has hub-side resources in state, recorded with
    provider azurerm.hub: Terraform plans their destroy only through a provider block of that alias, so it is
    emitted whatever the env's network; with a hub, in the hub's subscription."""
    assert not hub_synth.resources(DEV, "azurerm_virtual_network_peering")
    assert not hub_synth.resources(DEV, "azurerm_private_dns_zone_virtual_network_link")
    assert _hub_provider(hub_synth, DEV)["subscription_id"] == HUB_SUBSCRIPTION


def _without_hub() -> dict:
    """The committed config without a hub, as validate accepts it: existing keys, one runner per private env,
    public front ends."""
    config = yaml.safe_load((ROOT / "platform.yaml").read_text())
    del config["platform"]["hub_network"]
    for index, team in enumerate(config["teams"]):
        prod = team["environments"]["prod"]
        if team.get("cloud") != "aws":
            vault = f"kv{team['name']}keys"
            prod["customer_managed_key"] = {
                "existing_key_id": f"https://{vault}.vault.azure.net/keys/cmk/{'0' * 32}",
                "existing_key_vault_id": f"/subscriptions/{HUB_SUBSCRIPTION}/resourceGroups/rg-keys/providers/"
                f"Microsoft.KeyVault/vaults/{vault}",
            }
            prod["deploy_runner"] = ["self-hosted", f"runner-{index}"]
            prod["public_network_access"] = True
            prod.setdefault("hardening", {"ip_access_list": ["198.51.100.0/24"]})  # public prod needs one
            prod["egress"] = OPEN_EGRESS
    return config


@pytest.fixture(scope="module")
def island_synth(fake_wheel, tmp_path_factory) -> Synthesized:
    from infra.app import build_app

    config = parse_config(yaml.safe_dump(_without_hub()))
    team_envs = [te for te in config.team_envs if te.key in ("churn/prod", "churn/dev")]
    outdir = tmp_path_factory.mktemp("cdktf.out.islands")
    app = build_app(config, outdir=outdir, wheel=fake_wheel, team_envs=team_envs, today=SYNTH_TODAY)
    app.synth()
    return Synthesized(outdir=outdir, app=app)


@pytest.mark.parametrize("stack", [PROD, DEV])
def test_without_a_hub_the_hub_alias_stays_for_what_state_still_holds(island_synth, stack):
    """Removing platform.hub_network leaves peerings and zone links in state under azurerm.hub. The alias stays,
    in the env's own subscription: azurerm deletes by the ID kept in state (it names the hub's subscription)."""
    hub = _hub_provider(island_synth, stack)
    main = next(p for p in island_synth.json(stack)["provider"]["azurerm"] if not p.get("alias"))
    assert hub.get("subscription_id") == main.get("subscription_id")
    assert hub["resource_provider_registrations"] == "none"


def test_moving_onto_the_hub_replaces_each_zone_link_in_place(hub_synth, island_synth):
    """Azure links a VNet to one zone of a name. Joining the hub swaps the env's own zones for the hub's: under
    one address the link is replaced, which deletes the old link before creating the new; under two, Terraform
    would create the hub link while the env's own still exists, and Azure refuses it."""

    def links(synthesized: Synthesized) -> dict[str, str]:
        found = synthesized.resources(PROD, "azurerm_private_dns_zone_virtual_network_link")
        zones = {n: z["name"] for n, z in synthesized.resources(PROD, "azurerm_private_dns_zone").items()}
        by_zone = {}
        for name, link in found.items():
            zone = link["private_dns_zone_name"]
            by_zone[zones.get(zone.split(".")[1], zone)] = name
        return by_zone

    own, shared = links(island_synth), links(hub_synth)
    assert set(shared) == set(ZONES)
    # Without the hub the front end stays public (azure_checks), so the env links its lake and vault zones only.
    assert set(own) == set(ZONES) - {"privatelink.azuredatabricks.net"}
    assert own == {zone: shared[zone] for zone in own}


def test_without_a_hub_a_stack_created_key_behind_a_private_vault_is_refused():
    config = yaml.safe_load((ROOT / "platform.yaml").read_text())
    del config["platform"]["hub_network"]
    with pytest.raises(ConfigError) as caught:
        parse_config(yaml.safe_dump(config), source="platform.yaml")
    lines = caught.value.lines()
    keys = [line for line in lines if ".customer_managed_key:" in line]
    assert len(keys) == 2 and all("platform.hub_network" in line for line in keys), lines
    # both prod envs also name one runner, whose VNet could link only one privatelink.vaultcore.azure.net
    [runner] = [line for line in lines if ".deploy_runner:" in line]
    assert (
        "teams.pricing.environments.prod.deploy_runner" in runner
        and "teams.churn.environments.prod" in runner
    )


def test_without_a_hub_private_envs_need_a_runner_each():
    config = _without_hub()
    parse_config(yaml.safe_dump(config))  # an existing key and a runner per private env: accepted
    config["teams"][1]["environments"]["prod"]["deploy_runner"] = config["teams"][0]["environments"]["prod"][
        "deploy_runner"
    ]
    with pytest.raises(ConfigError) as caught:
        parse_config(yaml.safe_dump(config), source="platform.yaml")
    [line] = caught.value.lines()
    assert "teams.pricing.environments.prod.deploy_runner" in line and "own runner" in line


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


def test_the_reaper_deletes_by_id_exactly_what_an_ephemeral_env_adds_to_the_hub(hub_synth):
    """When an ephemeral env's state is gone, the reaper deletes its side of the hub by ARM ID
    (HubNetwork.env_side_ids): the IDs must be those of what its stack creates through the hub provider."""
    hub = parse_config(yaml.safe_dump(with_hub())).platform.hub_network
    hub_side = set()
    for rtype in ("azurerm_virtual_network_peering", "azurerm_private_dns_zone_virtual_network_link"):
        for resource in hub_synth.resources(EPHEMERAL, rtype).values():
            if resource.get("provider") != "azurerm.hub":
                continue
            if rtype == "azurerm_virtual_network_peering":
                hub_side.add(f"{HUB_VNET}/virtualNetworkPeerings/{resource['name']}")
            else:
                zone = hub.private_dns_zone_id(resource["private_dns_zone_name"])
                hub_side.add(f"{zone}/virtualNetworkLinks/{resource['name']}")
    vnet = hub_synth.only(EPHEMERAL, "azurerm_virtual_network")["name"]
    assert len(hub_side) == 1 + len(ZONES)  # the peering and a link to each shared zone
    assert hub_side == set(hub.env_side_ids(vnet))


def test_without_a_hub_a_runner_label_subset_is_the_same_runner():
    """GitHub runs a job on any runner carrying all its labels: with `[self-hosted, runner-0]` on one env and
    `[self-hosted, linux, runner-0]` on another, the second env's runner serves both."""
    config = _without_hub()
    config["teams"][1]["environments"]["prod"]["deploy_runner"] = ["self-hosted", "linux", "runner-0"]
    with pytest.raises(ConfigError) as caught:
        parse_config(yaml.safe_dump(config), source="platform.yaml")
    [line] = caught.value.lines()
    assert (
        "teams.pricing.environments.prod.deploy_runner: the same runner as teams.churn.environments.prod"
        in line
    )
    assert line.endswith("or set platform.hub_network (docs/operations.md)")


def test_without_a_hub_a_private_front_end_is_refused():
    """A private front end resolves through the env's privatelink.azuredatabricks.net zone. Without a hub that
    zone is created in the platform stack's own apply and linked to the env's VNet only, so the runner that
    then deploys the workspace stack cannot resolve the workspace: validate refuses it instead of a half deploy."""
    config = _without_hub()
    config["teams"][0]["environments"]["prod"]["public_network_access"] = False
    del config["teams"][0]["environments"]["prod"]["hardening"]  # no IP access list on a private front end
    with pytest.raises(ConfigError) as caught:
        parse_config(yaml.safe_dump(config), source="platform.yaml")
    [line] = caught.value.lines()
    assert (
        "platform.yaml: teams.churn.environments.prod.public_network_access:" in line
        and "hub_network" in line
    )
    config["platform"]["hub_network"] = yaml.safe_load((ROOT / "platform.yaml").read_text())["platform"][
        "hub_network"
    ]
    parse_config(yaml.safe_dump(config))  # with the hub the same env is accepted
