"""Egress control on Azure (issue 25, item 1): prod envs send their clusters' internet traffic through the hub's
Azure Firewall, which allows only what Databricks needs and the env's allow-list; dev stays on a NAT gateway.

The pattern follows Databricks' security reference architecture with an existing hub (terraform-databricks-sra,
azure/tf/spoke.tf `create_spoke_firewall_rules`, azure/tf/modules/hub/firewall.tf, modules/virtual_network/subnets.tf).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from infra.config import ConfigError, parse_config
from infra.config.egress import firewall_priority
from tests.infra.conftest import OFFLINE_WORKLOAD, SYNTH_TODAY, Synthesized
from tests.terraform_graph import StackGraph

ROOT = Path(__file__).resolve().parents[2]
BASE: dict = yaml.safe_load((ROOT / "platform.yaml").read_text())
FIREWALLED = ("churn-prod-platform", "pricing-prod-platform")
OPEN = ("churn-dev-platform", "churn-staging-platform", "pricing-dev-platform")
FIREWALL_IP = BASE["platform"]["hub_network"]["firewall"]["private_ip_address"]
POLICY_ID = BASE["platform"]["hub_network"]["firewall"]["policy_id"]
RCG = "azurerm_firewall_policy_rule_collection_group"
ASSOCIATION = "azurerm_subnet_route_table_association"


def _one(synthesized: Synthesized, stack: str, rtype: str) -> tuple[str, dict]:
    [(name, config)] = synthesized.resources(stack, rtype).items()
    return f"{rtype}.{name}", config


def _subnets(synthesized: Synthesized, stack: str) -> dict[str, str]:
    """Workspace subnet role (host/container) -> its address."""
    return {
        config["name"].rsplit("-", 1)[1]: f"azurerm_subnet.{name}"
        for name, config in synthesized.resources(stack, "azurerm_subnet").items()
        if config.get("delegation")
    }


@pytest.mark.parametrize("stack", FIREWALLED)
def test_prod_routes_both_workspace_subnets_to_the_hub_firewall_instead_of_a_nat_gateway(synthesized, stack):
    _, table = _one(synthesized, stack, "azurerm_route_table")
    assert table["route"] == [
        {
            "name": "to-hub-firewall",
            "address_prefix": "0.0.0.0/0",
            "next_hop_type": "VirtualAppliance",
            "next_hop_in_ip_address": FIREWALL_IP,
        }
    ]
    routed = {config["subnet_id"] for config in synthesized.resources(stack, ASSOCIATION).values()}
    assert routed == {f"${{{address}.id}}" for address in _subnets(synthesized, stack).values()}
    # A NAT gateway would be bypassed by the route anyway; none is created, nor its public IP.
    for rtype in ("azurerm_nat_gateway", "azurerm_subnet_nat_gateway_association", "azurerm_public_ip"):
        assert not synthesized.resources(stack, rtype), rtype


@pytest.mark.parametrize("stack", OPEN)
def test_dev_and_staging_keep_the_nat_gateway_and_no_route(synthesized, stack):
    assert len(synthesized.resources(stack, "azurerm_subnet_nat_gateway_association")) == 2
    assert not synthesized.resources(stack, "azurerm_route_table")
    assert not synthesized.resources(stack, RCG)


@pytest.mark.parametrize(
    ("stack", "region", "elsewhere", "sources"),
    [
        ("churn-prod-platform", "Westeurope", {"Storage": ["Northeurope"]}, ["10.10.8.0/24", "10.10.9.0/24"]),
        (
            "pricing-prod-platform",
            "Northeurope",
            {"Storage": ["Westeurope"], "EventHub": ["Westeurope"]},
            ["10.20.8.0/24", "10.20.9.0/24"],
        ),
    ],
)
def test_the_envs_rules_in_the_hub_policy_allow_databricks_and_the_region_endpoints_only(
    synthesized, stack, region, elsewhere, sources
):
    """SRA's network rules (Storage/Sql/EventHub of the region, title-cased as SRA writes them, modules/hub/locals.tf)
    plus the control plane on the ports of Databricks' own NSG rule to AzureDatabricks, plus the regions that host
    some of the region's Databricks endpoints (test_databricks_endpoints_outside_the_region_are_allowed_too); sources
    are the env's two workspace subnets."""
    _, group = _one(synthesized, stack, RCG)
    assert group["provider"] == "azurerm.hub" and group["firewall_policy_id"] == POLICY_ID
    assert group["name"] == f"rcg-dbp-{stack.removesuffix('-platform')}"
    [collection] = group["network_rule_collection"]
    assert collection["action"] == "Allow"
    rules = {rule["name"]: rule for rule in collection["rule"]}
    assert {name: (r["destination_addresses"], r["destination_ports"]) for name, r in rules.items()} == {
        "adb-control-plane": (["AzureDatabricks"], ["443", "3306", "8443-8451"]),
        "adb-storage": ([f"Storage.{r}" for r in [region, *elsewhere.get("Storage", [])]], ["443"]),
        "adb-sql": ([f"Sql.{region}"], ["3306"]),
        "adb-eventhub": ([f"EventHub.{r}" for r in [region, *elsewhere.get("EventHub", [])]], ["9093"]),
    }
    assert all(r["source_addresses"] == sources and r["protocols"] == ["TCP"] for r in rules.values())
    # No allow-list configured: the application collection holds only the package index the jobs' wheel needs.
    [collection] = group["application_rule_collection"]
    assert [rule["name"] for rule in collection["rule"]] == ["churn-wheel-dependencies"]


