"""Serverless compute of one environment (issue 25, item 2): the model jobs on serverless instead of job clusters,
and the network of every serverless workload of the workspace (docs/security.md, "Serverless").

`restricted_egress` (prod default): a restricted, enforced account network policy attached to the workspace
(`databricks_account_network_policy`, `databricks_workspace_network_option`) allowing only PyPI, the env's
allow-list and its own storage. On AWS the env also gets a network connectivity configuration (NCC) bound to its
workspace, whose managed gateway endpoints reach in-region S3 (SRA aws/tf/modules/databricks_account). Both are
per env, in its account stack. On AWS that stack creates the workspace, which is destroyed before them: an NCC
binding cannot be removed (databricks v1.99.0 mws/resource_mws_ncc_binding.go: Delete only logs) nor can a network
option (its Delete is empty). On Azure the account stack exists only for this (needs_azure_account_stack) and reads
the workspace ID from the platform stack, so it is destroyed before the platform stack and its workspace
(docs/security.md, "Serverless").

What serverless needs that this platform does not build, validate refuses in one line (serverless_problems):
- Azure: serverless compute reaches a firewalled or private lake only through an NCC's private endpoint rules
  (`databricks_mws_ncc_private_endpoint_rule`), whose connection the lake's owner must approve; SRA approves it
  with azapi, which this platform does not use. Every Azure lake here has a deny-by-default firewall, so no Azure
  env can run its jobs on serverless; Azure envs get the restricted network policy, no NCC.
- With the compliance security profile, serverless compute offers no DataFrame caching (Databricks docs, "Cache
  DataFrames on serverless compute": not available with the profile), and the churn ingest caches
  (ml/src/churn/jobs/ingest.py), so the training job would fail.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import TYPE_CHECKING, Literal

from infra.config.base import StrictModel, team_paths
from infra.config.egress import Fqdn

if TYPE_CHECKING:
    from infra.config.team import TeamConfig

# Serverless environment version 4: Python 3.12, Databricks Connect 17 (Spark 4), the client API the jobs run on.
ENVIRONMENT_VERSION = "4"
# The jobs' environment installs the wheel's dependencies from PyPI (as the firewall allows it, infra/config/egress.py).
PYPI = ("pypi.org", "files.pythonhosted.org")
# Databricks docs, "Manage network connectivity configurations": at most 10 NCCs per region per account (and 50
# workspaces per NCC; one workspace per NCC here).
NCCS_PER_REGION = 10
# databricks v1.99.0 mws/resource_mws_network_connectivity_config.go: name 3-30 characters; SRA
# aws/tf/modules/databricks_account/network_policy/main.tf: network_policy_id at most 32.
NCC_NAME_MAX, NETWORK_POLICY_ID_MAX = 30, 32


class Serverless(StrictModel):
    """Serverless compute for the env's model jobs (docs/security.md, "Serverless")."""

    jobs: bool = False
    """Run the jobs of every managed workload (churn's and the others') on serverless compute: each wheel task uses
    a job environment with its workload's wheel as the dependency instead of a policy-governed job cluster. Refused
    on Azure (serverless reaches the firewalled lake only through private endpoint rules, which the platform cannot
    approve) and with the compliance security profile (the ingest caches DataFrames). On AWS the env gets a network
    connectivity configuration."""
    environment_version: Literal["4"] = ENVIRONMENT_VERSION
    """Serverless environment version of the jobs' environment (4: Python 3.12, Spark Connect 4)."""
    restricted_egress: bool = False
    """Restrict what serverless compute of the workspace may reach (default in prod): an enforced account network
    policy in restricted mode allowing PyPI, `allowed_fqdns` (and on Azure `egress.allowed_fqdns`) and the env's
    own lake or buckets, attached to the workspace; on AWS also a network connectivity configuration bound to the
    workspace. Needs `platform.account_id`."""
    allowed_fqdns: list[Fqdn] = []  # noqa: RUF012 (pydantic copies defaults)
    """Extra DNS names serverless compute may reach with `restricted_egress` (no `*.` wildcards)."""


def short_name(stem: str, suffix: str, limit: int) -> str:
    """`<stem>-<suffix>` within `limit` characters: a long stem is cut and keeps a stable hash of itself."""
    name = f"{stem}-{suffix}"
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(stem.encode()).hexdigest()[:6]
    return f"{stem[: limit - len(suffix) - 8].rstrip('-')}-{digest}-{suffix}"


def ncc_name(stem: str) -> str:
    return short_name(stem, "ncc", NCC_NAME_MAX)


