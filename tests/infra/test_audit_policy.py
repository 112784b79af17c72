"""PLAT-AUDIT-*: each rule fails a stack without its control (the committed prod stacks with the control removed)
and passes the stack as synthesized."""

import copy

import pytest

from infra.aspects.policy import PolicyAspect
from infra.aspects.policy.engine import PolicyViolations
from infra.aspects.policy.packs import ACCOUNT, WORKSPACE
from infra.aspects.stack_aspects import SynthesizedStack


def _env(platform_config, key):
    return next(te for te in platform_config.team_envs if te.key == key)


def _check(document, *, team_env, packs, name="stack"):
    PolicyAspect(team_env=team_env, packs=packs).visit(SynthesizedStack(name=name, document=document))


def _violations(document, **kwargs) -> str:
    with pytest.raises(PolicyViolations) as caught:
        _check(document, **kwargs)
    return str(caught.value)


def test_the_committed_prod_stacks_comply(synthesized, platform_config):
    _check(
        copy.deepcopy(synthesized.json("churn-prod-workspace")),
        team_env=_env(platform_config, "churn/prod"),
        packs=WORKSPACE,
    )
    _check(
        copy.deepcopy(synthesized.json("risk-prod-account")),
        team_env=_env(platform_config, "risk/prod"),
        packs=ACCOUNT,
    )


def test_plat_audit_1_a_prod_workspace_without_audit_alerts_fails(synthesized, platform_config):
    document = copy.deepcopy(synthesized.json("churn-prod-workspace"))
    alerts = document["resource"]["databricks_alert_v2"]
    for key in [k for k in alerts if "token-creation" in k]:
        del alerts[key]
    problem = _violations(document, team_env=_env(platform_config, "churn/prod"), packs=WORKSPACE)
    assert "PLAT-AUDIT-1" in problem and "token creation" in problem


def test_plat_audit_1_leaves_dev_alone(synthesized, platform_config):
    _check(
        copy.deepcopy(synthesized.json("churn-dev-workspace")),
        team_env=_env(platform_config, "churn/dev"),
        packs=WORKSPACE,
    )


def test_plat_audit_1_leaves_a_prod_alone_where_databricks_has_no_system_tables(synthesized, platform_config):
    """Validate refuses alerts in West India / Switzerland West (no system.access.audit there), so the rule may not
    demand them: a prod there could never pass both."""
    document = copy.deepcopy(synthesized.json("churn-prod-workspace"))
    del document["resource"]["databricks_alert_v2"]
    churn = _env(platform_config, "churn/prod")
    team = churn.team.model_copy(update={"region": "switzerlandwest"})
    _check(document, team_env=churn.model_copy(update={"team": team}), packs=WORKSPACE)


def test_plat_audit_2_an_aws_prod_workspace_without_log_delivery_fails(synthesized, platform_config):
    document = copy.deepcopy(synthesized.json("risk-prod-account"))
    del document["resource"]["databricks_mws_log_delivery"]
    problem = _violations(document, team_env=_env(platform_config, "risk/prod"), packs=ACCOUNT)
    assert "PLAT-AUDIT-2" in problem


def test_plat_audit_2_a_disabled_or_other_workspace_delivery_does_not_count(synthesized, platform_config):
    document = copy.deepcopy(synthesized.json("risk-prod-account"))
    (delivery,) = document["resource"]["databricks_mws_log_delivery"].values()
    delivery["workspace_ids_filter"] = [1234]
    assert "PLAT-AUDIT-2" in _violations(document, team_env=_env(platform_config, "risk/prod"), packs=ACCOUNT)


def test_plat_audit_3_unprotected_system_schemas_of_a_protected_env_fail(synthesized, platform_config):
    document = copy.deepcopy(synthesized.json("pricing-prod-workspace"))
    for schema in document["resource"]["databricks_system_schema"].values():
        del schema["lifecycle"]
    problem = _violations(document, team_env=_env(platform_config, "pricing/prod"), packs=WORKSPACE)
    assert "PLAT-AUDIT-3" in problem


def test_plat_audit_4_an_alert_that_notifies_nobody_fails(synthesized, platform_config):
    document = copy.deepcopy(synthesized.json("churn-prod-workspace"))
    alert = next(iter(document["resource"]["databricks_alert_v2"].values()))
    alert["evaluation"]["notification"]["subscriptions"] = []
    problem = _violations(document, team_env=_env(platform_config, "churn/prod"), packs=WORKSPACE)
    assert "PLAT-AUDIT-4" in problem


def test_plat_audit_5_a_workspace_sending_only_some_log_categories_fails(synthesized, platform_config):
    """azurerm v4.55.0 internal/services/monitor/monitor_diagnostic_setting_resource.go: enabled_log takes a
    `category` or a `category_group`; `allLogs` follows the categories Azure Databricks adds, a list does not."""
    from infra.aspects.policy.packs import AZURE

    document = copy.deepcopy(synthesized.json("churn-prod-platform"))
    team_env = _env(platform_config, "churn/prod")
    _check(copy.deepcopy(document), team_env=team_env, packs=AZURE)
    for setting in document["resource"]["azurerm_monitor_diagnostic_setting"].values():
        if "azurerm_databricks_workspace" in setting["target_resource_id"]:
            setting["enabled_log"] = [{"category": "accounts"}, {"category": "clusters"}]
    assert "PLAT-AUDIT-5" in _violations(document, team_env=team_env, packs=AZURE)
