"""AWS isolated egress (SRA's isolated network, github.com/databricks/terraform-databricks-sra aws/tf network.tf,
privatelink.tf and modules/databricks_account/workspace/main.tf): what validate accepts and refuses, what the
platform and account stacks of the committed risk envs hold (prod isolated, dev NAT), their create and destroy
order, and the PLAT-AWS-EGRESS rules. Real Terraform against moto: test_aws_terraform.py."""

from __future__ import annotations

import copy
import json

import pytest

from tests.infra.conftest import OFFLINE_WORKLOAD
from tests.infra.test_aws_config import COMMITTED, aws_team, validate
from tests.terraform_graph import StackGraph

DATABRICKS_SERVICES = {  # SRA aws/tf/variables.tf, general_access_config / scc_relay_config, eu-west-1
    "com.amazonaws.vpce.eu-west-1.vpce-svc-0da6ebf1461278016": "rest-api",
    "com.amazonaws.vpce.eu-west-1.vpce-svc-09b4eb2bc775f4e8c": "relay",
}


def risk_env(config: dict, env: str) -> dict:
    return aws_team(config)["environments"][env]


def test_prod_is_isolated_by_default_on_aws_and_firewalled_on_azure(platform_config, isolated_synthesized):
    """One `egress` setting on both clouds, defaulted per cloud in prod: isolated on AWS, firewall on Azure. The
    committed risk/prod runs isolated: its churn wheel's requirements come from the env's wheelhouse."""
    modes = {te.key: te.settings.egress.mode for te in platform_config.team_envs}
    assert modes["churn/prod"] == "firewall" and modes["churn/dev"] == "open"
    assert modes["risk/dev"] == modes["risk/staging"] == "open"
    risk_prod = next(te for te in platform_config.team_envs if te.key == "risk/prod")
    assert risk_prod.settings.egress.mode == "isolated" and risk_prod.settings.egress.open_reason is None
    assert "aws_nat_gateway" not in isolated_synthesized.json("risk-prod-platform")["resource"]
    assert "aws_nat_gateway" in isolated_synthesized.json("risk-dev-platform")["resource"]


def test_prod_with_nat_and_no_reason_is_refused_in_one_line(tmp_path, capsys):
    config = copy.deepcopy(COMMITTED)
    risk_env(config, "prod")["egress"] = {"mode": "open"}
    code, out, err = validate(config, tmp_path, capsys)
    (line,) = err.strip().splitlines()
    assert code == 2 and out == ""
    assert (
        "teams.risk.environments.prod.egress: prod egress is open (NAT gateway, any destination) without"
        in line
    )
    assert "set mode: isolated" in line


def test_prod_with_nat_and_a_reason_validates_and_records_it_as_the_suppression(tmp_path, capsys, fake_wheel):
    config = copy.deepcopy(COMMITTED)
    reason = "calls the vendor's scoring API on the internet"
    risk_env(config, "prod")["egress"] = {"mode": "open", "open_reason": reason}
    code, _, err = validate(config, tmp_path, capsys)
    assert code == 0, err
    from infra.app import build_app
    from infra.config import load_config

    path = tmp_path / "platform.yaml"
    loaded = load_config(path)
    prod = [te for te in loaded.team_envs if te.key == "risk/prod"]
    outdir = tmp_path / "out"
    build_app(loaded, outdir=outdir, team_envs=prod, wheel=fake_wheel).synth()
    stack = json.loads((outdir / "stacks" / "risk-prod-platform" / "cdk.tf.json").read_text())
    (nat,) = stack["resource"]["aws_nat_gateway"].values()
    assert {"rule": "PLAT-AWS-EGRESS-1", "reason": reason, "scope": "risk-prod-platform/network"} in nat[
        "//"
    ]["policy_suppressions"]
    assert not [e for e in stack["resource"]["aws_vpc_endpoint"].values() if "vpce-svc" in e["service_name"]]


@pytest.mark.parametrize(
    ("team_change", "egress", "words"),
    [
        (
            {"region": "eu-north-1"},
            {"mode": "isolated"},
            "egress.mode: isolated needs the Databricks PrivateLink",
        ),
        (
            {},
            {"mode": "isolated", "open_reason": "no reason needed here at all"},
            "egress: open_reason applies only with mode: open",
        ),
        (
            # SRA's artifact bucket for us-west-1 is databricks-prod-artifacts-us-west-2 (aws/tf/variables.tf at
            # 72a96ea), and a gateway endpoint reaches only its own region's S3: no NAT, no runtime artifacts.
            {"region": "us-west-1"},
            {"mode": "isolated"},
            "egress.mode: isolated clusters in us-west-1 reach S3 only through the region's gateway endpoint",
        ),
        (
            {},
            {"allowed_fqdns": ["pypi.org"]},
            "egress: allowed_fqdns applies only with mode: firewall (isolated egress",
        ),
    ],
    ids=[
        "region-without-sra-services",
        "reason-on-isolated",
        "artifacts-elsewhere",
        "fqdns-on-default-isolated",
    ],
)
def test_isolated_egress_it_cannot_build_is_refused(tmp_path, capsys, team_change, egress, words):
    config = copy.deepcopy(COMMITTED)
    aws_team(config).update(
        team_change, workloads=[OFFLINE_WORKLOAD]
    )  # a wheel isolated clusters can install
    risk_env(config, "prod")["egress"] = egress
    code, _, err = validate(config, tmp_path, capsys)
    (line,) = err.strip().splitlines()
    assert code == 2 and f"teams.risk.environments.prod.{words}" in line