def network_policy_id(stem: str) -> str:
    return short_name(stem, "np", NETWORK_POLICY_ID_MAX)


def internet_destinations(cloud: str, settings: object) -> list[str]:
    """DNS names the env's restricted serverless egress allows: PyPI, then the env's allow-lists, each once."""
    names = list(PYPI) + list(settings.serverless.allowed_fqdns)  # type: ignore[attr-defined]
    if cloud == "azure":  # the firewall's wildcards have no place in a network policy (serverless_warnings)
        names += [n for n in settings.egress.allowed_fqdns if not n.startswith("*.")]  # type: ignore[attr-defined]
    return list(dict.fromkeys(names))


def serverless_warnings(teams: list[TeamConfig]) -> list[str]:
    """Azure firewall wildcards that the env's restricted serverless egress leaves out, one line per env."""
    warnings = []
    for team_path, team in zip(team_paths([team.name for team in teams]), teams, strict=True):
        for env, settings in team.environments.items():
            wildcards = [n for n in settings.egress.allowed_fqdns if n.startswith("*.")]
            if team.cloud == "azure" and settings.serverless.restricted_egress and wildcards:
                warnings.append(
                    f"{team_path}.environments.{env}.egress.allowed_fqdns: {', '.join(wildcards)} reach the "
                    "clusters through the firewall, not serverless compute: a serverless network policy takes "
                    "DNS names only; list the names serverless needs in serverless.allowed_fqdns"
                )
    return warnings


def has_ncc(cloud: str, settings: object) -> bool:
    """AWS envs with restricted serverless egress or serverless jobs get an NCC (Azure: none, see module doc)."""
    serverless = settings.serverless  # type: ignore[attr-defined]
    return cloud == "aws" and (serverless.restricted_egress or serverless.jobs)


def needs_azure_account_stack(cloud: str, settings: object) -> bool:
    """An Azure env keeps its account-level resources (the restricted network policy and its attachment to the
    workspace) in its own `<team>-<env>-account` stack (infra/stacks/azure_account_stack.py), so that only the
    deploying identity, a Databricks account admin, ever reads them: the platform stack, which pull requests plan
    with a read-only identity, holds none."""
    return cloud == "azure" and settings.serverless.restricted_egress  # type: ignore[attr-defined]


def serverless_problems(teams: list[TeamConfig], *, account_id: object = None) -> list[str]:
    """One line per serverless setting that cannot run as configured, each with its field path."""
    problems = []
    nccs: Counter[str] = Counter()
    for team_path, team in zip(team_paths([team.name for team in teams]), teams, strict=True):
        for env, settings in team.environments.items():
            path = f"{team_path}.environments.{env}.serverless"
            if settings.serverless.restricted_egress and account_id is None:
                problems.append(
                    f"{path}.restricted_egress: the network policy is an account-level resource; set "
                    "platform.account_id (the Databricks account ID) or turn restricted_egress off"
                )
            wildcards = [name for name in settings.serverless.allowed_fqdns if name.startswith("*.")]
            if settings.serverless.allowed_fqdns and not settings.serverless.restricted_egress:
                problems.append(
                    f"{path}.allowed_fqdns: applies only with restricted_egress (without it serverless compute "
                    "reaches any destination); remove it or set restricted_egress: true"
                )
            elif wildcards:
                problems.append(
                    f"{path}.allowed_fqdns: {', '.join(wildcards)}: a serverless network policy allows DNS "
                    "names only, no '*.' wildcards; list each name"
                )
            if has_ncc(team.cloud, settings):
                nccs[team.region] += 1
            if not settings.serverless.jobs:
                continue
            path = f"{team_path}.environments.{env}.serverless.jobs"
            if team.cloud == "azure":
                problems.append(
                    f"{path}: serverless compute reaches the env's firewalled lake only through private "
                    "endpoint rules of a network connectivity configuration, whose connection the platform cannot "
                    'approve without azapi (docs/security.md, "Serverless"); keep job clusters'
                )
            elif settings.hardening.compliance_security_profile:
                problems.append(
                    f"{path}: with hardening.compliance_security_profile serverless compute cannot cache "
                    "DataFrames, which the churn ingest does; keep job clusters in this env"
                )
    problems += [
        f"teams: {count} permanent AWS envs in {region} get a network connectivity configuration (restricted "
        f"serverless egress or serverless jobs), more than the {NCCS_PER_REGION} Databricks allows per region and "
        "account; turn serverless.restricted_egress off in some dev or staging envs"
        for region, count in sorted(nccs.items())
        if count > NCCS_PER_REGION
    ]
    return problems
