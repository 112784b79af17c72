"""Serverless compute of one environment (issue 25, item 2): the model jobs on serverless instead of job clusters.

What serverless needs that this platform does not build yet, validate refuses in one line (serverless_problems):
- Azure: serverless compute reaches a firewalled or private lake only through a network connectivity configuration
  (NCC: stable subnets or private endpoint rules, `databricks_mws_network_connectivity_config` and
  `databricks_mws_ncc_private_endpoint_rule`), an account-level resource the stacks do not create yet. Every
  Azure lake here has a deny-by-default firewall, so no Azure env can run its jobs on serverless.
- With the compliance security profile, serverless compute offers no DataFrame caching (Databricks docs, "Cache
  DataFrames on serverless compute": not available with the profile), and the churn ingest caches
  (ml/src/churn/jobs/ingest.py), so the training job would fail.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from infra.config.base import StrictModel, team_paths

if TYPE_CHECKING:
    from infra.config.team import TeamConfig

# Serverless environment version 4: Python 3.12, Databricks Connect 17 (Spark 4), the client API the jobs run on.
ENVIRONMENT_VERSION = "4"


class Serverless(StrictModel):
    """Serverless compute for the env's model jobs (docs/security.md, "Serverless")."""

    jobs: bool = False
    """Run the jobs of every managed workload (churn's and the others') on serverless compute: each wheel task
    uses a job environment with its workload's wheel as the dependency instead of a policy-governed job cluster. Refused on Azure (no network connectivity configuration
    to the firewalled lake yet) and with the compliance security profile (the ingest caches DataFrames)."""
    environment_version: Literal["4"] = ENVIRONMENT_VERSION
    """Serverless environment version of the jobs' environment (4: Python 3.12, Spark Connect 4)."""


def serverless_problems(teams: list[TeamConfig]) -> list[str]:
    """One line per serverless setting that cannot run as configured, each with its field path."""
    problems = []
    for team_path, team in zip(team_paths([team.name for team in teams]), teams, strict=True):
        for env, settings in team.environments.items():
            if not settings.serverless.jobs:
                continue
            path = f"{team_path}.environments.{env}.serverless.jobs"
            if team.cloud == "azure":
                problems.append(
                    f"{path}: serverless compute reaches the env's firewalled lake only through a network "
                    "connectivity configuration, which the stacks do not create yet (docs/security.md, "
                    '"Serverless"); keep job clusters'
                )
            elif settings.hardening.compliance_security_profile:
                problems.append(
                    f"{path}: with hardening.compliance_security_profile serverless compute cannot cache "
                    "DataFrames, which the churn ingest does; keep job clusters in this env"
                )
    return problems