def test_databricks_endpoints_outside_the_region_are_allowed_too(synthesized):
    """A North Europe workspace ships its logs to West Europe: Microsoft Learn's "IP addresses and domains for Azure
    Databricks services and assets" lists for northeurope the log Blob storage dblogprodwesteurope.blob.core.windows.net
    and the Event Hubs endpoint prod-westeurope-observabilityeventhubs.servicebus.windows.net, and artifact Blob storage
    secondary dbartifactsprodwesteu (West Europe's secondary is dbartifactsprodnortheu). Allowing only the region's own
    tags, as SRA does, would drop pricing-prod's log and telemetry traffic at the firewall."""

    def allowed(stack: str) -> set[str]:
        [collection] = _one(synthesized, stack, RCG)[1]["network_rule_collection"]
        return {tag for rule in collection["rule"] for tag in rule["destination_addresses"]}

    assert {"Storage.Westeurope", "EventHub.Westeurope"} <= allowed("pricing-prod-platform")
    assert "Storage.Northeurope" in allowed("churn-prod-platform")


@pytest.mark.parametrize("stack", FIREWALLED)
def test_job_clusters_can_fetch_the_wheels_dependencies_from_pypi_without_an_allow_list(synthesized, stack):
    """The jobs install the churn wheel as a `whl` library; pip then fetches what the runtime does not ship from
    PyPI: fairlearn and narwhals on both supported runtimes (docs/ml-lifecycle.md, tests/ml/test_wheel_on_runtime.py).
    The committed prod envs list no allowed_fqdns, so without the index every job of a firewall env fails at
    library install. pip reads the index at pypi.org and downloads from files.pythonhosted.org, over HTTPS."""
    _, group = _one(synthesized, stack, RCG)
    [collection] = group["application_rule_collection"]
    rules = {rule["name"]: rule for rule in collection["rule"]}
    rule = rules["churn-wheel-dependencies"]
    assert rule["destination_fqdns"] == ["pypi.org", "files.pythonhosted.org"]
    assert rule["protocols"] == [{"type": "Https", "port": 443}]
    [databricks] = group["network_rule_collection"]
    assert rule["source_addresses"] == databricks["rule"][0]["source_addresses"]  # the two workspace subnets


