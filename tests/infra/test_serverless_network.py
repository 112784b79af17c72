"""The network of serverless compute (config `serverless.restricted_egress`, prod default; issue 25 item 2): a
restricted account network policy attached to each prod workspace, on AWS an NCC bound to it, both destroyed after
the workspace; on Azure both in the env's account stack, never its platform stack; PLAT-DBX-SERVERLESS-2/-3 fail a prod
workspace without the policy; validate refuses what cannot work."""

import copy
import json

import pytest
import yaml

from infra.app import build_app
from infra.aspects.policy import PolicyAspect
from infra.aspects.policy.engine import PolicyViolations
from infra.aspects.policy.packs import ACCOUNT, AZURE, AZURE_ACCOUNT
from infra.aspects.stack_aspects import SynthesizedStack
from infra.config import parse_config
from infra.config.deployability import deploy_warnings
from infra.config.serverless import (
    NCC_NAME_MAX,
    NETWORK_POLICY_ID_MAX,
    internet_destinations,
    ncc_name,
    network_policy_id,
)
from tests.infra.test_config_deploy_runner import committed
from tests.infra.test_config_hardening import team, validate
from tests.terraform_graph import StackGraph

POLICY, OPTION = "databricks_account_network_policy", "databricks_workspace_network_option"
NCC, BINDING = "databricks_mws_network_connectivity_config", "databricks_mws_ncc_binding"
PROD = {
    "churn-prod-account": "azurerm_databricks_workspace",
    "risk-prod-account": "databricks_mws_workspaces",
}
# The stack that holds each prod workspace: on Azure the platform stack, on AWS the account stack with its policy.
WORKSPACE_STACK = {"churn-prod-account": "churn-prod-platform", "risk-prod-account": "risk-prod-account"}


def _env(platform_config, key):
    return next(te for te in platform_config.team_envs if te.key == key)


def _access(policy: dict) -> dict:
    return policy["egress"]["network_access"]


def test_each_committed_prod_workspace_gets_a_restricted_enforced_policy(synthesized):
    for stack, workspace_type in PROD.items():
        (policy,) = synthesized.resources(stack, POLICY).values()
        access = _access(policy)
        assert access["restriction_mode"] == "RESTRICTED_ACCESS", stack
        assert access["policy_enforcement"]["enforcement_mode"] == "ENFORCED", stack
        names = [d["destination"] for d in access["allowed_internet_destinations"]]
        assert names[:2] == ["pypi.org", "files.pythonhosted.org"], stack
        (option,) = synthesized.resources(stack, OPTION).values()
        (workspace,) = synthesized.resources(WORKSPACE_STACK[stack], workspace_type)
        assert option["workspace_id"] == _workspace_id_in(
            synthesized, stack, WORKSPACE_STACK[stack], workspace
        )
        assert len(policy["network_policy_id"]) <= NETWORK_POLICY_ID_MAX


def _workspace_id_in(synthesized, stack: str, workspace_stack: str, workspace: str) -> str:
    """How ``stack`` names the workspace ID: a reference in its own stack, else the platform stack's output read
    through remote state (cdktf's cross-stack reference)."""
    own = f"{PROD[stack]}.{workspace}.workspace_id"
    if stack == workspace_stack:
        return "${" + own + "}"
    (output,) = [
        name
        for name, out in synthesized.json(workspace_stack)["output"].items()
        if out["value"] == "${" + own + "}"
    ]
    (remote,) = synthesized.json(stack)["data"]["terraform_remote_state"]
    return "${" + f"data.terraform_remote_state.{remote}.outputs.{output}" + "}"


def test_storage_destinations_are_the_envs_own_lake_and_buckets(synthesized):
    (azure,) = synthesized.resources("churn-prod-account", POLICY).values()
    (lake,) = synthesized.resources("churn-prod-platform", "azurerm_storage_account").values()
    assert _access(azure)["allowed_storage_destinations"] == [
        {
            "azure_storage_account": lake["name"],
            "azure_storage_service": "dfs",
            "storage_destination_type": "AZURE_STORAGE",
        }
    ]
    (aws,) = synthesized.resources("risk-prod-account", POLICY).values()
    buckets = {d["bucket_name"] for d in _access(aws)["allowed_storage_destinations"]}
    platform_buckets = {
        b["bucket"] for b in synthesized.resources("risk-prod-platform", "aws_s3_bucket").values()
    }
    assert buckets and buckets <= platform_buckets
    assert {d["region"] for d in _access(aws)["allowed_storage_destinations"]} == {"eu-west-1"}


