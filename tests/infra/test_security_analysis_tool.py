"""The Security Analysis Tool (issue 25, item 5): SAT v0.8.0 deployed into one protected workspace, its client secret
never in config, code or state, its code pinned (validate: test_security_analysis_tool_config.py).

Sources: SAT at tag v0.8.0 (databricks-industry-solutions/security-analysis-tool @ 9714352): terraform/common/
{secrets,repo,jobs,sql_warehouse}.tf, terraform/azure/{secrets,service_principal}.tf, terraform/aws/secrets.tf,
notebooks/Utils/initialize.py (scope `sat_scope`, the keys), notebooks/Includes/install_sat_sdk.py (SDK 0.1.51 from
the tag's lib/; PyPI's newest dbl-sat-sdk is 0.1.38, /work/.library/env/packages/pypi.tsv),
src/securityanalysistoolproject/core/dbclient.py (the account console and Azure hosts). SRA (databricks/
terraform-databricks-sra) azure/tf/modules/sat/main.tf and aws/tf/modules/security_analysis_tool/main.tf.
"""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from infra.config import parse_config
from infra.config.security_analysis_tool import (
    CLIENT_SECRET_KEY,
    SAT_CONFIG_KEYS,
    SAT_SCOPE,
    SAT_TAG,
)
from tests.infra.conftest import SYNTH_TODAY, Synthesized
from tests.infra.sat_configs import (
    CLIENT_ID,
    ROOT,
    SUBSCRIPTION_ID,
    TENANT_ID,
    aws_sat_config,
    aws_serverless_sat_config,
    sat_config,
)

STACK = "churn-prod-workspace"


# --- synth ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sat_synth(fake_wheel, tmp_path_factory) -> Synthesized:
    from infra.app import build_app

    config = parse_config(yaml.safe_dump(sat_config()))
    outdir = tmp_path_factory.mktemp("cdktf.sat")
    chosen = [te for te in config.team_envs if te.team.name == "churn" and te.env in ("dev", "prod")]
    app = build_app(config, outdir=outdir, wheel=fake_wheel, team_envs=chosen, today=SYNTH_TODAY)
    app.synth()
    return Synthesized(outdir=outdir, app=app)


def test_the_chosen_workspace_gets_sats_scope_warehouse_repo_schemas_and_jobs(sat_synth):
    """databricks v1.99.0 secrets/resource_secret_scope.go: without keyvault_metadata the scope is DATABRICKS-backed
    (the API can put a secret into it; a Key Vault-backed scope is read-only); access/resource_permission_assignment.go:
    `service_principal_name` with ADMIN assigns the account's principal (USER first, then ADMIN)."""
    stack = sat_synth.json(STACK)["resource"]
    (scope,) = [s for s in stack["databricks_secret_scope"].values() if s["name"] == SAT_SCOPE]
    assert "backend_type" not in scope  # Databricks-backed: the API can write the secret into it
    names = {job["name"] for job in stack["databricks_job"].values()}
    assert {
        "dbp-churn-prod-sat-initializer",
        "dbp-churn-prod-sat-driver",
        "dbp-churn-prod-sat-secrets-scanner",
    } <= names
    assert any(w["name"] == "dbp-churn-prod-sat" for w in stack["databricks_sql_endpoint"].values())
    schemas = {s["name"] for s in stack["databricks_schema"].values()}
    # SAT's scratch intermediate_schema it creates and drops itself (test_sat_runtime.py)
    assert "security_analysis" in schemas and "intermediate_schema" not in schemas
    # SAT's principal is the account's: assigned to the workspace as an admin, never created or deleted here
    assignments = stack["databricks_permission_assignment"].values()
    (admin,) = [a for a in assignments if a.get("service_principal_name") == CLIENT_ID]
    assert admin["permissions"] == ["ADMIN"]
    assert all(s.get("application_id") != CLIENT_ID for s in stack["databricks_service_principal"].values())


def test_sat_is_nowhere_else(sat_synth):
    assert "sat_scope" not in sat_synth.text("churn-dev-workspace")
    assert "databricks_repo" not in sat_synth.text("churn-dev-workspace")


