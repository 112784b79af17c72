"""The security baseline as synth-time rules (after cdk-nag): each rule has a stable ID, and a violation fails
synth unless the resource carries a suppression for that rule with a written reason.

Rules read the resource arguments exactly as they are synthesized (the stack's configuration as it is written
to cdk.tf.json), so what is checked is what deploys. Provider blocks are checked too (no credentials), and rules
that relate two resources (a diagnostic setting to its target, a role assignment to the access connector) read
the other resources of the same stack. docs/security.md lists every rule and how to suppress one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from constructs import IConstruct

from infra.aspects.stack_aspects import Suppression, SynthesizedBlock, SynthesizedStack, aspect_stack_of
from infra.config import TeamEnv

SUPPRESSION_METADATA = "platform:policy-suppression"
# Where a resource's suppressions are written in cdk.tf.json: Terraform ignores "//" keys, and `platform scan`
# lists them from the files it scans, so the list matches what is deployed even with --skip-synth.
SUPPRESSIONS_JSON_KEY = "policy_suppressions"
MIN_REASON_LENGTH = 15


@dataclass(frozen=True)
class RuleContext:
    """What a rule may need beyond the resource's own arguments."""

    team_env: TeamEnv
    address: str
    """``<type>.<logical id>``: how other resources of the stack reference this one (``${<address>.id}``)."""
    stack: SynthesizedStack
    """The whole stack, for rules that relate two resources (a diagnostic setting to its target)."""


Check = Callable[[dict[str, Any], RuleContext], str | None]


@dataclass(frozen=True)
class Rule:
    id: str
    resource_types: tuple[str, ...]
    """Terraform resource types (or provider names, for provider rules) the rule applies to."""
    description: str
    check: Check
    """Returns what is wrong with the resource config, or None when it complies."""


def reference(address: str, attribute: str = "id") -> str:
    """The interpolation cdktf writes for a reference to ``address``'s ``attribute``."""
    return "${" + f"{address}.{attribute}" + "}"


def _first(block: Any) -> dict[str, Any]:
    """Terraform nested blocks synthesize as a dict or a one-element list."""
    if isinstance(block, list):
        return block[0] if block and isinstance(block[0], dict) else {}
    return block if isinstance(block, dict) else {}


def _expect(config: dict[str, Any], key: str, wanted: Any, what: str) -> str | None:
    return None if config.get(key) == wanted else f"{what} ({key} is {config.get(key)!r}, must be {wanted!r})"


def _prevent_destroy_matches_env(config: dict[str, Any], ctx: RuleContext) -> str | None:
    protected = bool(_first(config.get("lifecycle")).get("prevent_destroy"))
    wanted = ctx.team_env.settings.prevent_destroy and not ctx.team_env.is_ephemeral
    if protected == wanted:
        return None
    if wanted:
        return "data resource of an env with prevent_destroy lacks lifecycle.prevent_destroy"
    return "data resource has lifecycle.prevent_destroy in an env that must be destroyable"


def _vnet_injected(config: dict[str, Any], _: RuleContext) -> str | None:
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


def _storage_network_denied(config: dict[str, Any], _: RuleContext) -> str | None:
    rules = _first(config.get("network_rules"))
    if rules.get("default_action") != "Deny":
        return "storage firewall must deny by default (network_rules.default_action = Deny)"
    if not rules.get("private_link_access"):
        return (
            "storage firewall must admit the Databricks access connector (network_rules.private_link_access)"
        )
    return None


def _soft_delete(config: dict[str, Any], _: RuleContext) -> str | None:
    blob = _first(config.get("blob_properties"))
    missing = [
        key for key in ("delete_retention_policy", "container_delete_retention_policy") if not blob.get(key)
    ]
    return (
        f"blob and container soft delete must be on (missing blob_properties.{missing[0]})"
        if missing
        else None
    )


def _purge_protection(config: dict[str, Any], ctx: RuleContext) -> str | None:
    wanted = not ctx.team_env.is_ephemeral
    if bool(config.get("purge_protection_enabled")) == wanted:
        return None
    return (
        "purge protection must be on outside ephemeral envs"
        if wanted
        else ("purge protection must be off in ephemeral envs, or they cannot be torn down")
    )


def _kv_network_denied(config: dict[str, Any], _: RuleContext) -> str | None:
    return _expect(
        _first(config.get("network_acls")),
        "default_action",
        "Deny",
        "key vault firewall must deny by default",
    )


