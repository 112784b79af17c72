"""validate on where SAT's compute must reach, beyond what test_security_analysis_tool_config.py checks: the secrets
scanner's TruffleHog download.

SAT v0.8.0 (databricks-industry-solutions/security-analysis-tool @ 9714352) notebooks/security_analysis_secrets_scanner.py
runs notebooks/Includes/scan_secrets/{notebook_secret_scan,cluster_secrets_scan}.py per workspace; each starts with a
%sh cell that `curl`s https://raw.githubusercontent.com/trufflesecurity/trufflehog/refs/tags/v3.94.3/scripts/install.sh
and runs it, which downloads the release from github.com (redirected to release-assets.githubusercontent.com, or
objects.githubusercontent.com before GitHub's 2025 move; e.g. packit/ai-workflows#634). Unreachable, the cell exits 1
and the scanner catches it per workspace ("Notebook scan failed") and ends green with no findings: a silent gap, so
validate names the hosts. notebooks/diagnosis/pre_run_config_check.py probes the same two URLs.
"""

from __future__ import annotations

import pytest
import yaml

from infra.config import parse_config
from infra.config.security_analysis_tool import SAT_SCANNER_HOSTS
from tests.infra.sat_configs import (
    AZURE_HOSTS,
    aws_sat_config,
    aws_serverless_sat_config,
    fields,
    problems,
    sat_config,
)


def test_a_firewalled_env_must_allow_the_secrets_scanners_github_download():
    raw = sat_config()
    raw["teams"][0]["environments"]["prod"]["egress"]["allowed_fqdns"] = list(AZURE_HOSTS)
    lines = problems(raw)
    assert fields(lines) == ["teams.churn.environments.prod.egress.allowed_fqdns"], lines
    assert "raw.githubusercontent.com" in lines[0] and "github.com" in lines[0]
    assert "TruffleHog" in lines[0]


def test_a_githubusercontent_wildcard_covers_the_scanners_download_hosts():
    raw = sat_config()
    raw["teams"][0]["environments"]["prod"]["egress"]["allowed_fqdns"] = [
        *AZURE_HOSTS,
        "github.com",
        "*.githubusercontent.com",
    ]
    parse_config(yaml.safe_dump(raw))


def test_restricted_serverless_egress_must_allow_the_scanners_download_by_name():
    """A serverless network policy takes names, no `*.` wildcards (serverless.py): each host is listed."""
    raw = aws_sat_config(serverless=True)
    prod = raw["teams"][2]["environments"]["prod"]
    prod["serverless"] = {
        "jobs": True,
        "restricted_egress": True,
        "allowed_fqdns": ["accounts.cloud.databricks.com"],
    }
    prod["hardening"]["compliance_security_profile"] = False
    lines = problems(raw)
    assert fields(lines) == ["teams.risk.environments.prod.serverless.allowed_fqdns"], lines
    assert all(host in lines[0] for host in SAT_SCANNER_HOSTS)
    prod["serverless"]["allowed_fqdns"] += list(SAT_SCANNER_HOSTS)
    parse_config(yaml.safe_dump(raw))


def test_serverless_sat_warns_that_it_analyses_only_its_own_workspace():
    """v0.8.0 notebooks/security_analysis_driver.py and security_analysis_secrets_scanner.py: `if is_serverless:`
    they keep only `workspace_id = <current workspace>` ("the analysis is limited to the current workspace. To scan
    all eligible workspaces, use a Classic Compute cluster"). The config deploys, and every other workspace of the
    account goes unanalysed: validate says so, instead of the warning about closed front ends (moot there)."""
    from infra.config.deployability import deploy_warnings

    raw = aws_serverless_sat_config()
    config = parse_config(yaml.safe_dump(raw))
    lines = [w for w in deploy_warnings(config) if w.startswith("platform.audit.security_analysis_tool")]
    assert [line.split(": ")[0] for line in lines] == ["platform.audit.security_analysis_tool.serverless"], (
        lines
    )
    assert "only its own workspace" in lines[0] and "teams.churn.environments.prod" in lines[0]