@pytest.mark.parametrize(
    ("team", "env", "mode", "words"),
    [
        (
            "churn",
            "dev",
            "isolated",
            "teams.churn.environments.dev.egress.mode: isolated is AWS back-end PrivateLink, for AWS teams only",
        ),
        (
            "risk",
            "prod",
            "firewall",
            "teams.risk.environments.prod.egress.mode: firewall is the Azure hub's firewall, for Azure teams only",
        ),
    ],
    ids=["isolated-on-azure", "firewall-on-aws"],
)
def test_the_other_clouds_egress_mode_is_refused_in_one_line(tmp_path, capsys, team, env, mode, words):
    config = copy.deepcopy(COMMITTED)
    (named,) = [t for t in config["teams"] if t["name"] == team]
    named["environments"][env]["egress"] = {"mode": mode}
    code, _, err = validate(config, tmp_path, capsys)
    (line,) = err.strip().splitlines()
    assert code == 2 and words in line and "Traceback" not in err


def test_aws_egress_is_gone(tmp_path, capsys):
    """The former AWS-only field is refused like any unknown field, so a stale config cannot silently go open."""
    config = copy.deepcopy(COMMITTED)
    risk_env(config, "prod")["aws_egress"] = {"mode": "nat"}
    code, _, err = validate(config, tmp_path, capsys)
    assert code == 2 and "teams.risk.environments.prod.aws_egress" in err


def _endpoints(stack: dict) -> dict[str, dict]:
    return {e["service_name"]: e for e in stack["resource"]["aws_vpc_endpoint"].values()}


def test_isolated_prod_has_no_path_to_the_internet(isolated_synthesized):
    prod = isolated_synthesized.json("risk-prod-platform")["resource"]
    for kind in ("aws_nat_gateway", "aws_internet_gateway", "aws_eip", "aws_route"):
        assert kind not in prod, kind
    egress = prod["aws_vpc_security_group_egress_rule"].values()
    assert not [r for r in egress if r.get("cidr_ipv4") == "0.0.0.0/0"]
    assert {r.get("cidr_ipv4") for r in egress if "cidr_ipv4" in r} == {"10.30.8.0/22"}
    (s3_rule,) = [r for r in egress if "prefix_list_id" in r]
    assert s3_rule["prefix_list_id"].endswith(".prefix_list_id}") and s3_rule["from_port"] == 443
    dev = isolated_synthesized.json("risk-dev-platform")["resource"]
    assert len(dev["aws_nat_gateway"]) == 1 and len(dev["aws_internet_gateway"]) == 1


def test_databricks_endpoints_sit_in_the_endpoint_subnets_behind_their_own_group(isolated_synthesized):
    stack = isolated_synthesized.json("risk-prod-platform")["resource"]
    endpoints = _endpoints({"resource": stack})
    assert set(DATABRICKS_SERVICES) <= set(endpoints)
    subnets = {
        f"${{aws_subnet.{name}.id}}": s["cidr_block"]
        for name, s in stack["aws_subnet"].items()
        if "endpoints" in s["//"]["metadata"]["path"]
    }
    assert sorted(subnets.values()) == ["10.30.11.0/25", "10.30.11.128/25"]
    groups = {f"${{aws_security_group.{n}.id}}": g for n, g in stack["aws_security_group"].items()}
    for service in DATABRICKS_SERVICES:
        endpoint = endpoints[service]
        assert endpoint["vpc_endpoint_type"] == "Interface" and endpoint["private_dns_enabled"] is True
        assert set(endpoint["subnet_ids"]) == set(subnets)
        (group,) = endpoint["security_group_ids"]
        assert groups[group]["name"] == "dbp-risk-prod-endpoints"
    ports = {
        (r["from_port"], r["to_port"])
        for r in stack["aws_vpc_security_group_ingress_rule"].values()
        if r["security_group_id"] in groups and groups[r["security_group_id"]]["name"].endswith("-endpoints")
    }
    assert ports == {(443, 443), (6666, 6666), (2443, 2443), (8443, 8451)}
    assert set(DATABRICKS_SERVICES).isdisjoint(_endpoints(isolated_synthesized.json("risk-dev-platform")))


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_aws_service_endpoints_admit_only_the_envs_buckets_and_databricks(isolated_synthesized, env):
    endpoints = _endpoints(isolated_synthesized.json(f"risk-{env}-platform"))
    s3 = json.loads(endpoints["com.amazonaws.eu-west-1.s3"]["policy"])
    buckets = {
        resource.split(":::")[1].split("/")[0]
        for statement in s3["Statement"]
        for resource in statement["Resource"]
    }
    lake = {b for b in buckets if b.startswith(f"dbp-risk-{env}-")}
    assert {b.split("-")[3] for b in lake} == {"root", "lake"}
    assert buckets - lake == {
        "databricks-prod-artifacts-eu-west-1",
        "databricks-prod-storage-ireland",
        "system-tables-prod-eu-west-1-uc-metastore-bucket",
        "databricks-datasets-ireland",
    }
    for statement in s3["Statement"]:
        assert statement["Condition"]["StringEquals"], statement["Sid"]
        assert not any(a.endswith("*") for a in statement["Action"])
    sts = json.loads(endpoints["com.amazonaws.eu-west-1.sts"]["policy"])
    assert all(s["Principal"] != "*" for s in sts["Statement"])
    kinesis = json.loads(endpoints["com.amazonaws.eu-west-1.kinesis-streams"]["policy"])
    assert kinesis["Statement"][0]["Resource"] == ["arn:aws:kinesis:eu-west-1:414351767826:stream/*"]


