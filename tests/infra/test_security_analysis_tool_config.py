"""validate on the Security Analysis Tool (issue 25, item 5): one line naming the field for each reason SAT could not
deploy or run where the config puts it; the synthesized stacks are in test_security_analysis_tool.py.

Sources: SAT v0.8.0 (databricks-industry-solutions/security-analysis-tool @ 9714352) src/securityanalysistoolproject/
core/dbclient.py and clientpkgs/azure_accounts_client.py (the account console, login.microsoftonline.com and
management.azure.com), notebooks/Includes/install_sat_sdk.py (pip on job clusters), notebooks/Setup/ (every
workspace of the account analysed, those failing the connection test skipped).
"""

from __future__ import annotations

import pytest
import yaml

from infra.config import parse_config
from infra.config.security_analysis_tool import SAT_SCANNER_HOSTS
from tests.infra.sat_configs import aws_sat_config, fields, problems, sat_config


def test_a_complete_sat_config_is_accepted():
    config = parse_config(yaml.safe_dump(sat_config()))
    assert config.platform.audit.security_analysis_tool.enabled


def test_each_missing_id_is_one_line_naming_its_field():
    raw = sat_config()
    del raw["platform"]["audit"]["security_analysis_tool"]["client_id"]
    del raw["platform"]["tenant_id"], raw["platform"]["subscription_id"], raw["platform"]["account_id"]
    # account_id has other users: only SAT's lines
    sat_lines = [line for line in problems(raw) if "security_analysis_tool" in line]
    assert fields(sat_lines) == [
        "platform.audit.security_analysis_tool.client_id",
        "platform.account_id",
        "platform.tenant_id",
        "platform.subscription_id",
    ]


@pytest.mark.parametrize("env", ["dev", "staging"])
def test_sat_only_in_a_protected_env(env):
    """SAT's scope, schemas and run history would go with a dev env's teardown."""
    raw = sat_config(workspace=f"churn/{env}")
    lines = problems(raw)
    assert fields(lines) == ["platform.audit.security_analysis_tool.workspace"], lines
    assert "prevent_destroy" in lines[0]


def test_an_ephemeral_or_unknown_env_is_refused():
    lines = problems(sat_config(workspace="churn/pr1"))
    assert fields(lines) == ["platform.audit.security_analysis_tool.workspace"]
    assert "not a permanent env" in lines[0]


def test_a_firewalled_env_must_allow_the_hosts_sat_calls():
    """dbclient.py v0.8.0: the account console (accounts.azuredatabricks.net), the msal authority
    (login.microsoftonline.com) and management.azure.com; PyPI the firewall always allows (egress.py)."""
    raw = sat_config()
    raw["teams"][0]["environments"]["prod"]["egress"]["allowed_fqdns"] = ["*.azuredatabricks.net"]
    lines = problems(raw)
    assert fields(lines) == ["teams.churn.environments.prod.egress.allowed_fqdns"], lines
    assert "login.microsoftonline.com, management.azure.com" in lines[0]
    assert "accounts.azuredatabricks.net" not in lines[0]  # the wildcard covers it


def test_aws_sat_needs_no_azure_ids():
    parse_config(yaml.safe_dump(aws_sat_config()))


def test_isolated_clusters_cannot_run_sat():
    """Job clusters pip-install the SDK's requirements from PyPI (install_sat_sdk.py) and call
    accounts.cloud.databricks.com;
    an isolated VPC has neither NAT nor internet gateway."""
    raw = aws_sat_config()
    raw["teams"][2]["environments"]["prod"]["egress"] = {"mode": "isolated"}
    lines = problems(raw)
    assert "teams.risk.environments.prod.egress.mode" in fields(lines), lines
    # (the churn wheel's own PyPI needs are refused on that field too, offline_packages.py)
    (line,) = [line for line in lines if "SAT" in line]
    assert line.startswith("teams.risk.environments.prod.egress.mode: ")
    assert "PyPI" in line and "msal" in line and "accounts.cloud.databricks.com" in line


def test_serverless_sat_needs_the_envs_serverless_jobs():
    lines = problems(aws_sat_config(serverless=True))
    assert fields(lines) == ["platform.audit.security_analysis_tool.serverless"], lines


def test_serverless_sat_with_restricted_egress_must_allow_the_account_console():
    raw = aws_sat_config(serverless=True)
    prod = raw["teams"][2]["environments"]["prod"]
    prod["serverless"] = {"jobs": True, "restricted_egress": True}
    # serverless jobs cache DataFrames, refused with the profile (serverless.py)
    prod["hardening"]["compliance_security_profile"] = False
    lines = problems(raw)
    assert fields(lines) == ["teams.risk.environments.prod.serverless.allowed_fqdns"], lines
    raw["teams"][2]["environments"]["prod"]["serverless"]["allowed_fqdns"] = [
        "accounts.cloud.databricks.com",
        *SAT_SCANNER_HOSTS,  # the secrets scanner's TruffleHog download (test_sat_reach.py)
    ]
    parse_config(yaml.safe_dump(raw))


def test_the_analysis_schema_may_not_be_a_workload_schema():
    lines = problems(sat_config(schema_name="ml"))
    assert fields(lines) == ["platform.audit.security_analysis_tool.schema_name"], lines


def test_platform_validate_prints_one_line_per_problem_and_exits_2(tmp_path, capsys):
    from infra.cli.main import main

    raw = sat_config(workspace="churn/dev")
    raw["teams"][0]["environments"]["prod"]["egress"]["allowed_fqdns"] = []
    file = tmp_path / "platform.yaml"
    file.write_text(yaml.safe_dump(raw))
    with pytest.raises(SystemExit) as exited:
        main(["validate", "--config", str(file)])
    out, err = capsys.readouterr()
    assert exited.value.code == 2 and out == "" and "Traceback" not in err
    (line,) = err.splitlines()  # dev keeps open egress: only the protection is missing
    assert line.startswith(f"error: {file}: platform.audit.security_analysis_tool.workspace: ")


def test_validate_warns_about_the_workspaces_sat_cannot_reach():
    """SAT v0.8.0 analyses every workspace of the account and skips those that fail its connection test
    (notebooks/Setup/4. enable_workspaces_for_sat.py): closed front ends deploy, but stay unanalysed."""
    from infra.config.deployability import deploy_warnings

    config = parse_config(yaml.safe_dump(sat_config()))
    (warning,) = [
        w
        for w in deploy_warnings(config)
        if w.startswith("platform.audit.security_analysis_tool") and "refuse it" in w
    ]
    assert "teams.pricing.environments.prod (IP access list)" in warning
    # risk (AWS) is never reached by an Azure SAT at all (test_sat_reach.py), front end or not
    assert "teams.risk.environments.prod" not in warning
    assert "teams.churn.environments.prod" not in warning  # SAT's own workspace