def test_the_allow_list_is_an_https_application_rule_from_the_workspace_subnets(fake_wheel, tmp_path):
    from infra.app import build_app

    raw = copy.deepcopy(BASE)
    allowed = ["pypi.org", "files.pythonhosted.org", "*.example.com"]
    raw["teams"][0]["environments"]["prod"]["egress"] = {"allowed_fqdns": allowed}
    config = parse_config(yaml.safe_dump(raw))
    [prod] = [te for te in config.team_envs if te.key == "churn/prod"]
    build_app(config, outdir=tmp_path, wheel=fake_wheel, team_envs=[prod], today=SYNTH_TODAY).synth()
    stack = Synthesized(outdir=tmp_path, app=None)
    _, group = _one(stack, "churn-prod-platform", RCG)
    [collection] = group["application_rule_collection"]
    rule = {r["name"]: r for r in collection["rule"]}["allowed-fqdns"]
    assert collection["action"] == "Allow" and rule["destination_fqdns"] == allowed
    assert rule["protocols"] == [{"type": "Https", "port": 443}]
    assert rule["source_addresses"] == ["10.10.8.0/24", "10.10.9.0/24"]


@pytest.mark.parametrize("stack", FIREWALLED)
def test_replies_from_the_firewall_may_enter_the_env_but_nothing_transits_the_env(synthesized, stack):
    """The firewall forwards replies from internet addresses into the env: only the env's side of the peering
    allows forwarded traffic; the hub's side and gateway transit stay closed."""
    peerings = {
        c["name"]: c for c in synthesized.resources(stack, "azurerm_virtual_network_peering").values()
    }
    vnet = synthesized.only(stack, "azurerm_virtual_network")["name"]
    assert peerings[f"peer-{vnet}-to-hub"]["allow_forwarded_traffic"] is True
    assert peerings[f"peer-hub-to-{vnet}"]["allow_forwarded_traffic"] is False
    assert not any(p["allow_gateway_transit"] or p["use_remote_gateways"] for p in peerings.values())


@pytest.mark.parametrize("stack", FIREWALLED)
def test_the_route_never_cuts_the_workspace_off_on_create_or_destroy(synthesized, stack):
    """Create: each subnet's route waits for the env's firewall rules and both peerings (the path to the firewall),
    and the workspace waits for both routes, so its clusters never start without egress. Destroy (reverse): the
    workspace goes first, then the routes, then the rules and the peerings."""
    graph = StackGraph(synthesized.json(stack))
    rules, _ = _one(synthesized, stack, RCG)
    [workspace] = [n.address for n in graph.of_type("azurerm_databricks_workspace")]
    peerings = [n.address for n in graph.of_type("azurerm_virtual_network_peering")]
    routes = [n.address for n in graph.of_type(ASSOCIATION)]
    assert len(routes) == 2 and len(peerings) == 2
    for route in routes:
        assert graph.depends(workspace, route)
        for dependency in (rules, *peerings):
            assert graph.depends(route, dependency), (route, dependency)
            assert graph.destroyed_before(route, dependency)
        assert graph.destroyed_before(workspace, route)


def test_an_ephemeral_env_cut_from_prod_gets_rules_of_its_own_at_its_slots_priority(
    platform_config, fake_wheel, tmp_path
):
    """Cut from prod it egresses through the firewall too, with a group the reaper can delete by name
    (test_reaper.py) at the priority of its slot, which no permanent env's first /24 shares (validate)."""
    from datetime import UTC, datetime, timedelta

    from infra.app import build_app
    from infra.lifecycle.ephemeral import cut

    [prod] = [te for te in platform_config.team_envs if te.key == "churn/prod"]
    pr7 = cut(
        prod, name="pr7", slot=3, owner="ana@example.com", expires_at=datetime.now(UTC) + timedelta(hours=8)
    )
    build_app(platform_config, outdir=tmp_path, wheel=fake_wheel, team_envs=[pr7], today=SYNTH_TODAY).synth()
    synthesized = Synthesized(outdir=tmp_path, app=None)
    _, group = _one(synthesized, "churn-pr7-platform", RCG)
    network = synthesized.only("churn-pr7-platform", "azurerm_virtual_network")["address_space"][0]
    assert network == "10.10.67.0/24"  # slot 3 of the pool 10.10.64.0/18
    assert group["priority"] == firewall_priority(network) == 1000 + (10 * 65536 + 10 * 256 + 67) % 64000
    assert group["name"] == "rcg-dbp-churn-pr7"
    assert len(synthesized.resources("churn-pr7-platform", ASSOCIATION)) == 2


