"""Databricks' Security Analysis Tool (SAT) in one chosen workspace, as the security reference architecture offers it.

What is deployed is a port of SAT v0.8.0's own Terraform (security-analysis-tool @ v0.8.0 = 9714352, terraform/common,
terraform/azure, terraform/aws) into the chosen env's workspace stack (infra/constructs/databricks/
security_analysis_tool.py), with two differences that keep this repository's rules:
- the service principal's client secret never passes through Terraform (SRA azure/tf/modules/sat/main.tf and SAT's
  terraform/<cloud>/secrets.tf write it with `databricks_secret`, so it lands in state): `platform sat set-secret`
  writes the one `client-secret` key through the Databricks API, and the scheduled jobs stay paused until it does;
- nothing is fetched by Terraform itself: SRA pulls SAT's module from GitHub at `terraform init`; here the resources
  are declared in this repository, and only Databricks' Git folder clones SAT's notebooks, pinned to the tag.

Pure config (no cdktf): the names and constants below are shared by the construct, the policy rules and the CLI.
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

from pydantic import Field

from infra.config.base import EnvRef, QuartzCron, StrictModel, team_paths
from infra.config.serverless import internet_destinations
from infra.config.workload import CHURN_SCHEMA, PLATFORM_SCHEMAS

if TYPE_CHECKING:
    from infra.config.platform_settings import PlatformSettings
    from infra.config.team import TeamConfig

SAT_REPO_URL = "https://github.com/databricks-industry-solutions/security-analysis-tool.git"
# The release the port follows; the Git folder checks out exactly this tag (never a branch: PLAT-AUDIT-6).
SAT_TAG = "v0.8.0"
# SAT v0.8.0 src/securityanalysistoolproject/setup.py (__version__) and notebooks/Includes/install_sat_sdk.py
# (SDK_VERSION): the SDK release this tag's notebooks were written against, shipped in the tag's lib/ and installed
# from there by every notebook (since SAT 0.4.0). PyPI stops at 0.1.38 (2025-08), so SAT's jobs.tf `pypi
# { package = "dbl-sat-sdk" }` installs an older SDK than the notebooks then put over it, and `==0.1.51` from PyPI
# would fail the library install. The jobs take the wheel from the Git folder, which the tag pins.
SAT_SDK = "lib/dbl_sat_sdk-0.1.51-py3-none-any.whl"
# What `pip install PyYAML <wheel>` (install_sat_sdk.py, job clusters) and the wheel's requirements (requests, msal)
# may fetch from PyPI where the runtime does not ship them.
SAT_PYPI_NEEDS = "PyYAML, requests, msal"
# notebooks/Utils/initialize.py: `SECRETS_SCOPE = "sat_scope"`, hard-coded in every notebook that reads a key.
SAT_SCOPE = "sat_scope"
CLIENT_SECRET_KEY = "client-secret"
# The keys of `sat_scope` that are configuration, not credentials (notebooks/Utils/initialize.py, terraform/common/
# secrets.tf, terraform/<cloud>/secrets.tf): IDs, names, an e-mail address and the proxies map. Only these may be
# written through Terraform (PLAT-SEC-2); `client-secret`, `user`, `pass` and `sat-token-*` never.
SAT_CONFIG_KEYS = frozenset(
    {
        "account-console-id",
        "analysis_schema_name",
        "client-id",
        "proxies",
        "sql-warehouse-id",
        "subscription-id",
        "tenant-id",
        "use-sp-auth",
        "user-email-for-alerts",
    }
)
# SAT terraform/common/repo.tf: where the notebooks are checked out (the provider wants /Repos/<folder>/<repo>).
SAT_REPO_PATH = "/Repos/Applications/SAT_TF"
# notebooks/Utils/initialize.py: the intermediate tables go to `<catalog of the analysis schema>.intermediate_schema`,
# SAT's scratch schema: create_schema() creates it at the start of every run, and the driver and the initializer
# `DROP DATABASE IF EXISTS ... CASCADE` it at their end. So it is not declared here (SAT's principal creates it with
# CREATE_SCHEMA on the catalog, and owns it), and no workload of SAT's team may use that name.
INTERMEDIATE_SCHEMA = "intermediate_schema"
# notebooks/Utils/common.py create_schema(), run by every job: `COMMENT ON SCHEMA <analysis schema> IS '<this>'`.
# Unity Catalog lets only the schema's owner comment on it, so SAT's principal owns the analysis schema; Terraform
# declares this same comment, so SAT's rewrite is no diff on the next plan.
SAT_ANALYSIS_SCHEMA_COMMENT = (
    "Databricks Security Analysis Tool (SAT) results. Contains security check findings, workspace configurations, "
    "secret scan results, and Permission Analysis graph data (BrickHound), all evaluated against Databricks best "
    "practices."
)
# The notebooks the three jobs run (terraform/common/jobs.tf), relative to the Git folder.
SAT_NOTEBOOKS = {
    "initializer": "notebooks/security_analysis_initializer",
    "driver": "notebooks/security_analysis_driver",
    "secrets_scanner": "notebooks/security_analysis_secrets_scanner",
}
SCHEDULED_JOBS = ("driver", "secrets_scanner")

# Hosts SAT's SDK calls besides the workspace (v0.8.0 src/securityanalysistoolproject/core/dbclient.py: _ACCTURL,
# _MGMTURL, the msal authority `login.microsoftonline.com/<tenant>`; clientpkgs/azure_accounts_client.py).
SAT_HOSTS = {
    "azure": ("accounts.azuredatabricks.net", "login.microsoftonline.com", "management.azure.com"),
    "aws": ("accounts.cloud.databricks.com",),
}
# Hosts the secrets scanner's TruffleHog download calls, on both clouds (v0.8.0 notebooks/Includes/scan_secrets/
# notebook_secret_scan.py and cluster_secrets_scan.py: `curl` of raw.githubusercontent.com/trufflesecurity/
# trufflehog/.../install.sh, which fetches the release from github.com, redirected to release-assets.
# githubusercontent.com, or objects.githubusercontent.com before GitHub's 2025 move). Unreachable, each scan fails,
# the scanner catches it and ends green with no findings.
SAT_SCANNER_HOSTS = (
    "github.com",
    "raw.githubusercontent.com",
    "release-assets.githubusercontent.com",
    "objects.githubusercontent.com",
)


def sat_job_name(stem: str, job: str) -> str:
    """`<stem>-sat-<job>`: the job names the construct gives and `platform sat` looks up."""
    return f"{stem}-sat-{job.replace('_', '-')}"


class SecurityAnalysisTool(StrictModel):
    """Databricks' Security Analysis Tool (SAT) v0.8.0, once per platform in one chosen workspace, as SRA offers it
    (docs/security.md, "Security Analysis Tool")."""

    enabled: bool = False
    """Off by default. On: the workspace stack of `workspace` deploys SAT's secret scope (with every key but the
    client secret), SQL warehouse, Git folder pinned to v0.8.0, its analysis schema and its three jobs (schedules
    paused until `platform sat set-secret` writes the client secret)."""
    workspace: EnvRef | None = None
    """`<team>/<env>` of the permanent, protected env (`prevent_destroy`, prod) whose workspace runs SAT (required
    when enabled). Its clusters must reach PyPI, the account console and GitHub (the secrets scanner downloads
    TruffleHog); validate checks its egress."""
    client_id: UUID | None = None
    """Application (client) ID of SAT's service principal (required when enabled; not a secret). Azure: the Entra ID
    application SAT signs in as (Reader on `platform.subscription_id`, account admin in Databricks); the platform's
    `tenant_id` and `subscription_id` are written beside it. AWS: a Databricks account service principal with the
    account admin role, using OAuth. The platform adds it to the workspace's admins (as SRA does), runs SAT's jobs
    as it and manages its account rule set (the deployer gets Manager and User). Its secret never enters config or
    Terraform: `platform sat set-secret TEAM/ENV` writes it."""
    serverless: bool = False
    """Run SAT's jobs on serverless compute (SAT's `run_on_serverless`) instead of job clusters under the env's
    cluster policy; needs the env's `serverless.jobs` (the serverless setup this platform supports for jobs). SAT then
    analyses only its own workspace, not the account's others (validate warns)."""
    schema_name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")] = "security_analysis"
    """Schema in the env's catalog where SAT writes its results (SAT's `analysis_schema_name` is
    `<catalog>.<schema_name>`), created here and owned by SAT's principal. SAT also creates, and drops after every
    run, its scratch schema `intermediate_schema` there (no workload of the team may use that name)."""
    driver_schedule: QuartzCron = "0 0 8 ? * Mon,Wed,Fri"
    """When SAT's driver analyses the account (Quartz, UTC; SAT's default)."""
    secrets_scanner_schedule: QuartzCron = "0 0 10 ? * *"
    """When SAT's secrets scanner runs (Quartz, UTC; SAT's default, two hours after the driver)."""