def test_aws_prod_gets_an_ncc_bound_to_its_workspace_azure_none(synthesized):
    """SRA aws/tf/modules/databricks_account/workspace/main.tf binds the NCC; on Azure the NCC would serve only
    private endpoint rules, which the platform cannot approve (infra/config/serverless.py)."""
    (ncc,) = synthesized.resources("risk-prod-account", NCC).values()
    assert ncc["region"] == "eu-west-1" and 3 <= len(ncc["name"]) <= NCC_NAME_MAX
    (binding,) = synthesized.resources("risk-prod-account", BINDING).values()
    assert binding["workspace_id"] == "${databricks_mws_workspaces.workspace.workspace_id}"
    assert not synthesized.resources("churn-prod-account", NCC)


def test_dev_stays_relaxed(synthesized):
    for stack in ("churn-dev-platform", "risk-dev-account", "pricing-dev-platform"):
        for rtype in (POLICY, OPTION, NCC, BINDING):
            assert not synthesized.resources(stack, rtype), (stack, rtype)
    assert "churn-dev-account" not in synthesized.stack_names  # an Azure env needs one only with the policy


def test_azure_platform_stacks_hold_no_account_level_provider_or_resource(synthesized, platform_config):
    """Pull requests plan platform stacks with a read-only identity that is no Databricks account admin: a
    platform stack that held the policy (or only the account provider) would make it refresh account objects."""
    for team_env in platform_config.team_envs:
        if team_env.team.cloud != "azure":
            continue
        document = synthesized.json(team_env.stacks["platform"])
        assert "databricks" not in document.get("provider", {}), team_env.key
        for rtype in (POLICY, OPTION, NCC, BINDING):
            assert not synthesized.resources(team_env.stacks["platform"], rtype), (team_env.key, rtype)


def test_the_azure_account_stack_uses_the_account_host_as_its_only_provider(synthesized):
    document = synthesized.json("churn-prod-account")
    assert set(document["provider"]) == {"databricks"}
    (provider,) = document["provider"]["databricks"]
    assert provider["host"] == "https://accounts.azuredatabricks.net" and "alias" not in provider
    assert provider["account_id"] and "token" not in provider
    (option,) = synthesized.resources("churn-prod-account", OPTION).values()
    assert "provider" not in option


@pytest.mark.parametrize("stack", ["risk-prod-account"])
def test_ncc_and_policy_exist_before_the_workspace_and_outlive_it(synthesized, stack):
    """databricks v1.99.0 mws/resource_mws_ncc_binding.go (Delete only logs "Cannot remove network connectivity
    config binding") and internal/providers/pluginfw/products/workspace_network_option/
    resource_workspace_network_option.go (Delete is empty): neither attachment is undone on destroy, so the NCC and
    the policy may be deleted only once the workspace is gone."""
    graph = StackGraph(synthesized.json(stack))
    (workspace,) = graph.of_type(PROD[stack])
    account_objects = graph.of_type(POLICY) + graph.of_type(NCC)
    attachments = graph.of_type(OPTION) + graph.of_type(BINDING)
    assert account_objects and attachments
    for thing in account_objects:
        assert graph.depends(workspace.address, thing.address), (stack, thing.address)
        assert graph.destroyed_before(workspace.address, thing.address), (stack, thing.address)
    for attachment in attachments:
        assert graph.depends(attachment.address, workspace.address), (stack, attachment.address)


def _check(document, team_env, packs):
    PolicyAspect(team_env=team_env, packs=packs).visit(SynthesizedStack(name="stack", document=document))