def test_the_workspace_takes_no_nat_gateway_of_its_own():
    """azurerm v4.55.0 internal/services/databricks/databricks_workspace_resource.go: `nat_gateway_name` and
    `public_ip_name` only name the NAT gateway Databricks creates for a managed VNet; with VNet injection the subnets'
    egress is the customer's, so a route table on them is all firewall egress needs. The stack sets neither."""
    source = (ROOT / "infra/constructs/azure/databricks_workspace.py").read_text()
    assert "nat_gateway_name" not in source and "public_ip_name" not in source


def _refusal(raw: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(yaml.safe_dump(raw), source="platform.yaml")
    [line] = caught.value.lines()
    return line


def _with(change) -> dict:
    raw = copy.deepcopy(BASE)
    change(raw)
    return raw


def _prod(raw: dict, team: int = 0) -> dict:
    return raw["teams"][team]["environments"]["prod"]


def _wrapping_priorities(raw: dict) -> None:
    """Two firewall envs 250 /16s apart: their first /24s are 64,000 apart, the span of derived priorities."""
    envs = raw["teams"][1]["environments"]
    envs["prod"]["network"] = "10.0.8.0/22"
    envs["staging"] |= {
        "network": "10.250.8.0/22",
        "network_isolation": "private",
        "deploy_runner": ["self-hosted", "pricing-staging"],
        "egress": {"mode": "firewall"},
    }


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (
            lambda r: (
                r["platform"]["hub_network"].pop("firewall")
                and _prod(r, team=1).update(egress={"mode": "open", "open_reason": "pricing's vendor feeds"})
            ),
            "teams.churn.environments.prod.egress.mode",
            "platform.hub_network.firewall is unset",
        ),
        (
            lambda r: _prod(r).update(egress={"mode": "open"}),
            "teams.churn.environments.prod.egress",
            "without open_reason",
        ),
        (
            lambda r: _prod(r).update(egress={"mode": "open", "open_reason": "short"}),
            "teams.churn.environments.prod.egress.open_reason",
            "at least 15 characters",
        ),
        (
            lambda r: _prod(r).update(egress={"mode": "open", "open_reason": " " * 20}),
            "teams.churn.environments.prod.egress.open_reason",
            "at least 15 characters",
        ),
        (
            lambda r: _prod(r).update(egress={"allowed_fqdns": ["https://pypi.org"]}),
            "teams.churn.environments.prod.egress.allowed_fqdns",
            "not a fully qualified domain name",
        ),
        (
            lambda r: _prod(r).update(egress={"allowed_fqdns": ["PyPI.org"]}),
            "teams.churn.environments.prod.egress.allowed_fqdns",
            "not a fully qualified domain name",
        ),
        (
            lambda r: _prod(r).update(egress={"allowed_fqdns": ["pypi.org", "pypi.org"]}),
            "teams.churn.environments.prod.egress.allowed_fqdns",
            "listed more than once",
        ),
        (
            lambda r: r["teams"][0]["environments"]["dev"].update(egress={"allowed_fqdns": ["pypi.org"]}),
            "teams.churn.environments.dev.egress",
            "allowed_fqdns applies only with mode: firewall",
        ),
        (
            lambda r: r["teams"][0]["environments"]["dev"].update(egress={"mode": "firewall"}),
            "teams.churn.environments.dev.egress.mode",
            "only a private env has",
        ),
        (
            lambda r: _prod(r, team=2).update(egress={"mode": "firewall"}),
            "teams.risk.environments.prod.egress.mode",
            "firewall is the Azure hub's firewall, for Azure teams only",
        ),
        (
            lambda r: r["platform"]["hub_network"]["firewall"].update(private_ip_address="10.10.8.4"),
            "platform.hub_network.firewall.private_ip_address",
            "an env's network",
        ),
        (
            lambda r: r["platform"]["hub_network"]["firewall"].update(private_ip_address="20.1.2.3"),
            "platform.hub_network.firewall.private_ip_address",
            "not a private address",
        ),
        (
            lambda r: r["platform"]["hub_network"]["firewall"].update(policy_id="afwp-hub"),
            "platform.hub_network.firewall.policy_id",
            "",
        ),
        (
            _wrapping_priorities,
            "teams.pricing.environments.staging.network",
            "also teams.pricing.environments.prod",
        ),
    ],
)
def test_validate_refuses_egress_it_cannot_deliver_in_one_line_naming_the_field(change, path, words):
    line = _refusal(_with(change))
    assert path in line and words in line, line