def sat_problems(platform: PlatformSettings, teams: list[TeamConfig]) -> list[str]:
    """One line per reason the configured SAT could not deploy and run (see base.CROSS_CHECK_MARK)."""
    sat = platform.audit.security_analysis_tool
    if not sat.enabled:
        return []
    path = "platform.audit.security_analysis_tool"
    problems = []
    if sat.client_id is None:
        problems.append(
            f"{path}.client_id: required when enabled (the application ID of the service principal SAT signs in as)"
        )
    elif str(sat.client_id) == platform.deployer_principal.strip().lower():
        problems.append(
            f"{path}.client_id: is platform.deployer_principal; SAT needs a principal of its own (its secret sits in "
            "sat_scope, which every workspace admin can read, and one principal cannot hold both the deployer's "
            "MANAGE and SAT's READ on that scope)"
        )
    if platform.account_id is None:
        problems.append(
            f"platform.account_id: required by {path} (SAT reads the account console; its ID goes in the scope)"
        )
    if sat.workspace is None:
        return [
            *problems,
            f"{path}.workspace: required when enabled (the one team-env whose workspace runs SAT)",
        ]
    by_name = {
        team.name: (team, where)
        for team, where in zip(teams, team_paths([t.name for t in teams]), strict=True)
    }
    team_name, env = sat.workspace.split("/")
    team, team_path = by_name.get(team_name, (None, ""))
    if team is None or env not in team.environments:
        return [*problems, f"{path}.workspace: {sat.workspace!r} is not a permanent env of this config"]
    settings = team.environments[env]
    env_path = f"{team_path}.environments.{env}"
    if not settings.prevent_destroy:
        problems.append(
            f"{path}.workspace: {sat.workspace!r} does not set prevent_destroy; SAT's history and scope belong in a "
            "protected env (prod)"
        )
    if team.cloud == "azure":
        problems += [
            f"platform.{field}: required by {path} on Azure (SAT's {field.replace('_', '-')} key)"
            for field in ("tenant_id", "subscription_id")
            if getattr(platform, field) is None
        ]
    # `ml` is in every env's catalog (UnityCatalogScope), churn workload or not; Databricks reserves the others.
    taken = {w.schema for w in team.workloads} | {INTERMEDIATE_SCHEMA, CHURN_SCHEMA} | PLATFORM_SCHEMAS
    if sat.schema_name in taken:
        problems.append(
            f"{path}.schema_name: {sat.schema_name!r} is already a schema of team {team.name}'s catalog; pick another"
        )
    if INTERMEDIATE_SCHEMA in {w.schema for w in team.workloads}:
        # SAT v0.8.0 security_analysis_driver.py / security_analysis_initializer.py end every run with it.
        problems.append(
            f"{path}.workspace: SAT runs `DROP DATABASE IF EXISTS <catalog>.{INTERMEDIATE_SCHEMA} CASCADE` after "
            f"every run, and a workload of team {team.name} keeps its tables in schema {INTERMEDIATE_SCHEMA!r}; "
            "give that workload another schema_name"
        )
    return problems + _reach_problems(sat, team.cloud, settings, path=path, env_path=env_path)