def test_the_scope_holds_the_configuration_keys_and_never_the_client_secret(sat_synth):
    """SRA azure/tf/modules/sat/main.tf and SAT terraform/azure/secrets.tf write `client-secret` with
    databricks_secret from a variable; databricks v1.99.0 secrets/resource_secret.go marks `string_value` Sensitive,
    which hides it from plans but keeps it in state. Here only the keys of SAT_CONFIG_KEYS are declared (each value
    non-empty: the provider's StringIsNotEmpty) and the stack takes no variable a secret could arrive through."""
    document = sat_synth.json(STACK)
    secrets = document["resource"]["databricks_secret"].values()
    keys = {s["key"] for s in secrets}
    assert keys == SAT_CONFIG_KEYS - {"use-sp-auth"}  # Azure: subscription and tenant, no AWS OAuth switch
    assert CLIENT_SECRET_KEY not in keys and "variable" not in document
    values = {s["key"]: s["string_value"] for s in secrets}
    assert values["tenant-id"] == TENANT_ID and values["client-id"] == CLIENT_ID
    assert values["analysis_schema_name"] == "dbp_churn_prod.security_analysis"
    assert values["proxies"] == "{}" and values["sql-warehouse-id"].startswith("${databricks_sql_endpoint.")


def test_the_scope_acls_name_the_deployer_and_sats_principal(sat_synth, platform_config):
    acls = [
        a
        for a in sat_synth.json(STACK)["resource"]["databricks_secret_acl"].values()
        if "security-analysis" in a["scope"]
    ]
    levels = {a["principal"]: a["permission"] for a in acls}
    assert levels[platform_config.platform.deployer_principal] == "MANAGE"
    assert [lv for p, lv in levels.items() if "sat-identity" in p] == ["READ"]


def test_the_notebooks_are_pinned_to_the_release_and_the_sdk_to_its_version(sat_synth):
    """databricks v1.99.0 repos/resource_repo.go: `tag` conflicts with `branch`; Create clones, then checks out the
    tag. SAT v0.8.0 setup.py / install_sat_sdk.py: SDK 0.1.51, shipped in the tag's lib/ (SAT's jobs.tf installs
    `dbl-sat-sdk` unpinned from PyPI, whose newest release is 0.1.38: `==0.1.51` from there would fail)."""
    stack = sat_synth.json(STACK)["resource"]
    ((repo_id, repo),) = stack["databricks_repo"].items()
    repo_ref = f"databricks_repo.{repo_id}"
    assert repo["tag"] == SAT_TAG and "branch" not in repo
    assert repo["url"] == "https://github.com/databricks-industry-solutions/security-analysis-tool.git"
    sat_jobs = [j for j in stack["databricks_job"].values() if j["name"].startswith("dbp-churn-prod-sat-")]
    for job in sat_jobs:
        (task,) = job["task"]
        (library,) = task["library"]
        assert library == {"whl": f"${{{repo_ref}.workspace_path}}/lib/dbl_sat_sdk-0.1.51-py3-none-any.whl"}
        assert task["notebook_task"]["notebook_path"].startswith("${databricks_repo.")
        assert job["run_as"]["service_principal_name"].startswith(
            "${databricks_permission_assignment.sat-identity"
        )
        assert job["job_cluster"][0]["new_cluster"]["policy_id"].startswith("${databricks_cluster_policy.")


def test_the_schedules_stay_paused_until_the_secret_is_set(sat_synth):
    """Created PAUSED (every run would fail without the secret); `platform sat set-secret` unpauses them and
    ignore_changes keeps Terraform from pausing them again on the next apply."""
    stack = sat_synth.json(STACK)["resource"]
    scheduled = {
        j["name"]: j for j in stack["databricks_job"].values() if "schedule" in j and "-sat-" in j["name"]
    }
    assert sorted(scheduled) == ["dbp-churn-prod-sat-driver", "dbp-churn-prod-sat-secrets-scanner"]
    for job in scheduled.values():
        assert job["schedule"]["pause_status"] == "PAUSED"
        assert job["lifecycle"]["ignore_changes"] == ["schedule[0].pause_status"]
    assert (
        scheduled["dbp-churn-prod-sat-driver"]["schedule"]["quartz_cron_expression"]
        == "0 0 8 ? * Mon,Wed,Fri"
    )