@pytest.mark.parametrize(
    ("address", "warned"),
    [("10.0.1.5", True), ("10.0.1.36", True), ("10.0.1.4", False), ("10.0.1.68", False)],
)
def test_a_firewall_address_no_azure_firewall_can_have_is_warned_about(address, warned):
    """An Azure Firewall takes the first usable address of its AzureFirewallSubnet (Azure reserves the first four
    of every subnet; the subnet is a /26 or larger), so its private IP is 4 past a multiple of 64. Any other address
    (a typo, the firewall's public IP's neighbour, the hub's DNS resolver) deploys fine and then drops every
    packet the env's clusters send, so validate says so; the hub's address space is not in the config to check more."""
    from infra.config.deployability import deploy_warnings

    raw = _with(lambda r: r["platform"]["hub_network"]["firewall"].update(private_ip_address=address))
    warnings = deploy_warnings(parse_config(yaml.safe_dump(raw)))
    lines = [w for w in warnings if w.startswith("platform.hub_network.firewall")]
    assert bool(lines) is warned, lines
    if warned:
        [line] = lines
        assert line.startswith(f"platform.hub_network.firewall.private_ip_address: {address} ")


def test_firewall_egress_in_a_region_whose_remote_endpoints_are_unknown_is_warned_about():
    """The firewall allows a region's own Storage/Sql/EventHub tags plus the regions the platform knows Databricks
    serves it from (ENDPOINTS_IN_OTHER_REGIONS); for another region it cannot know whether log storage, Event Hubs
    or artifact storage secondary live elsewhere, which the firewall would then drop: validate says so."""
    from infra.config.deployability import deploy_warnings

    def region_warnings(region: str) -> list[str]:
        raw = _with(lambda r: r["teams"][1].update(region=region))
        return [w for w in deploy_warnings(parse_config(yaml.safe_dump(raw))) if ".egress" in w]

    [line] = region_warnings("eastus")
    assert line.startswith("teams.pricing.environments.prod.egress.mode: ") and "eastus" in line
    assert region_warnings("northeurope") == []


def test_the_firewall_may_share_addresses_with_an_aws_teams_vpc():
    """Only Azure envs peer with the hub and route to its firewall; an AWS team's VPC is another cloud's network,
    which the hub's addresses may overlap (the firewall's .4 inside risk's dev VPC range is fine)."""
    raw = _with(lambda r: r["platform"]["hub_network"]["firewall"].update(private_ip_address="10.30.1.4"))
    assert parse_config(yaml.safe_dump(raw)).platform.hub_network.firewall is not None


def test_prod_may_stay_open_when_the_config_says_why_and_then_keeps_its_nat_gateway():
    raw = _with(
        lambda r: _prod(r).update(egress={"mode": "open", "open_reason": "vendor feed needs any host"})
    )
    config = parse_config(yaml.safe_dump(raw))
    [prod] = [te for te in config.team_envs if te.key == "churn/prod"]
    assert prod.settings.egress.mode == "open"


def test_aws_teams_get_their_own_egress_default_in_prod():
    """One egress setting, defaulted per cloud: the firewall default is Azure-only, AWS prod is isolated (the
    committed risk/prod states open egress for its wheel's PyPI packages; without it, and with a wheel that needs
    nothing from PyPI, it is isolated)."""
    raw = copy.deepcopy(BASE)
    (risk_team,) = [team for team in raw["teams"] if team["name"] == "risk"]
    risk_team["workloads"] = [OFFLINE_WORKLOAD]
    del risk_team["environments"]["prod"]["egress"]
    config = parse_config(yaml.safe_dump(raw))
    [risk] = [te for te in config.team_envs if te.key == "risk/prod"]
    assert risk.settings.egress.mode == "isolated"


