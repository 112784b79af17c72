"""Model serving endpoints: bounded, audited, and queried only by the team."""

from __future__ import annotations

from typing import Any

from infra.aspects.policy.engine import Rule, RuleContext, RulePack, first_block

# Built-in groups that hold every user of the workspace or the account.
EVERYONE_GROUPS = frozenset({"users", "account users"})


def _rate_limited(config: dict[str, Any], _: RuleContext) -> str | None:
    limits = first_block(config.get("ai_gateway")).get("rate_limits") or []
    if any(isinstance(limit, dict) and limit.get("calls") for limit in limits):
        return None
    return "serving endpoint has no AI Gateway rate limit (ai_gateway.rate_limits with calls)"


def _requests_logged(config: dict[str, Any], _: RuleContext) -> str | None:
    table = first_block(first_block(config.get("ai_gateway")).get("inference_table_config"))
    if table.get("enabled") is True and table.get("catalog_name") and table.get("schema_name"):
        return None
    return (
        "serving endpoint logs no requests: enable ai_gateway.inference_table_config into the env's catalog"
    )


def _queried_by_named_principals(config: dict[str, Any], _: RuleContext) -> str | None:
    if not config.get("serving_endpoint_id"):
        return None
    entries = config.get("access_control") or []
    open_to_all = sorted(
        str(e.get("group_name"))
        for e in entries
        if isinstance(e, dict) and e.get("group_name") in EVERYONE_GROUPS
    )
    return (
        f"serving endpoint is open to every user through {open_to_all}; grant team groups"
        if open_to_all
        else None
    )


DATABRICKS_SERVING = RulePack(
    "databricks-serving",
    (
        Rule(
            "PLAT-SRV-1", ("databricks_model_serving",), "serving endpoints are rate limited", _rate_limited
        ),
        Rule(
            "PLAT-SRV-2",
            ("databricks_model_serving",),
            "serving endpoints log requests to an inference table in Unity Catalog",
            _requests_logged,
        ),
        Rule(
            "PLAT-SRV-3",
            ("databricks_permissions",),
            "serving endpoint permissions name team groups, never everyone",
            _queried_by_named_principals,
        ),
    ),
)
