"""`hardening`: prod hardened by default, dev cheap, and what the providers would refuse is refused by validate in one
line naming the field (infra/config/hardening.py)."""

import pytest
import yaml

from infra.config import parse_config
from tests.infra.test_config_deploy_runner import committed
from tests.infra.test_config_deploy_runner import validate as validate_all


def team(config: dict, name: str) -> dict:
    return next(t for t in config["teams"] if t["name"] == name)


def validate(config: dict, tmp_path, capsys) -> tuple[int, list[str]]:
    """Exit code and the error lines (warnings left out)."""
    code, lines = validate_all(config, tmp_path, capsys)
    return code, [line for line in lines if line.startswith("error")]


def validate_output(config: dict, tmp_path, capsys) -> tuple[int, list[str]]:
    """Exit code and every line validate prints, warnings (stdout) included."""
    from infra.cli.main import main

    path = tmp_path / "platform.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(SystemExit) as exited:
        main(["validate", "--config", str(path)])
    out, err = capsys.readouterr()
    return exited.value.code, (out + err).splitlines()


def test_prod_is_hardened_and_dev_stays_cheap_by_default():
    config = parse_config(yaml.safe_dump(committed()))
    envs = {te.key: te.settings.hardening for te in config.team_envs}
    for key in ("churn/prod", "pricing/prod", "risk/prod"):
        prod = envs[key]
        assert prod.compliance_security_profile and prod.enhanced_security_monitoring
        assert prod.automatic_cluster_update and prod.disable_legacy_access and prod.disable_legacy_dbfs
        assert prod.restrict_workspace_admins
        assert not (prod.results_download or prod.notebook_export or prod.notebook_table_clipboard)
    dev = envs["churn/dev"]
    assert not (dev.compliance_security_profile or dev.disable_legacy_access or dev.restrict_workspace_admins)
    assert dev.verbose_audit_logs and dev.results_download and dev.ip_access_list == []


def test_a_public_prod_front_end_without_an_ip_access_list_is_refused(tmp_path, capsys):
    config = committed()
    del team(config, "pricing")["environments"]["prod"]["hardening"]
    code, lines = validate(config, tmp_path, capsys)
    assert code == 2
    assert lines == [
        f"error: {tmp_path / 'platform.yaml'}: teams.pricing.environments.prod.hardening.ip_access_list: a prod "
        "workspace with a public front end needs an IP access list (the office and deploy runner ranges), or set "
        "public_network_access false"
    ]


@pytest.mark.parametrize(
    ("hardening", "field", "message"),
    [
        # azurerm v4.55.0 databricks_workspace_resource.go: a plan error otherwise
        (
            {"enhanced_security_monitoring": False},
            "hardening",
            "compliance_security_profile needs enhanced_security_monitoring and automatic_cluster_update true",
        ),
        (
            {"compliance_security_profile": False, "compliance_standards": ["HIPAA"]},
            "hardening",
            "compliance_standards need compliance_security_profile true",
        ),
        ({"compliance_standards": ["SOC2"]}, "hardening.compliance_standards[0]", "'hipaa' or 'pci_dss'"),
        ({"ip_access_list": ["10.1.2.0/24"]}, "hardening.ip_access_list[0]", "is not a public range"),
        ({"ip_access_list": ["0.0.0.0/0"]}, "hardening.ip_access_list[0]", "allows every address"),
        ({"ip_access_list": ["203.0.113.300"]}, "hardening.ip_access_list[0]", "is not an IPv4 address"),
    ],
)
def test_combinations_the_providers_refuse_are_one_line(tmp_path, capsys, hardening, field, message):
    config = committed()
    prod = team(config, "pricing")["environments"]["prod"]
    prod["hardening"] = {**prod["hardening"], **hardening}
    code, lines = validate(config, tmp_path, capsys)
    assert code == 2 and len(lines) == 1, lines
    assert f"teams.pricing.environments.prod.{field}: " in lines[0] and message in lines[0]


def test_an_ip_access_list_on_a_private_front_end_is_refused(tmp_path, capsys):
    config = committed()
    team(config, "churn")["environments"]["prod"]["hardening"] = {"ip_access_list": ["198.51.100.0/24"]}
    code, lines = validate(config, tmp_path, capsys)
    assert code == 2 and len(lines) == 1
    assert "teams.churn.environments.prod.hardening.ip_access_list: the front end is private" in lines[0]


