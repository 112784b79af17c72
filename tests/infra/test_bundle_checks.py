"""What validate refuses about a bundle workload because its targets could not be deployed as emitted.

A staging or prod target runs as, and lives in the home folder of, the workload's run_as service principal
(infra/lifecycle/bundle_targets.py). Only a holder of the Service Principal User role may set a job's run_as to
it (infra/constructs/databricks/identity.py), and the platform grants that role to its deployer alone: nobody of
the team may deploy such a target by hand. The CI's federated credential signs in as the principal itself, so
a bundle workload of a team with staging or prod needs `ci`.
"""

from __future__ import annotations

import yaml

from infra.config import parse_config
from tests.infra.test_config import assert_problem_at, problems_of
from tests.infra.test_config_workloads import with_workloads

BUNDLE = {"kind": "bundle", "name": "pricing", "models": ["price_elasticity"]}


def test_a_bundle_without_ci_on_a_team_with_staging_or_prod_is_refused_at_its_ci_field():
    assert_problem_at(with_workloads(BUNDLE), "teams.churn.workloads[0].ci", "staging and prod")


def test_a_bundle_without_ci_on_a_dev_only_team_is_accepted():
    """Development targets deploy as each developer, who owns the dev models and writes the artifact volume."""
    config = with_workloads(BUNDLE)
    team = config["teams"][0]
    team["environments"] = {"dev": team["environments"]["dev"]}
    # churn/prod is gone, so the system tables of its metastore are left to no env here
    config["platform"]["audit"]["system_tables"]["managed_in"] = []
    parsed = parse_config(yaml.safe_dump(config, sort_keys=False))
    assert [w.name for w in parsed.team("churn").bundle_workloads] == ["pricing"]


def test_the_account_id_refusal_no_longer_offers_removing_ci_where_that_cannot_deploy():
    config = with_workloads({**BUNDLE, "ci": {"github_repository": "example-org/pricing-ml"}})
    del config["platform"]["account_id"]
    assert_problem_at(config, "teams.churn.workloads[0].ci", "needs platform.account_id")
    lines = [line for line in problems_of(config) if ".ci:" in line]
    assert not any("deploy the bundle by hand" in line for line in lines), lines


def test_a_workload_schema_named_ml_outside_the_churn_preset_is_refused():
    """Every env's catalog already holds the platform's `ml` schema with the wheels' `artifacts` volume
    (UnityCatalogScope, infra/constructs/databricks/unity_catalog.py), churn or not: the pricing/dev workspace
    stack of a bundle with schema_name `ml` synthesized two databricks_schema named `ml` in one catalog, which
    fails at apply ("already exists"). Only the churn preset lives in it."""
    for workload in ({**BUNDLE, "schema_name": "ml"}, {**BUNDLE, "name": "ml"}):
        assert_problem_at(with_workloads(workload, team=1), "teams.pricing.workloads[0].schema_name", "'ml'")


def test_a_repository_copied_from_a_clone_url_is_refused_at_its_field():
    """GitHub's OIDC token names the repository `owner/repo` (the `repository` claim, and `repo:owner/repo:...`
    in `sub`), never with the clone URL's `.git`; GitHub does not allow a repository name ending in `.git`. A
    federation policy for `owner/repo.git` matches no token: the CI's sign-in fails after a clean apply."""
    workload = {**BUNDLE, "ci": {"github_repository": "example-org/pricing-ml.git"}}
    assert_problem_at(with_workloads(workload), "teams.churn.workloads[0].ci.github_repository", ".git")


def test_without_the_account_id_the_missing_ci_line_asks_for_both_at_once():
    config = with_workloads(BUNDLE)
    del config["platform"]["account_id"]
    lines = [line for line in problems_of(config) if "teams.churn.workloads[0].ci" in line]
    assert len(lines) == 1 and "set ci.github_repository" in lines[0] and "platform.account_id" in lines[0], (
        lines
    )