def test_prod_without_the_firewall_route_fails_synth_with_plat_az_egress_1(platform_config, tmp_path):
    """The rule reads the synthesized stack: a prod workspace subnet with no route to the hub firewall fails, the
    same subnet routed to it passes, and prod with open egress and its reason passes."""
    from cdktf_cdktf_provider_azurerm.provider import AzurermProvider
    from cdktf_cdktf_provider_azurerm.route_table import RouteTable, RouteTableRoute
    from cdktf_cdktf_provider_azurerm.subnet import (
        Subnet,
        SubnetDelegation,
        SubnetDelegationServiceDelegation,
    )
    from cdktf_cdktf_provider_azurerm.subnet_route_table_association import SubnetRouteTableAssociation

    from infra.aspects.policy import PolicyAspect
    from infra.aspects.policy.packs import AZURE
    from infra.aspects.stack_aspects import AspectApp, AspectStack
    from infra.config.egress import Egress

    [prod] = [te for te in platform_config.team_envs if te.key == "churn/prod"]

    def synth(team_env, *, next_hop: str | None, where) -> None:
        app = AspectApp(outdir=str(where), context={"deployer": team_env.platform.deployer_principal})
        stack = AspectStack(app, "egress-under-test")
        AzurermProvider(stack, "azurerm", features=[{}])
        delegation = SubnetDelegation(
            name="databricks",
            service_delegation=SubnetDelegationServiceDelegation(name="Microsoft.Databricks/workspaces"),
        )
        subnet = Subnet(stack, "host", name="snet-host", resource_group_name="rg", virtual_network_name="vnet",
                        address_prefixes=["10.10.8.0/24"], delegation=[delegation])  # fmt: skip
        if next_hop is not None:
            route = RouteTableRoute(name="r", address_prefix="0.0.0.0/0", next_hop_type="VirtualAppliance",
                                    next_hop_in_ip_address=next_hop)  # fmt: skip
            table = RouteTable(
                stack, "rt", name="rt", location="westeurope", resource_group_name="rg", route=[route]
            )
            SubnetRouteTableAssociation(stack, "assoc", subnet_id=subnet.id, route_table_id=table.id)
        stack.add_aspect(PolicyAspect(team_env=team_env, packs=AZURE))
        app.synth()

    with pytest.raises(RuntimeError, match=r"PLAT-AZ-EGRESS-1: workspace subnet has no route table"):
        synth(prod, next_hop=None, where=tmp_path / "none")
    with pytest.raises(RuntimeError, match="PLAT-AZ-EGRESS-1"):
        synth(
            prod, next_hop="10.99.0.4", where=tmp_path / "elsewhere"
        )  # an appliance that is not the firewall
    synth(prod, next_hop=FIREWALL_IP, where=tmp_path / "firewall")
    reason = Egress(mode="open", open_reason="a documented exception for this test")
    synth(prod.model_copy(update={"settings": prod.settings.model_copy(update={"egress": reason})}),
          next_hop=None, where=tmp_path / "open")  # fmt: skip


def test_platform_validate_refuses_open_prod_egress_in_one_line_exit_2(tmp_path, capsys):
    from infra.cli.main import main

    bad = tmp_path / "platform.yaml"
    bad.write_text(yaml.safe_dump(_with(lambda r: _prod(r).update(egress={"mode": "open"}))))
    with pytest.raises(SystemExit) as exited:
        main(["validate", "--config", str(bad)])
    out, err = capsys.readouterr()
    assert exited.value.code == 2 and out == "" and "Traceback" not in err
    [line] = err.strip().splitlines()
    assert line.startswith(f"error: {bad}: teams.churn.environments.prod.egress: prod egress is open")