def test_dev_may_be_hardened_by_hand():
    config = committed()
    team(config, "churn")["environments"]["dev"]["hardening"] = {
        "compliance_security_profile": True,
        "enhanced_security_monitoring": True,
        "automatic_cluster_update": True,
        "compliance_standards": ["HIPAA"],
    }
    dev = next(te for te in parse_config(yaml.safe_dump(config)).team_envs if te.key == "churn/dev")
    assert dev.settings.hardening.compliance_standards == ["HIPAA"]


@pytest.mark.parametrize("runner", [None, ["ubuntu-24.04"]])
def test_an_ip_access_list_deployed_from_a_github_hosted_runner_is_refused(tmp_path, capsys, runner):
    """CI deploys, smoke-tests and destroys an env from its `deploy_runner` (GitHub-hosted `ubuntu-latest` when
    empty). A GitHub-hosted runner leaves from whichever of GitHub's thousands of Azure ranges the job lands on,
    so no list holds it: `platform deploy` would stop at the runner check on most runs, `platform plan` and the
    smoke test would be refused by the workspace itself. Validate must say so, naming deploy_runner."""
    config = committed()
    prod = team(config, "risk")["environments"]["prod"]
    prod.pop("deploy_runner", None)
    if runner is not None:
        prod["deploy_runner"] = runner
    code, lines = validate(config, tmp_path, capsys)
    assert code == 2 and len(lines) == 1, lines
    assert "teams.risk.environments.prod.deploy_runner: " in lines[0]
    assert "GitHub-hosted" in lines[0] and "hardening.ip_access_list" in lines[0]


def test_the_committed_aws_prod_names_the_listed_runner_that_deploys_it():
    """risk/prod has an IP access list, so it names a self-hosted runner (whose NAT address is on the list)."""
    risk_prod = team(committed(), "risk")["environments"]["prod"]
    assert risk_prod["hardening"]["ip_access_list"]
    assert "self-hosted" in risk_prod["deploy_runner"]


def test_a_bundle_ci_behind_an_ip_access_list_is_warned_about(tmp_path, capsys):
    """pricing's bundle CI (GitHub Actions of example-org/pricing-ml, docs/bundles.md) is the only deployer of its
    prod target, and pricing/prod's IP access list applies to its calls too: validate says so, naming the field."""
    code, lines = validate_output(committed(), tmp_path, capsys)
    assert code == 0
    (warning,) = [line for line in lines if "workloads[" in line and "ip_access_list" in line]
    assert "teams.pricing.workloads[0].ci: pricing/prod enforces hardening.ip_access_list" in warning
    assert "example-org/pricing-ml" in warning


def test_the_committed_prods_clusters_leave_where_a_list_can_hold_them(tmp_path, capsys):
    """risk/prod's NAT and pricing/prod's hub firewall (its public address is in the config) are added to the lists
    by the stacks (tests/infra/test_hardening_stacks.py), so validate has no cluster-egress warning left."""
    code, lines = validate_output(committed(), tmp_path, capsys)
    assert code == 0
    assert not [line for line in lines if "reach the control plane" in line]


def test_a_firewall_without_its_public_address_behind_a_list_is_warned_about(tmp_path, capsys):
    """Without platform.hub_network.firewall.public_ip_addresses the stack cannot list the firewall's address."""
    config = committed()
    del config["platform"]["hub_network"]["firewall"]["public_ip_addresses"]
    code, lines = validate_output(config, tmp_path, capsys)
    assert code == 0
    listed = [line for line in lines if "hub firewall's public address" in line]
    assert [line.split(": ")[1] for line in listed] == [
        "teams.pricing.environments.prod.hardening.ip_access_list"
    ]
    assert "public_ip_addresses" in listed[0]


def test_a_firewall_public_address_that_is_private_is_refused(tmp_path, capsys):
    config = committed()
    config["platform"]["hub_network"]["firewall"]["public_ip_addresses"] = ["10.0.1.4"]
    code, lines = validate(config, tmp_path, capsys)
    assert code == 2 and len(lines) == 1
    assert "platform.hub_network.firewall.public_ip_addresses" in lines[0]