def test_a_workload_schema_named_like_sats_scratch_schema_is_refused():
    """v0.8.0 security_analysis_driver.py and security_analysis_initializer.py end each run with `DROP DATABASE IF
    EXISTS <catalog>.intermediate_schema CASCADE` in the catalog of SAT's env: a workload of that team whose schema
    bears that name would lose its tables and models after every SAT run."""
    raw = sat_config()
    churn = raw["teams"][0]
    churn["workloads"].append(
        {
            "kind": "bundle",
            "name": "scratch",
            "schema_name": "intermediate_schema",
            "models": ["m"],
            "ci": {"github_repository": "example-org/scratch"},
        }
    )
    lines = problems(raw)
    assert fields(lines) == ["platform.audit.security_analysis_tool.workspace"], lines
    assert "intermediate_schema" in lines[0] and "DROP" in lines[0]


def test_validate_says_which_workspaces_sat_cannot_analyse_without_its_principal():
    """SAT v0.8.0 docs/sat/docs/installation/index.mdx: SAT analyses a workspace through its service principal, which
    must be added to **all** workspaces to analyse (standard/azure.mdx, aws.mdx: the Workspace Admin role in each);
    docs/sat/docs/faq.mdx: one SAT covers one cloud's account, never across clouds. The platform makes the principal
    an admin of SAT's own workspace only (SatIdentity), so every other workspace fails SAT's connection test and is
    skipped (notebooks/Setup/4. enable_workspaces_for_sat.py) without a word: validate names them."""
    from infra.config.deployability import deploy_warnings

    config = parse_config(yaml.safe_dump(sat_config()))
    lines = [w for w in deploy_warnings(config) if w.startswith("platform.audit.security_analysis_tool")]
    (line,) = [w for w in lines if "workspace admin" in w]
    assert "teams.churn.environments.dev" in line and "teams.pricing.environments.prod" in line
    assert "teams.churn.environments.prod" not in line  # SAT's own workspace: assigned by the platform
    # risk is an AWS team: another account console, which an Azure SAT never reaches
    assert (
        "teams.risk.environments.dev, teams.risk.environments.prod, teams.risk.environments.staging run on "
        "another cloud"
    ) in line


def _sat_in_pricing(**sat: object) -> dict:
    raw = sat_config(workspace="pricing/prod", **sat)
    pricing = next(team for team in raw["teams"] if team["name"] == "pricing")
    pricing["environments"]["prod"]["egress"] = {
        "mode": "firewall",
        "allowed_fqdns": [*AZURE_HOSTS, "github.com", "*.githubusercontent.com"],
    }
    return raw


@pytest.mark.parametrize("schema", ["ml", "information_schema"])
def test_sats_schema_may_not_be_the_platforms_or_databricks_own(schema):
    """UnityCatalogScope creates `ml` in every env's catalog, churn workload or not (the wheels' artifacts volume),
    and Databricks reserves `information_schema` (workload.py refuses both for workloads): in pricing/prod, whose only
    workload's schema is `pricing`, SAT's schema of either name validated and then failed at apply."""
    parse_config(yaml.safe_dump(_sat_in_pricing()))  # the env itself can run SAT
    lines = problems(_sat_in_pricing(schema_name=schema))
    assert fields(lines) == ["platform.audit.security_analysis_tool.schema_name"], lines


@pytest.mark.parametrize("spelling", [str.lower, str.upper])
def test_sats_principal_may_not_be_the_deployer(spelling):
    """The hurried shortcut of reusing the CI deploy principal for SAT: its secret ACLs would be two resources on one
    principal of one scope (MANAGE and READ: the last apply wins, and the deployer may end up unable to manage
    `sat_scope`), the deployer an ADMIN assignment of itself and a rule set on itself naming itself; and the
    deploy credential would sit in a secret scope every workspace admin can read."""
    raw = sat_config()
    raw["platform"]["audit"]["security_analysis_tool"]["client_id"] = spelling(
        raw["platform"]["deployer_principal"]
    )
    lines = problems(raw)
    assert fields(lines) == ["platform.audit.security_analysis_tool.client_id"], lines
    assert "deployer_principal" in lines[0]
