"""The security baseline as synth-time rules (after cdk-nag): each rule has a stable ID, and a violation fails
synth unless the resource carries a suppression for that rule with a written reason.

Rules read the resource arguments exactly as they will be synthesized, so what is checked is what deploys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jsii
from cdktf import IAspect, TerraformResource
from constructs import IConstruct, IValidation

from infra.aspects._resources import resource_config
from infra.config import TeamEnv

SUPPRESSION_METADATA = "platform:policy-suppression"
MIN_REASON_LENGTH = 15

Check = Callable[[dict[str, Any], TeamEnv], str | None]


@dataclass(frozen=True)
class Rule:
    id: str
    resource_types: tuple[str, ...]
    description: str
    check: Check
    """Returns what is wrong with the resource config, or None when it complies."""


def _first(block: Any) -> dict[str, Any]:
    """Terraform nested blocks synthesize as a dict or a one-element list."""
    if isinstance(block, list):
        return block[0] if block and isinstance(block[0], dict) else {}
    return block if isinstance(block, dict) else {}


def _expect(config: dict[str, Any], key: str, wanted: Any, what: str) -> str | None:
    return None if config.get(key) == wanted else f"{what} ({key} is {config.get(key)!r}, must be {wanted!r})"


def _prevent_destroy_matches_env(config: dict[str, Any], team_env: TeamEnv) -> str | None:
    protected = bool(_first(config.get("lifecycle")).get("prevent_destroy"))
    wanted = team_env.settings.prevent_destroy and not team_env.is_ephemeral
    if protected == wanted:
        return None
    if wanted:
        return "data resource of an env with prevent_destroy lacks lifecycle.prevent_destroy"
    return "data resource has lifecycle.prevent_destroy in an env that must be destroyable"


def _vnet_injected(config: dict[str, Any], _: TeamEnv) -> str | None:
    params = _first(config.get("custom_parameters"))
    needed = [
        "virtual_network_id",
        "public_subnet_name",
        "private_subnet_name",
        "public_subnet_network_security_group_association_id",
        "private_subnet_network_security_group_association_id",
    ]
    missing = [key for key in needed if not params.get(key)]
    return f"workspace is not VNet-injected with an NSG (missing {', '.join(missing)})" if missing else None


def _storage_network_denied(config: dict[str, Any], _: TeamEnv) -> str | None:
    rules = _first(config.get("network_rules"))
    if rules.get("default_action") != "Deny":
        return "storage firewall must deny by default (network_rules.default_action = Deny)"
    if not rules.get("private_link_access"):
        return (
            "storage firewall must admit the Databricks access connector (network_rules.private_link_access)"
        )
    return None


def _soft_delete(config: dict[str, Any], _: TeamEnv) -> str | None:
    blob = _first(config.get("blob_properties"))
    missing = [
        key for key in ("delete_retention_policy", "container_delete_retention_policy") if not blob.get(key)
    ]
    return (
        f"blob and container soft delete must be on (missing blob_properties.{missing[0]})"
        if missing
        else None
    )


def _purge_protection(config: dict[str, Any], team_env: TeamEnv) -> str | None:
    wanted = not team_env.is_ephemeral
    if bool(config.get("purge_protection_enabled")) == wanted:
        return None
    return (
        "purge protection must be on outside ephemeral envs"
        if wanted
        else ("purge protection must be off in ephemeral envs, or they cannot be torn down")
    )


def _kv_network_denied(config: dict[str, Any], _: TeamEnv) -> str | None:
    return _expect(
        _first(config.get("network_acls")),
        "default_action",
        "Deny",
        "key vault firewall must deny by default",
    )


def _job_runs_as_service_principal(config: dict[str, Any], _: TeamEnv) -> str | None:
    run_as = _first(config.get("run_as"))
    return None if run_as.get("service_principal_name") else "job must run as a service principal (run_as)"


def _job_clusters_governed(config: dict[str, Any], _: TeamEnv) -> str | None:
    clusters = config.get("job_cluster") or []
    ungoverned = [
        c.get("job_cluster_key") for c in clusters if not _first(c.get("new_cluster")).get("policy_id")
    ]
    return f"job clusters {ungoverned} have no cluster policy" if ungoverned else None


def _cluster_governed(config: dict[str, Any], _: TeamEnv) -> str | None:
    return None if config.get("policy_id") else "cluster has no cluster policy (policy_id)"


def _never(config: dict[str, Any], _: TeamEnv) -> str | None:
    return "personal access tokens are not allowed; use service principals and Entra ID"


RULES: tuple[Rule, ...] = (
    Rule(
        "PLAT-WS-1",
        ("azurerm_databricks_workspace",),
        "workspace uses the premium SKU",
        lambda c, _: _expect(c, "sku", "premium", "workspace must be premium (Unity Catalog, ACLs)"),
    ),
    Rule(
        "PLAT-WS-2",
        ("azurerm_databricks_workspace",),
        "workspace is VNet-injected with an NSG",
        _vnet_injected,
    ),
    Rule(
        "PLAT-WS-3",
        ("azurerm_databricks_workspace",),
        "clusters get no public IP (secure cluster connectivity)",
        lambda c, _: _expect(
            _first(c.get("custom_parameters")), "no_public_ip", True, "clusters must not get public IPs"
        ),
    ),
    Rule(
        "PLAT-ST-1",
        ("azurerm_storage_account",),
        "hierarchical namespace (ADLS Gen2)",
        lambda c, _: _expect(c, "is_hns_enabled", True, "lake storage needs a hierarchical namespace"),
    ),
    Rule(
        "PLAT-ST-2",
        ("azurerm_storage_account",),
        "TLS 1.2 minimum",
        lambda c, _: _expect(c, "min_tls_version", "TLS1_2", "storage must require TLS 1.2"),
    ),
    Rule(
        "PLAT-ST-3",
        ("azurerm_storage_account",),
        "HTTPS only",
        lambda c, _: _expect(c, "https_traffic_only_enabled", True, "storage must refuse plain HTTP"),
    ),
    Rule(
        "PLAT-ST-4",
        ("azurerm_storage_account",),
        "no anonymous blob access",
        lambda c, _: _expect(
            c, "allow_nested_items_to_be_public", False, "storage must not allow anonymous access"
        ),
    ),
    Rule(
        "PLAT-ST-5",
        ("azurerm_storage_account",),
        "shared-key access off (Entra ID only)",
        lambda c, _: _expect(c, "shared_access_key_enabled", False, "storage must disable shared keys"),
    ),
    Rule(
        "PLAT-ST-6",
        ("azurerm_storage_account",),
        "firewall denies by default, admits the access connector",
        _storage_network_denied,
    ),
    Rule(
        "PLAT-ST-7",
        ("azurerm_storage_account",),
        "infrastructure (double) encryption",
        lambda c, _: _expect(
            c, "infrastructure_encryption_enabled", True, "storage needs infrastructure encryption"
        ),
    ),
    Rule("PLAT-ST-8", ("azurerm_storage_account",), "blob and container soft delete", _soft_delete),
    Rule(
        "PLAT-KV-1",
        ("azurerm_key_vault",),
        "RBAC authorization instead of access policies",
        lambda c, _: _expect(c, "rbac_authorization_enabled", True, "key vault must use RBAC authorization"),
    ),
    Rule("PLAT-KV-2", ("azurerm_key_vault",), "purge protection outside ephemeral envs", _purge_protection),
    Rule("PLAT-KV-3", ("azurerm_key_vault",), "firewall denies by default", _kv_network_denied),
    Rule(
        "PLAT-DATA-1",
        ("azurerm_storage_account", "azurerm_key_vault", "databricks_catalog"),
        "prod data resources carry prevent_destroy; ephemeral ones never do",
        _prevent_destroy_matches_env,
    ),
    Rule("PLAT-DBX-1", ("databricks_token", "databricks_obo_token"), "no personal access tokens", _never),
    Rule(
        "PLAT-DBX-2", ("databricks_job",), "jobs run as a service principal", _job_runs_as_service_principal
    ),
    Rule(
        "PLAT-DBX-3",
        ("databricks_job",),
        "job clusters are governed by a cluster policy",
        _job_clusters_governed,
    ),
    Rule(
        "PLAT-DBX-4",
        ("databricks_cluster",),
        "all-purpose clusters are governed by a cluster policy",
        _cluster_governed,
    ),
)
RULES_BY_ID = {rule.id: rule for rule in RULES}


@dataclass(frozen=True)
class Suppression:
    rule_id: str
    reason: str
    path: str


def suppress(construct: IConstruct, *, rule_id: str, reason: str) -> None:
    """Exempt ``construct`` (and everything under it) from one rule. The reason is printed by `make scan`."""
    if rule_id not in RULES_BY_ID:
        raise ValueError(f"unknown policy rule {rule_id!r}; known: {', '.join(RULES_BY_ID)}")
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(
            f"suppression of {rule_id} needs a reason of at least {MIN_REASON_LENGTH} characters"
        )
    construct.node.add_metadata(SUPPRESSION_METADATA, {"rule": rule_id, "reason": reason.strip()})


def suppressions_of(construct: IConstruct) -> Iterator[Suppression]:
    """Suppressions on the construct and on every scope above it."""
    for scope in construct.node.scopes:
        for entry in scope.node.metadata:
            if entry.type == SUPPRESSION_METADATA:
                yield Suppression(entry.data["rule"], entry.data["reason"], scope.node.path)


def all_suppressions(root: IConstruct) -> list[Suppression]:
    """Every suppression in the tree, for review (`make scan`)."""
    return [
        Suppression(entry.data["rule"], entry.data["reason"], node.node.path)
        for node in root.node.find_all()
        for entry in node.node.metadata
        if entry.type == SUPPRESSION_METADATA
    ]


@jsii.implements(IValidation)
class _Violations:
    def __init__(self, messages: list[str]):
        self.messages = messages

    def validate(self) -> list[str]:
        return self.messages


@jsii.implements(IAspect)
class SecurityBaselineAspect:
    """Checks every resource against RULES; a violation becomes a validation error that fails synth."""

    def __init__(self, *, team_env: TeamEnv, rules: tuple[Rule, ...] = RULES):
        self.team_env = team_env
        self.rules = rules

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, TerraformResource):
            return
        violations = self.violations(node)
        if violations:
            node.node.add_validation(_Violations(violations))

    def violations(self, resource: TerraformResource) -> list[str]:
        applicable = [r for r in self.rules if resource.terraform_resource_type in r.resource_types]
        if not applicable:
            return []
        suppressed = {s.rule_id for s in suppressions_of(resource)}
        config = resource_config(resource)
        return [
            f"{rule.id}: {problem}"
            for rule in applicable
            if rule.id not in suppressed and (problem := rule.check(config, self.team_env))
        ]