def _reach_problems(
    sat: SecurityAnalysisTool, cloud: str, settings: object, *, path: str, env_path: str
) -> list[str]:
    """Whether SAT's compute reaches what it needs: PyPI (job clusters install the SDK wheel with its dependencies,
    SAT_PYPI_NEEDS), SAT_HOSTS and the secrets scanner's SAT_SCANNER_HOSTS. The Git folder is cloned by the control
    plane, not by the clusters."""
    hosts = SAT_HOSTS[cloud] + SAT_SCANNER_HOSTS
    if sat.serverless:
        serverless = settings.serverless  # type: ignore[attr-defined]
        if not serverless.jobs:
            return [
                f"{path}.serverless: {env_path}.serverless.jobs is off, so the env has no serverless setup for jobs "
                "(on Azure serverless cannot reach the firewalled lake); set serverless: false"
            ]
        allowed = internet_destinations(cloud, settings) if serverless.restricted_egress else ["*"]
        missing = [host for host in hosts if not _allows(allowed, host)]
        return (
            [
                f"{env_path}.serverless.allowed_fqdns: SAT on serverless calls {_named(missing, wildcards=False)}; "
                "add them"
            ]
            if missing
            else []
        )
    egress = settings.egress  # type: ignore[attr-defined]
    if egress.mode == "isolated":
        return [
            f"{env_path}.egress.mode: isolated clusters reach neither PyPI (SAT's SDK needs {SAT_PYPI_NEEDS}) nor {', '.join(hosts)}, "
            f"which SAT's job clusters need; set {path}.serverless: true (with serverless.jobs) or name another env"
        ]
    if egress.mode == "firewall":
        missing = [host for host in hosts if not _allows(egress.allowed_fqdns, host)]
        if missing:
            return [
                f"{env_path}.egress.allowed_fqdns: SAT's job clusters call {_named(missing, wildcards=True)}; "
                "add them"
            ]
    return []


