"""Rules for every cloud: data protection on prod, no credentials in providers, no secret values."""

from __future__ import annotations

from typing import Any

from infra.aspects.policy.engine import Rule, RuleContext, RulePack, first_block, reference
from infra.config.security_analysis_tool import SAT_CONFIG_KEYS, SAT_SCOPE, runs_sat


def _prevent_destroy_matches_env(config: dict[str, Any], ctx: RuleContext) -> str | None:
    protected = bool(first_block(config.get("lifecycle")).get("prevent_destroy"))
    wanted = ctx.team_env.settings.prevent_destroy and not ctx.team_env.is_ephemeral
    if protected == wanted:
        return None
    if wanted:
        return "data resource of an env with prevent_destroy lacks lifecycle.prevent_destroy"
    return "data resource has lifecycle.prevent_destroy in an env that must be destroyable"


def _no_secret_values(config: dict[str, Any], ctx: RuleContext) -> str | None:
    if _sat_configuration(config, ctx):
        return None
    return (
        "secret values must not pass through Terraform (they land in config and state); seed them in Key Vault "
        "out of band and read them through the Key Vault-backed secret scope"
    )


def _sat_configuration(config: dict[str, Any], ctx: RuleContext) -> bool:
    """The Security Analysis Tool reads its configuration (IDs, names) from the same scope as its secret: those keys
    may be declared, in the env that runs SAT, in the `sat_scope` this stack declares. Its credential keys never
    (infra/config/security_analysis_tool.py, SAT_CONFIG_KEYS)."""
    team = ctx.team_env.team
    if ctx.team_env.is_ephemeral or not runs_sat(ctx.team_env.platform, team, ctx.team_env.env):
        return False
    scopes = {
        reference(block.address, "name")
        for block in ctx.stack.resources("databricks_secret_scope")
        if block.config.get("name") == SAT_SCOPE
    }
    return config.get("key") in SAT_CONFIG_KEYS and config.get("scope") in scopes


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
    "access_key",
    "secret_key",
)


def _provider_without_credentials(config: dict[str, Any], _: RuleContext) -> str | None:
    present = [key for key in PROVIDER_CREDENTIALS if config.get(key) not in (None, "")]
    if not present:
        return None
    return (
        f"provider configuration carries credentials ({', '.join(present)}); authenticate through the Azure "
        "CLI, ARM_*/DATABRICKS_* environment variables or OIDC instead"
    )


COMMON = RulePack(
    "common",
    (
        Rule(
            "PLAT-DATA-1",
            (
                "azurerm_storage_account",
                "azurerm_storage_container",
                "azurerm_key_vault",
                "azurerm_key_vault_key",
                "aws_s3_bucket",
                "aws_kms_key",
                "databricks_catalog",
                "databricks_schema",
                "databricks_volume",
                "databricks_registered_model",
            ),
            "prod data resources carry prevent_destroy; ephemeral ones never do",
            _prevent_destroy_matches_env,
        ),
        Rule(
            "PLAT-SEC-1",
            ("azurerm", "aws", "databricks"),
            "provider configurations carry no credentials (CLI, environment or OIDC auth)",
            _provider_without_credentials,
        ),
        Rule(
            "PLAT-SEC-2",
            ("databricks_secret", "databricks_service_principal_secret", "azurerm_key_vault_secret"),
            "no secret values created through Terraform (SAT's configuration keys excepted, never its secret)",
            _no_secret_values,
        ),
    ),
)