def _job_runs_as_service_principal(config: dict[str, Any], _: RuleContext) -> str | None:
    run_as = _first(config.get("run_as"))
    return None if run_as.get("service_principal_name") else "job must run as a service principal (run_as)"


def _job_clusters_governed(config: dict[str, Any], _: RuleContext) -> str | None:
    clusters = config.get("job_cluster") or []
    ungoverned = [
        c.get("job_cluster_key") for c in clusters if not _first(c.get("new_cluster")).get("policy_id")
    ]
    return f"job clusters {ungoverned} have no cluster policy" if ungoverned else None


def _cluster_governed(config: dict[str, Any], _: RuleContext) -> str | None:
    return None if config.get("policy_id") else "cluster has no cluster policy (policy_id)"


def _never(config: dict[str, Any], _: RuleContext) -> str | None:
    return "personal access tokens are not allowed; use service principals and Entra ID"


def _tokens_match_config(config: dict[str, Any], ctx: RuleContext) -> str | None:
    allowed = ctx.team_env.platform.personal_access_tokens
    wanted = "true" if allowed else "false"
    actual = (config.get("custom_config") or {}).get("enableTokensConfig")
    if actual == wanted:
        return None
    return f"workspace setting enableTokensConfig is {actual!r}; platform.personal_access_tokens asks for {wanted!r}"


def _no_secret_values(config: dict[str, Any], _: RuleContext) -> str | None:
    return (
        "secret values must not pass through Terraform (they land in config and state); seed them in Key Vault "
        "out of band and read them through the Key Vault-backed secret scope"
    )


def _front_end_as_configured(config: dict[str, Any], ctx: RuleContext) -> str | None:
    public = ctx.team_env.settings.public_network_access
    if config.get("public_network_access_enabled") is not public:
        return (
            f"front-end public access must follow the env's public_network_access ({public}); "
            f"public_network_access_enabled is {config.get('public_network_access_enabled')!r}"
        )
    # Azure rejects AllRules without public access; NoAzureDatabricksRules needs the private endpoint path.
    wanted = "AllRules" if public else "NoAzureDatabricksRules"
    return _expect(
        config, "network_security_group_rules_required", wanted, "NSG rule mode must match the front end"
    )


def _trusted_services_bypass(config: dict[str, Any], _: RuleContext) -> str | None:
    bypass = _first(config.get("network_rules")).get("bypass") or []
    if "AzureServices" in bypass:
        return None
    return f"storage firewall must let trusted Azure services through (network_rules.bypass is {bypass!r})"


GEO_REDUNDANT = ("GRS", "RAGRS", "GZRS", "RAGZRS")


def _prod_geo_redundant(config: dict[str, Any], ctx: RuleContext) -> str | None:
    if ctx.team_env.kind != "prod" or config.get("account_replication_type") in GEO_REDUNDANT:
        return None
    return (
        f"prod lake storage must be geo-redundant ({'/'.join(GEO_REDUNDANT)}); "
        f"account_replication_type is {config.get('account_replication_type')!r}"
    )


MAX_SOFT_DELETE_DAYS = 90


def _kv_soft_delete(config: dict[str, Any], ctx: RuleContext) -> str | None:
    days = config.get("soft_delete_retention_days")
    if not isinstance(days, int | float) or not 7 <= days <= MAX_SOFT_DELETE_DAYS:
        return f"soft_delete_retention_days must be set explicitly to 7-90 (is {days!r})"
    if not ctx.team_env.is_ephemeral and days != MAX_SOFT_DELETE_DAYS:
        return f"soft delete must keep deleted secrets {MAX_SOFT_DELETE_DAYS} days outside ephemeral envs (is {days})"
    return None


# Storage logs exist per service: the lake is read and written through the blob (and DFS) endpoint, whose
# requests are logged by the blob service. Other types log at the resource itself.
DIAGNOSTIC_TARGET_SUFFIX = {"azurerm_storage_account": "/blobServices/default"}


def _diagnostics_to_log_analytics(config: dict[str, Any], ctx: RuleContext) -> str | None:
    resource_type = ctx.address.split(".", 1)[0]
    target = reference(ctx.address) + DIAGNOSTIC_TARGET_SUFFIX.get(resource_type, "")
    for setting in (block.config for block in ctx.stack.resources("azurerm_monitor_diagnostic_setting")):
        if (
            setting.get("target_resource_id") == target
            and setting.get("log_analytics_workspace_id")
            and setting.get("enabled_log")
        ):
            return None
    return f"no diagnostic setting sends the logs of {target} to a Log Analytics workspace"