def _named(missing: list[str], *, wildcards: bool) -> str:
    """The missing hosts, saying why the GitHub ones are needed (they are not SAT's own service)."""
    if not any(host in SAT_SCANNER_HOSTS for host in missing):
        return ", ".join(missing)
    why = "its secrets scanner downloads TruffleHog from GitHub"
    if wildcards:  # a firewall rule takes `*.`; a serverless network policy does not
        why += "; `*.githubusercontent.com` covers three of them"
    return f"{', '.join(missing)} ({why})"


def _allows(allowed: list[str], host: str) -> bool:
    return any(
        name == "*" or name == host or (name.startswith("*.") and fnmatch.fnmatch(host, name))
        for name in allowed
    )


def runs_sat(platform: PlatformSettings, team: TeamConfig, env: str) -> bool:
    sat = platform.audit.security_analysis_tool
    return sat.enabled and sat.workspace == f"{team.name}/{env}"


def sat_warnings(platform: PlatformSettings, teams: list[TeamConfig]) -> list[str]:
    """Which workspaces SAT deploys fine but will not analyse: on serverless all but its own; with job clusters
    those its principal is no admin of, those of the other cloud, and those whose front end refuses its calls."""
    sat = platform.audit.security_analysis_tool
    if not sat.enabled or sat.workspace is None:
        return []
    if sat.serverless:
        return _serverless_scope_warning(sat.workspace, teams)
    sat_team = next((team for team in teams if team.name == sat.workspace.split("/")[0]), None)
    if sat_team is None:
        return []
    return _unassigned_warning(sat.workspace, sat_team.cloud, teams) + _closed_warning(
        sat.workspace, [team for team in teams if team.cloud == sat_team.cloud], teams
    )


