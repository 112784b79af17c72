"""Azure and Databricks names derived from the config, each checked against the service's own rules.

Names are pure functions of (prefix, team, env): the same config always yields the same names, so a fresh
checkout can find every resource again. Globally unique names (storage accounts, key vaults) get a short
stable hash of the full identity, so two platforms with similar prefixes never collide.
"""

import hashlib
import re
from dataclasses import dataclass

# name kind -> (regex the whole name must match, human description of the rule)
AZURE_NAME_RULES: dict[str, tuple[str, str]] = {
    "resource_group": (
        r"[-\w.()]{1,89}[-\w()]",
        "1-90 letters, digits, '-', '_', '.', '()' not ending in '.'",
    ),
    "virtual_network": (r"[A-Za-z0-9][-\w.]{0,62}\w", "2-64 letters, digits, '-', '_', '.'"),
    "subnet": (r"[A-Za-z0-9][-\w.]{0,78}\w", "1-80 letters, digits, '-', '_', '.'"),
    "network_security_group": (r"[A-Za-z0-9][-\w.]{0,78}\w", "1-80 letters, digits, '-', '_', '.'"),
    "databricks_workspace": (r"[A-Za-z0-9][-\w]{1,62}", "3-64 letters, digits, '-', '_'"),
    "access_connector": (r"[A-Za-z0-9][-\w.]{1,62}", "3-64 letters, digits, '-', '_', '.'"),
    "storage_account": (r"[a-z0-9]{3,24}", "3-24 lowercase letters and digits"),
    "key_vault": (
        r"(?!.*--)[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]",
        "3-24 letters, digits and single hyphens, starting with a letter",
    ),
    "log_analytics_workspace": (r"[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]", "4-63 letters, digits, '-'"),
    "budget": (r"[\w-]{1,63}", "1-63 letters, digits, '-', '_'"),
    # Unity Catalog identifiers are kept to plain lowercase so they never need quoting in SQL.
    "uc_identifier": (r"[a-z][a-z0-9_]{0,254}", "lowercase letters, digits, '_', starting with a letter"),
}


def stable_hash(*parts: str, length: int = 6) -> str:
    """A short lowercase hex hash of the parts; stable across machines and Python versions."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def name_problem(kind: str, name: str) -> str | None:
    """Why ``name`` breaks the naming rule for ``kind``, or None when it is valid."""
    pattern, rule = AZURE_NAME_RULES[kind]
    if re.fullmatch(pattern, name):
        return None
    return f"derived {kind.replace('_', ' ')} name {name!r} is invalid: must be {rule}"


@dataclass(frozen=True, kw_only=True)
class EnvNames:
    """Every name one team-environment uses, in Azure and in Databricks."""

    stem: str
    resource_group: str
    managed_resource_group: str
    virtual_network: str
    host_subnet: str
    container_subnet: str
    network_security_group: str
    databricks_workspace: str
    access_connector: str
    storage_account: str
    key_vault: str
    log_analytics_workspace: str
    budget: str
    catalog: str
    platform_stack: str
    workspace_stack: str
    account_stack: str
    """Databricks account-level resources (databricks_mws_*): only AWS team-envs have this stack."""

    def workspace_resource_id(self, subscription_id: str) -> str:
        """ARM ID of the env's Databricks workspace (what databricks-sdk's azure_workspace_resource_id takes)."""
        return azure_workspace_resource_id(subscription_id, self.resource_group, self.databricks_workspace)

    def problems(self) -> list[str]:
        checks = {
            "resource_group": [self.resource_group, self.managed_resource_group],
            "virtual_network": [self.virtual_network],
            "subnet": [self.host_subnet, self.container_subnet],
            "network_security_group": [self.network_security_group],
            "databricks_workspace": [self.databricks_workspace],
            "access_connector": [self.access_connector],
            "storage_account": [self.storage_account],
            "key_vault": [self.key_vault],
            "log_analytics_workspace": [self.log_analytics_workspace],
            "budget": [self.budget],
            "uc_identifier": [self.catalog],
        }
        return [p for kind, names in checks.items() for n in names if (p := name_problem(kind, n))]


def azure_workspace_resource_id(subscription_id: str, resource_group: str, workspace: str) -> str:
    return (
        f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.Databricks/workspaces/{workspace}"
    )


def env_names(*, prefix: str, team: str, env: str) -> EnvNames:
    """Derive the names of one team-environment. ``env`` is dev/staging/prod or an ephemeral env's name."""
    stem = f"{prefix}-{team}-{env}"
    digest = stable_hash(prefix, team, env)
    compact = re.sub(r"[^a-z0-9]", "", f"{prefix}{team}{env}".lower())
    return EnvNames(
        stem=stem,
        resource_group=f"rg-{stem}",
        managed_resource_group=f"rg-{stem}-dbw-managed",
        virtual_network=f"vnet-{stem}",
        host_subnet=f"snet-{stem}-host",
        container_subnet=f"snet-{stem}-container",
        network_security_group=f"nsg-{stem}-dbw",
        databricks_workspace=f"dbw-{stem}",
        access_connector=f"dbac-{stem}",
        # st + up to 16 readable chars + 6 hash chars = at most 24.
        storage_account=f"st{compact[:16]}{digest}",
        # kv- + up to 16 readable chars + - + 4 hash chars = at most 24.
        key_vault=f"kv-{compact[:16]}-{digest[:4]}",
        log_analytics_workspace=f"log-{stem}",
        budget=f"budget-{stem}",
        catalog=re.sub(r"[^a-z0-9_]", "_", f"{prefix}_{team}_{env}".lower()),
        platform_stack=f"{team}-{env}-platform",
        workspace_stack=f"{team}-{env}-workspace",
        account_stack=f"{team}-{env}-account",
    )