def test_sats_principal_may_use_the_policy_and_the_catalog_and_the_deployer_may_run_as_it(sat_synth):
    """run_as needs the deployer to hold servicePrincipal.user on the principal (JobServicePrincipal's rule set)."""
    stack = sat_synth.json(STACK)["resource"]
    sp_ref = "${databricks_permission_assignment.sat-identity_admin_"
    (rules,) = [
        r for k, r in stack["databricks_access_control_rule_set"].items() if k.startswith("sat-identity")
    ]
    assert rules["name"].startswith(
        "accounts/9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d/servicePrincipals/" + sp_ref
    )
    assert {g["role"] for g in rules["grant_rules"]} == {
        "roles/servicePrincipal.manager",
        "roles/servicePrincipal.user",
    }
    policy = next(
        p for k, p in stack["databricks_permissions"].items() if k.startswith("compute_policy-permissions")
    )
    assert any(e.get("service_principal_name", "").startswith(sp_ref) for e in policy["access_control"])
    catalog = next(
        g for k, g in stack["databricks_grants"].items() if k.startswith("unity-catalog_catalog-grants")
    )
    assert any(
        g["principal"].startswith(sp_ref) and g["privileges"] == ["USE_CATALOG", "CREATE_SCHEMA"]
        for g in catalog["grant"]
    )


def test_aws_keys_use_oauth_of_a_databricks_service_principal():
    """SRA aws/tf/modules/security_analysis_tool/main.tf: use-sp-auth with client-id (the user/pass keys are unused
    in v0.8.0: notebooks/Utils/accounts_bootstrap.py sends blanks)."""
    from infra.constructs.databricks.security_analysis_tool import secret_values

    config = parse_config(yaml.safe_dump(aws_sat_config()))
    team_env = next(te for te in config.team_envs if te.key == "risk/prod")
    values = secret_values(team_env, warehouse_id="w", analysis_schema="c.s")
    assert values["use-sp-auth"] == "true" and "tenant-id" not in values and set(values) <= SAT_CONFIG_KEYS


# --- graph ------------------------------------------------------------------------------------------------------


def test_create_and_destroy_order(sat_synth):
    """tests/terraform_graph.py: the scope before its keys and ACLs (and destroyed after them), the Git folder and
    the keys before the jobs, SAT's principal's assignment before every grant and ACL that names it."""
    from tests.terraform_graph import StackGraph

    graph = StackGraph(sat_synth.json(STACK))
    (scope,) = [n.address for n in graph.of_type("databricks_secret_scope") if n.config["name"] == SAT_SCOPE]
    (repo,) = [n.address for n in graph.of_type("databricks_repo")]
    (sp,) = [
        n.address for n in graph.of_type("databricks_permission_assignment") if "sat-identity" in n.address
    ]
    keys = [n.address for n in graph.of_type("databricks_secret")]
    acls = [n.address for n in graph.of_type("databricks_secret_acl") if "security-analysis" in n.address]
    jobs = [n.address for n in graph.of_type("databricks_job") if "security-analysis" in n.address]
    assert len(keys) == 8 and len(acls) == 2 and len(jobs) == 3
    for dependent in [*keys, *acls]:
        assert graph.depends(dependent, scope) and graph.destroyed_before(dependent, scope)
    for job in jobs:
        assert graph.depends(job, repo) and graph.destroyed_before(job, repo)
        assert all(graph.depends(job, key) for key in keys)
        assert graph.depends(job, sp)
    grants = [n.address for n in graph.of_type("databricks_grants") if "security-analysis" in n.address]
    grants.append(
        next(n.address for n in graph.of_type("databricks_grants") if "catalog-grants" in n.address)
    )
    named = [
        *grants,
        *(a for a in acls if "sat-identity" in graph.nodes[a].config["principal"]),
        next(n.address for n in graph.of_type("databricks_permissions") if "policy" in n.address),
    ]
    assert all(graph.depends(g, sp) and graph.destroyed_before(g, sp) for g in named)