def _unassigned_warning(workspace: str, cloud: str, teams: list[TeamConfig]) -> list[str]:
    """SAT v0.8.0 docs/sat/docs/installation/index.mdx: the principal must be added to **all** workspaces to analyse
    (standard/<cloud>.mdx: Workspace Admin in each); faq.mdx: one SAT covers one cloud's account. The platform assigns
    it in SAT's own workspace only (SatIdentity): the others fail SAT's connection test and are skipped."""
    same, other = [], []
    for path, team in zip(team_paths([team.name for team in teams]), teams, strict=True):
        for env in team.environments:
            if f"{team.name}/{env}" != workspace:
                (same if team.cloud == cloud else other).append(f"{path}.environments.{env}")
    lines = []
    if same:
        lines.append(
            f"{', '.join(same)} stay unanalysed until an admin adds SAT's principal to their workspaces as workspace "
            f"admin (SAT's setup asks for it in every workspace it analyses; the platform assigns it in {workspace} "
            "only)"
        )
    if other:
        lines.append(
            f"{', '.join(other)} run on another cloud, whose account console one SAT never reaches (SAT's FAQ: one "
            "deployment per cloud)"
        )
    if not lines:
        return []
    return [
        "platform.audit.security_analysis_tool.workspace: SAT analyses only the workspaces where its principal is a "
        f"workspace admin and skips the others without a word (a failed connection test): {'; '.join(lines)}"
    ]


def _closed_warning(workspace: str, reached: list[TeamConfig], teams: list[TeamConfig]) -> list[str]:
    """SAT lists the account's workspaces through the account API, then calls each one's REST API from its own
    workspace's compute and skips those whose connection test fails (v0.8.0 notebooks/Setup/1.
    list_account_workspaces_to_conf_file.py enables all, 4. enable_workspaces_for_sat.py keeps the ones with
    connection_test). Other envs with a private front end or an IP access list refuse those calls unless they admit
    SAT's egress: they deploy, but SAT reports nothing about them. ``reached``: the teams on SAT's cloud."""
    closed = []
    for path, team in zip(team_paths([team.name for team in teams]), teams, strict=True):
        if team not in reached:
            continue
        for env, settings in team.environments.items():
            if f"{team.name}/{env}" == workspace:
                continue
            if not settings.public_network_access:
                closed.append(f"{path}.environments.{env} (private front end)")
            elif settings.hardening.ip_access_list:
                closed.append(f"{path}.environments.{env} (IP access list)")
    if not closed:
        return []
    return [
        f"platform.audit.security_analysis_tool.workspace: SAT calls every workspace of the account from "
        f"{workspace}'s compute, and {', '.join(closed)} refuse it unless they admit its egress address; "
        "SAT skips them (a failed connection test), so their checks stay empty"
    ]


def _serverless_scope_warning(workspace: str, teams: list[TeamConfig]) -> list[str]:
    """v0.8.0 notebooks/security_analysis_driver.py and security_analysis_secrets_scanner.py: on serverless they keep
    only the current workspace ("To scan all eligible workspaces, use a Classic Compute cluster")."""
    others = [
        f"{path}.environments.{env}"
        for path, team in zip(team_paths([team.name for team in teams]), teams, strict=True)
        for env in team.environments
        if f"{team.name}/{env}" != workspace
    ]
    if not others:
        return []
    return [
        f"platform.audit.security_analysis_tool.serverless: SAT {SAT_TAG} on serverless analyses only its own "
        f"workspace ({workspace}); {', '.join(others)} stay unanalysed; set serverless: false (job clusters) to "
        "cover every workspace of the account"
    ]