@pytest.mark.parametrize(
    ("stack", "key", "packs", "rule"),
    [
        ("risk-prod-account", "risk/prod", ACCOUNT, "PLAT-DBX-SERVERLESS-2"),
        ("churn-prod-account", "churn/prod", AZURE_ACCOUNT, "PLAT-DBX-SERVERLESS-3"),
    ],
)
def test_plat_dbx_serverless_2_fails_a_prod_workspace_without_the_policy(
    synthesized, platform_config, stack, key, packs, rule
):
    team_env = _env(platform_config, key)
    _check(copy.deepcopy(synthesized.json(stack)), team_env, packs)
    document = copy.deepcopy(synthesized.json(stack))
    del document["resource"][OPTION]
    with pytest.raises(PolicyViolations, match=rule):
        _check(document, team_env, packs)


def test_plat_dbx_serverless_3_fails_an_attachment_to_another_workspace_or_an_open_policy(
    synthesized, platform_config
):
    team_env = _env(platform_config, "churn/prod")
    document = copy.deepcopy(synthesized.json("churn-prod-account"))
    (option,) = document["resource"][OPTION].values()
    option["workspace_id"] = 1234567890
    with pytest.raises(PolicyViolations, match=r"PLAT-DBX-SERVERLESS-3.*platform stack's workspace"):
        _check(document, team_env, AZURE_ACCOUNT)
    document = copy.deepcopy(synthesized.json("churn-prod-account"))
    (policy,) = document["resource"][POLICY].values()
    _access(policy)["restriction_mode"] = "FULL_ACCESS"
    with pytest.raises(PolicyViolations, match=r"PLAT-DBX-SERVERLESS-3.*RESTRICTED_ACCESS"):
        _check(document, team_env, AZURE_ACCOUNT)


def test_plat_az_account_1_fails_a_platform_stack_holding_the_policy(synthesized, platform_config):
    team_env = _env(platform_config, "churn/prod")
    _check(copy.deepcopy(synthesized.json("churn-prod-platform")), team_env, AZURE)
    document = copy.deepcopy(synthesized.json("churn-prod-platform"))
    document["resource"][POLICY] = copy.deepcopy(synthesized.json("churn-prod-account")["resource"][POLICY])
    with pytest.raises(PolicyViolations, match="PLAT-AZ-ACCOUNT-1"):
        _check(document, team_env, AZURE)


def test_plat_dbx_serverless_2_fails_a_dry_run_or_open_policy(synthesized, platform_config):
    team_env = _env(platform_config, "risk/prod")
    for key, value in (
        ("policy_enforcement", {"enforcement_mode": "DRY_RUN"}),
        ("restriction_mode", "FULL_ACCESS"),
    ):
        document = copy.deepcopy(synthesized.json("risk-prod-account"))
        (policy,) = document["resource"][POLICY].values()
        _access(policy)[key] = value
        with pytest.raises(PolicyViolations, match="PLAT-DBX-SERVERLESS-2"):
            _check(document, team_env, ACCOUNT)


def test_plat_dbx_serverless_2_leaves_dev_alone(synthesized, platform_config):
    _check(copy.deepcopy(synthesized.json("risk-dev-account")), _env(platform_config, "risk/dev"), ACCOUNT)


def test_serverless_jobs_on_aws_dev_get_an_ncc_without_a_policy(fake_wheel, tmp_path):
    config = committed()
    team(config, "risk")["environments"]["dev"]["serverless"] = {"jobs": True}
    parsed = parse_config(yaml.safe_dump(config))
    team_env = next(te for te in parsed.team_envs if te.key == "risk/dev")
    build_app(parsed, outdir=tmp_path, wheel=fake_wheel, team_envs=[team_env]).synth()
    document = json.loads((tmp_path / "stacks" / "risk-dev-account" / "cdk.tf.json").read_text())
    assert len(document["resource"][NCC]) == 1 and len(document["resource"][BINDING]) == 1
    assert POLICY not in document["resource"]