# --- policy -----------------------------------------------------------------------------------------------------


def _violations(document: dict, team_env) -> str:
    from infra.aspects.policy import PolicyAspect
    from infra.aspects.policy.engine import PolicyViolations
    from infra.aspects.policy.packs import COMMON, WORKSPACE
    from infra.aspects.stack_aspects import SynthesizedStack

    with pytest.raises(PolicyViolations) as caught:
        PolicyAspect(team_env=team_env, packs=(*WORKSPACE, COMMON)).visit(
            SynthesizedStack(name=STACK, document=document)
        )
    return str(caught.value)


@pytest.fixture(scope="module")
def sat_env():
    config = parse_config(yaml.safe_dump(sat_config()))
    return next(te for te in config.team_envs if te.key == "churn/prod")


def _with_secret(sat_synth, key: str, scope: str | None = None) -> dict:
    document = copy.deepcopy(sat_synth.json(STACK))
    secrets = document["resource"]["databricks_secret"]
    any_key = next(iter(secrets.values()))
    secrets["added"] = {"key": key, "scope": scope or any_key["scope"], "string_value": "s3cr3t"}
    return document


def test_plat_sec_2_still_refuses_the_client_secret_in_sats_scope(sat_synth, sat_env):
    problem = _violations(_with_secret(sat_synth, CLIENT_SECRET_KEY), sat_env)
    assert "PLAT-SEC-2" in problem and "added" in problem and problem.count("PLAT-SEC-2") == 1


def test_plat_sec_2_allows_sats_configuration_keys_only_in_sats_scope(sat_synth, sat_env):
    document = _with_secret(sat_synth, "client-id", scope="other")
    assert "PLAT-SEC-2" in _violations(document, sat_env)


def test_plat_sec_2_allows_them_only_in_the_env_that_runs_sat(sat_synth, platform_config):
    """The committed config runs no SAT: the same stack's keys are then secret values through Terraform."""
    committed = next(te for te in platform_config.team_envs if te.key == "churn/prod")
    assert _violations(copy.deepcopy(sat_synth.json(STACK)), committed).count("PLAT-SEC-2") == 8


def test_plat_audit_6_a_git_folder_on_a_branch_fails(sat_synth, sat_env):
    document = copy.deepcopy(sat_synth.json(STACK))
    (repo,) = document["resource"]["databricks_repo"].values()
    del repo["tag"]
    repo["branch"] = "main"  # SAT's own terraform/common/repo.tf
    problem = _violations(document, sat_env)
    assert "PLAT-AUDIT-6" in problem and "'main'" in problem