def test_account_stack_registers_the_endpoints_and_attaches_them_to_the_network(isolated_synthesized):
    prod = isolated_synthesized.json("risk-prod-account")["resource"]
    registered = prod["databricks_mws_vpc_endpoint"]
    assert {r["vpc_endpoint_name"] for r in registered.values()} == {
        "dbp-risk-prod-rest-api",
        "dbp-risk-prod-relay",
    }
    assert all(
        r["region"] == "eu-west-1" and r["aws_vpc_endpoint_id"].startswith("${data.")
        for r in registered.values()
    )
    (network,) = prod["databricks_mws_networks"].values()
    by_name = {r["vpc_endpoint_name"].rsplit("-", 1)[-1]: n for n, r in registered.items()}
    assert network["vpc_endpoints"] == {
        "rest_api": [f"${{databricks_mws_vpc_endpoint.{by_name['api']}.vpc_endpoint_id}}"],
        "dataplane_relay": [f"${{databricks_mws_vpc_endpoint.{by_name['relay']}.vpc_endpoint_id}}"],
    }
    (settings,) = prod["databricks_mws_private_access_settings"].values()
    assert settings["public_access_enabled"] is True and settings["private_access_level"] == "ACCOUNT"
    (workspace,) = prod["databricks_mws_workspaces"].values()
    assert workspace["private_access_settings_id"].endswith(".private_access_settings_id}")
    assert workspace["pricing_tier"] == "ENTERPRISE"
    dev = isolated_synthesized.json("risk-dev-account")["resource"]
    assert "databricks_mws_vpc_endpoint" not in dev and "databricks_mws_private_access_settings" not in dev
    assert "vpc_endpoints" not in next(iter(dev["databricks_mws_networks"].values()))


def test_registrations_come_before_the_network_and_go_after_it(isolated_synthesized):
    """Databricks refuses to delete a VPC endpoint registration a network still lists, and a network a workspace
    uses: create registrations -> network -> workspace, destroy the reverse (databricks v1.99.0
    mws/resource_mws_vpc_endpoint.go and mws/resource_mws_networks.go delete without detaching)."""
    graph = StackGraph(isolated_synthesized.json("risk-prod-account"))
    (network,) = [n.address for n in graph.of_type("databricks_mws_networks")]
    (workspace,) = [n.address for n in graph.of_type("databricks_mws_workspaces")]
    (settings,) = [n.address for n in graph.of_type("databricks_mws_private_access_settings")]
    for registration in graph.of_type("databricks_mws_vpc_endpoint"):
        assert graph.depends(network, registration.address)
        assert graph.destroyed_before(network, registration.address)
        # a protected network shares its protection with what it lists
        assert registration.config["lifecycle"] == {"prevent_destroy": True}
    assert graph.depends(workspace, network) and graph.depends(workspace, settings)
    assert graph.destroyed_before(workspace, settings)


def test_the_prod_stack_with_nat_and_no_stated_reason_fails_synth(platform_config, fake_wheel, tmp_path):
    """The same risk/prod with a NAT gateway and no reason (what validate refuses, forced past it here): the policy
    stops the synth, so no path leads an unexplained internet route into a prod VPC."""
    from infra.app import build_app
    from infra.config.egress import Egress

    prod = next(te for te in platform_config.team_envs if te.key == "risk/prod")
    settings = prod.settings.model_copy(update={"egress": Egress(mode="open")})
    open_prod = prod.model_copy(update={"settings": settings})
    with pytest.raises(RuntimeError, match="PLAT-AWS-EGRESS-1: prod VPC has an internet or NAT gateway"):
        build_app(platform_config, outdir=tmp_path, wheel=fake_wheel, team_envs=[open_prod]).synth()