def test_long_stems_keep_names_within_the_provider_limits():
    """databricks v1.99.0 mws/resource_mws_network_connectivity_config.go validates name as 3-30 characters (and
    forces a replacement on a change); the network policy API takes ids of ^[a-zA-Z0-9_.-]{1,32}$."""
    stem = "platformx-averylongteamname-averylongenvname"
    assert len(ncc_name(stem)) <= NCC_NAME_MAX and ncc_name(stem).endswith("-ncc")
    assert len(network_policy_id(stem)) <= NETWORK_POLICY_ID_MAX and network_policy_id(stem).endswith("-np")
    assert ncc_name(stem) != ncc_name(stem + "2")
    assert ncc_name("dbp-risk-prod") == "dbp-risk-prod-ncc"


def test_restricted_egress_without_an_account_id_is_refused(tmp_path, capsys):
    config = committed()
    del config["platform"]["account_id"]
    for name in ("risk", "pricing"):
        config["teams"] = [t for t in config["teams"] if t["name"] != name]
    config["platform"]["audit"]["system_tables"]["managed_in"] = ["churn/prod"]
    team(config, "churn")["workloads"] = [
        w for w in team(config, "churn")["workloads"] if w["kind"] == "managed"
    ]
    code, lines = validate(config, tmp_path, capsys)
    assert code == 2
    assert len(lines) == 1
    assert (
        "teams.churn.environments.prod.serverless.restricted_egress: the network policy is an account"
        in lines[0]
    )


def test_wildcards_in_the_serverless_allow_list_are_refused(tmp_path, capsys):
    config = committed()
    team(config, "risk")["environments"]["prod"]["serverless"] = {"allowed_fqdns": ["*.example.com"]}
    code, lines = validate(config, tmp_path, capsys)
    assert code == 2 and len(lines) == 1
    assert (
        "teams.risk.environments.prod.serverless.allowed_fqdns: *.example.com: a serverless network"
        in lines[0]
    )


def test_an_allow_list_without_restricted_egress_is_refused(tmp_path, capsys):
    config = committed()
    team(config, "risk")["environments"]["dev"]["serverless"] = {"allowed_fqdns": ["api.example.com"]}
    code, lines = validate(config, tmp_path, capsys)
    assert code == 2 and len(lines) == 1
    assert (
        "teams.risk.environments.dev.serverless.allowed_fqdns: applies only with restricted_egress"
        in lines[0]
    )


def test_azure_firewall_wildcards_stay_out_of_the_policy_with_a_warning():
    config = committed()
    prod = team(config, "churn")["environments"]["prod"]
    prod["egress"] = {"allowed_fqdns": ["*.example.com", "login.microsoftonline.com"]}
    prod["serverless"] = {"allowed_fqdns": ["api.example.com"]}
    parsed = parse_config(yaml.safe_dump(config))
    team_env = next(te for te in parsed.team_envs if te.key == "churn/prod")
    assert internet_destinations("azure", team_env.settings) == [
        "pypi.org",
        "files.pythonhosted.org",
        "api.example.com",
        "login.microsoftonline.com",
    ]
    assert any(
        line.startswith("teams.churn.environments.prod.egress.allowed_fqdns: *.example.com reach the")
        for line in deploy_warnings(parsed)
    )


def test_more_nccs_in_a_region_than_databricks_allows_are_refused(tmp_path, capsys):
    """Databricks docs, "Manage network connectivity configurations": 10 NCCs per region per account."""
    config = committed()
    risk = team(config, "risk")
    for env in risk["environments"].values():
        env["serverless"] = {"restricted_egress": True}
    clones = []
    for number in range(1, 4):
        clone = copy.deepcopy(risk)
        clone["name"] = f"risk{number}"
        for index, env in enumerate(clone["environments"].values()):
            env["network"] = f"10.{30 + number * 10}.{index * 4}.0/22"
        clone["ephemeral"]["network_pool"] = f"10.{30 + number * 10}.64.0/18"
        clones.append(clone)
    config["teams"] += clones
    code, lines = validate(config, tmp_path, capsys)
    assert code == 2
    assert any(
        "teams: 12 permanent AWS envs in eu-west-1 get a network connectivity" in line for line in lines
    ), lines
