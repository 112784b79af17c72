"""Azure role assignments: the access connector's exact roles, no privileged roles."""

from __future__ import annotations

import re
from typing import Any

from infra.aspects.policy.engine import Rule, RuleContext, RulePack

# The one role Unity Catalog needs on the lake (storage credential, external locations, managed storage).
UNITY_CATALOG_STORAGE_ROLES = ("Storage Blob Data Contributor",)
# A storage account of the stack (reference) or an existing one (ARM ID); nothing broader, nothing narrower.
_STORAGE_ACCOUNT_ID = re.compile(
    r"^(\$\{azurerm_storage_account\.[^.}]+\.id\}"
    r"|/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Storage/storageAccounts/[^/]+)$",
    re.IGNORECASE,
)


def _connector_has_only_unity_catalog_roles(config: dict[str, Any], ctx: RuleContext) -> str | None:
    identity = "${" + ctx.address + ".identity"
    grants = [
        (assignment.get("role_definition_name"), str(assignment.get("scope")))
        for assignment in (block.config for block in ctx.stack.resources("azurerm_role_assignment"))
        if str(assignment.get("principal_id", "")).startswith(identity)
    ]
    if not grants:
        return f"the access connector holds no {' / '.join(UNITY_CATALOG_STORAGE_ROLES)} on the lake storage"
    wrong = [
        f"{role or 'a role by ID'} on {scope}"
        for role, scope in grants
        if role not in UNITY_CATALOG_STORAGE_ROLES or not _STORAGE_ACCOUNT_ID.match(scope)
    ]
    if wrong:
        return (
            f"the access connector may hold only {' / '.join(UNITY_CATALOG_STORAGE_ROLES)} on a storage account; "
            f"it also gets {', '.join(wrong)}"
        )
    return None


PRIVILEGED_ROLES = (
    "Owner",
    "Contributor",
    "User Access Administrator",
    "Role Based Access Control Administrator",
)


def _no_privileged_role(config: dict[str, Any], _: RuleContext) -> str | None:
    role = config.get("role_definition_name")
    if role is None:
        return "role assignments must name their role (role_definition_name), so reviews and this rule can read it"
    if role in PRIVILEGED_ROLES:
        return (
            f"stacks must not hand out the privileged role {role!r}; grant a data-plane role on one resource"
        )
    return None


AZURE_IAM = RulePack(
    "azure_iam",
    (
        Rule(
            "PLAT-IAM-1",
            ("azurerm_databricks_access_connector",),
            "access connector holds exactly the Unity Catalog storage role, on storage accounts only",
            _connector_has_only_unity_catalog_roles,
        ),
        Rule(
            "PLAT-IAM-2",
            ("azurerm_role_assignment",),
            "no Owner, Contributor or access-administration role assignments",
            _no_privileged_role,
        ),
    ),
)