def _log_analytics_entra_only(config: dict[str, Any], _: RuleContext) -> str | None:
    return _expect(
        config,
        "local_authentication_enabled",
        False,
        "Log Analytics must accept Entra ID only (diagnostic settings do not use the workspace keys)",
    )


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


# Highest level each object type allows; the deployer must keep it, or the next apply locks it out.
_DEPLOYER_LEVELS = {"cluster_policy_id": ("CAN_USE",)}
_MANAGE_LEVELS = ("CAN_MANAGE", "IS_OWNER")


def _deployer_keeps_access(config: dict[str, Any], ctx: RuleContext) -> str | None:
    deployer = ctx.team_env.platform.deployer_principal
    entries = config.get("access_control")
    if not isinstance(entries, list):
        return "access_control must be a literal list so the deployer's entry can be checked"
    levels = sorted(
        str(entry.get("permission_level"))
        for entry in entries
        if isinstance(entry, dict)
        and deployer in (entry.get("service_principal_name"), entry.get("user_name"), entry.get("group_name"))
    )
    wanted = next((lv for key, lv in _DEPLOYER_LEVELS.items() if config.get(key)), _MANAGE_LEVELS)
    if set(levels) & set(wanted):
        return None
    return (
        f"authoritative permissions must keep the deployer {deployer!r} at {' or '.join(wanted)} "
        f"(it has {', '.join(levels) or 'no entry'})"
    )


PROVIDER_CREDENTIALS = (
    "token",
    "password",
    "client_secret",
    "azure_client_secret",
    "client_certificate",
    "client_certificate_password",
    "oidc_token",
    "oidc_request_token",
    "actions_id_token_request_token",
    "google_credentials",
)