def test_the_synthesized_stack_holds_no_secret_value(sat_synth):
    """Nothing in the stack could be SAT's secret: every databricks_secret value is one of the config's IDs, names,
    the warehouse reference or `{}`."""
    document = sat_synth.json(STACK)
    allowed = {CLIENT_ID, TENANT_ID, SUBSCRIPTION_ID, "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "{}"}
    for secret in document["resource"]["databricks_secret"].values():
        value = secret["string_value"]
        assert (
            value in allowed or value.startswith("${databricks_sql_endpoint.") or "." in value or "@" in value
        )
    assert json.dumps(document).count(CLIENT_SECRET_KEY) == 0


def test_the_deploy_order_rules_of_every_workspace_stack_hold_with_sat(sat_synth, platform_config):
    """The type-wide graph rules of tests/infra/test_deploy_order.py (catalog binding, metastore assignment, group
    assignment before ACLs), run over the workspace stack with SAT's schemas, grants and scope ACLs in it."""
    from tests.infra import test_deploy_order as rules
    from tests.terraform_graph import StackGraph

    graphs = {STACK: StackGraph(sat_synth.json(STACK))}
    rules.test_every_stack_has_a_destroy_order(graphs)
    rules.test_nothing_in_an_isolated_catalog_outlives_its_workspace_binding(graphs)
    rules.test_no_unity_catalog_object_names_its_catalog_without_depending_on_it(graphs)
    rules.test_unity_catalog_objects_wait_for_the_metastore_assignment_when_there_is_one(graphs)
    rules.test_workspace_acls_wait_for_their_groups_to_be_assigned_to_the_workspace(graphs, platform_config)


@pytest.fixture(scope="module")
def aws_sat_synth(fake_wheel, tmp_path_factory) -> Synthesized:
    """risk/prod (AWS) running SAT on serverless: the env runs its jobs on serverless (no compliance profile)."""
    from infra.app import build_app

    raw = aws_serverless_sat_config()
    config = parse_config(yaml.safe_dump(raw))
    outdir = tmp_path_factory.mktemp("cdktf.sat.aws")
    chosen = [te for te in config.team_envs if te.key == "risk/prod"]
    app = build_app(config, outdir=outdir, wheel=fake_wheel, team_envs=chosen, today=SYNTH_TODAY)
    app.synth()  # the AWS stacks' policy packs (AWS_IAM, ACCOUNT, ...) pass with SAT in the workspace stack
    return Synthesized(outdir=outdir, app=app)


def test_serverless_sat_jobs_take_an_environment_and_no_library(aws_sat_synth):
    """SAT v0.8.0 jobs.tf with run_on_serverless: no job cluster, an `environment`, no pypi library (the
    notebook installs the SDK wheel from the Git folder's lib/ with --no-deps, install_sat_sdk.py)."""
    stack = aws_sat_synth.json("risk-prod-workspace")["resource"]
    sat_jobs = [j for j in stack["databricks_job"].values() if j["name"].startswith("dbp-risk-prod-sat-")]
    assert len(sat_jobs) == 3
    for job in sat_jobs:
        (task,) = job["task"]
        assert "job_cluster" not in job and "library" not in task and "job_cluster_key" not in task
        assert task["environment_key"] == job["environment"][0]["environment_key"]
        assert job["environment"][0]["spec"] == {"environment_version": "4"}
    keys = {s["key"]: s["string_value"] for s in stack["databricks_secret"].values()}
    assert keys["use-sp-auth"] == "true" and "tenant-id" not in keys


# SAT v0.8.0 notebooks/diagnosis/pre_run_config_check.py: the keys each cloud's run reads before anything else (it
# ends the run with "missing required secret" otherwise).
PRE_RUN_KEYS = {
    "azure": {
        "account-console-id",
        "sql-warehouse-id",
        "subscription-id",
        "tenant-id",
        "client-id",
        "client-secret",
    }
    | {"analysis_schema_name"},
    "aws": {"account-console-id", "sql-warehouse-id", "client-id", "client-secret", "use-sp-auth"}
    | {"analysis_schema_name"},
}


@pytest.mark.parametrize(("raw", "key"), [(sat_config, "churn/prod"), (aws_sat_config, "risk/prod")])
def test_every_key_sats_pre_run_check_reads_is_declared_or_set_by_set_secret(raw, key):
    from infra.constructs.databricks.security_analysis_tool import secret_values

    config = parse_config(yaml.safe_dump(raw()))
    team_env = next(te for te in config.team_envs if te.key == key)
    declared = set(secret_values(team_env, warehouse_id="w", analysis_schema="c.s")) | {CLIENT_SECRET_KEY}
    assert PRE_RUN_KEYS[team_env.team.cloud] <= declared


@pytest.mark.slow  # a full checkov run
def test_checkov_passes_the_stacks_with_sat(sat_synth, aws_sat_synth):
    """checkov over the SAT stacks, Azure (job clusters) and AWS (serverless), as `platform scan` runs it."""
    from infra.cli.scan import scan

    checkov = ROOT / ".venv-checkov" / "bin" / "checkov"
    assert checkov.is_file(), f"{checkov} is missing: run make setup"
    results = [
        result
        for out in (sat_synth.outdir, aws_sat_synth.outdir)
        for result in scan(out, checkov=checkov, config=ROOT / "policy" / "checkov.yaml")
    ]
    assert {r.name for r in results} >= {STACK, "risk-prod-workspace"}
    assert [(r.name, f.check_id, f.resource) for r in results for f in r.failed] == []
    assert [r.name for r in results if r.parse_error] == []