def _provider_without_credentials(config: dict[str, Any], _: RuleContext) -> str | None:
    present = [key for key in PROVIDER_CREDENTIALS if config.get(key) not in (None, "")]
    if not present:
        return None
    return (
        f"provider configuration carries credentials ({', '.join(present)}); authenticate through the Azure "
        "CLI, ARM_*/DATABRICKS_* environment variables or OIDC instead"
    )


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
        "PLAT-WS-4",
        ("azurerm_databricks_workspace",),
        "front-end public access exactly as the env configures it, with the matching NSG rule mode",
        _front_end_as_configured,
    ),
    Rule(
        "PLAT-WS-5",
        ("azurerm_databricks_workspace",),
        "DBFS root has infrastructure (double) encryption",
        lambda c, _: _expect(
            c, "infrastructure_encryption_enabled", True, "workspace storage needs infrastructure encryption"
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
        "PLAT-ST-9",
        ("azurerm_storage_account",),
        "firewall lets trusted Azure services through (bypass AzureServices)",
        _trusted_services_bypass,
    ),
    Rule(
        "PLAT-ST-10",
        ("azurerm_storage_account",),
        "prod lake storage is geo-redundant",
        _prod_geo_redundant,
    ),
    Rule(
        "PLAT-KV-1",
        ("azurerm_key_vault",),
        "RBAC authorization instead of access policies",
        lambda c, _: _expect(c, "rbac_authorization_enabled", True, "key vault must use RBAC authorization"),
    ),
    Rule("PLAT-KV-2", ("azurerm_key_vault",), "purge protection outside ephemeral envs", _purge_protection),
    Rule("PLAT-KV-3", ("azurerm_key_vault",), "firewall denies by default", _kv_network_denied),
    Rule(
        "PLAT-KV-4",
        ("azurerm_key_vault",),
        "soft delete retention explicit: 90 days outside ephemeral envs",
        _kv_soft_delete,
    ),
    Rule(
        "PLAT-MON-1",
        ("azurerm_databricks_workspace", "azurerm_storage_account", "azurerm_key_vault"),
        "diagnostics go to Log Analytics (storage: its blob service)",
        _diagnostics_to_log_analytics,
    ),
    Rule(
        "PLAT-MON-2",
        ("azurerm_log_analytics_workspace",),
        "Log Analytics accepts Entra ID only (no workspace shared keys)",
        _log_analytics_entra_only,
    ),
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
    Rule(
        "PLAT-DATA-1",
        (
            "azurerm_storage_account",
            "azurerm_storage_container",
            "azurerm_key_vault",
            "databricks_catalog",
            "databricks_schema",
            "databricks_volume",
            "databricks_registered_model",
        ),
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
    Rule(
        "PLAT-DBX-5",
        ("databricks_permissions",),
        "authoritative permissions keep the deploying principal at the object's top level",
        _deployer_keeps_access,
    ),
    Rule(
        "PLAT-DBX-6",
        ("databricks_workspace_conf",),
        "personal access tokens are disabled in the workspace unless the config allows them",
        _tokens_match_config,
    ),
    Rule(
        "PLAT-SEC-1",
        ("azurerm", "databricks"),
        "provider configurations carry no credentials (CLI, environment or OIDC auth)",
        _provider_without_credentials,
    ),
    Rule(
        "PLAT-SEC-2",
        ("databricks_secret", "databricks_service_principal_secret", "azurerm_key_vault_secret"),
        "no secret values created through Terraform",
        _no_secret_values,
    ),
)
RULES_BY_ID = {rule.id: rule for rule in RULES}


def suppress(construct: IConstruct, *, rule_id: str, reason: str) -> None:
    """Exempt ``construct`` (and everything under it) from one rule. The reason is printed by `make scan`."""
    if rule_id not in RULES_BY_ID:
        raise ValueError(f"unknown policy rule {rule_id!r}; known: {', '.join(RULES_BY_ID)}")
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(
            f"suppression of {rule_id} needs a reason of at least {MIN_REASON_LENGTH} characters"
        )
    stack = aspect_stack_of(construct)
    if stack is None:
        raise ValueError("policy suppressions apply to constructs of an AspectStack, where the policy runs")
    stack.add_suppression(Suppression(rule_id, reason.strip(), construct.node.path))
    # The construct metadata is the record that tools walking the tree read (all_suppressions).
    construct.node.add_metadata(SUPPRESSION_METADATA, {"rule": rule_id, "reason": reason.strip()})


def all_suppressions(root: IConstruct) -> list[Suppression]:
    """Every suppression in the tree, for review (`make scan`)."""
    return [
        Suppression(entry.data["rule"], entry.data["reason"], node.node.path)
        for node in root.node.find_all()
        for entry in node.node.metadata
        if entry.type == SUPPRESSION_METADATA
    ]


class PolicyViolations(RuntimeError):
    """Raised while a stack is synthesized; one ``[<construct path>] <rule id>: <problem>`` line per violation."""

    def __init__(self, stack: str, violations: list[str]):
        self.violations = violations
        super().__init__(f"policy violations in stack {stack}:\n" + "\n".join(violations))


class SecurityBaselineAspect:
    """Checks every resource and provider of a stack against RULES and fails the synth on a violation.
    Suppressions that exempt a resource from an applicable rule are written next to it in cdk.tf.json
    (``"//": {"policy_suppressions": [...]}``), where `platform scan` lists them."""

    def __init__(self, *, team_env: TeamEnv, rules: tuple[Rule, ...] = RULES):
        self.team_env = team_env
        self._rules_by_type: dict[str, list[Rule]] = {}
        for rule in rules:
            for resource_type in rule.resource_types:
                self._rules_by_type.setdefault(resource_type, []).append(rule)

    def visit(self, stack: SynthesizedStack) -> None:
        violations = [
            *(v for block in stack.resources() for v in self._check(block, stack, is_resource=True)),
            *(v for block in stack.providers() for v in self._check(block, stack, is_resource=False)),
        ]
        if violations:
            raise PolicyViolations(stack.name, violations)

    def _check(self, block: SynthesizedBlock, stack: SynthesizedStack, *, is_resource: bool) -> list[str]:
        applicable = self._rules_by_type.get(block.type)
        if not applicable:
            return []
        rule_ids = {rule.id for rule in applicable}
        suppressions = [s for s in stack.suppressions_of(block.path) if s.rule_id in rule_ids]
        if suppressions and is_resource:
            block.config.setdefault("//", {})[SUPPRESSIONS_JSON_KEY] = [
                {"rule": s.rule_id, "reason": s.reason, "scope": s.path} for s in suppressions
            ]
        suppressed = {s.rule_id for s in suppressions}
        ctx = RuleContext(team_env=self.team_env, address=block.address, stack=stack)
        return [
            f"[{block.path}] {rule.id}: {problem}"
            for rule in applicable
            if rule.id not in suppressed and (problem := rule.check(block.config, ctx))
        ]
